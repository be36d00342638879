"""Prompt tuning through peft: n trainable virtual-token embeddings prepended to the input.

``init="random"`` starts them from random vectors; ``init="text"`` starts them from the embeddings of
the tokens of ``init_text``, repeated or cut to ``num_virtual_tokens`` (as peft's TEXT init does). The
init is done here from the model's own tokenizer, so it also works for models that were never
saved under a name (peft's TEXT init reloads a tokenizer by name).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from peftlab.methods import _peft
from peftlab.models import InputKind

DEFAULT_LR = 3e-2  # a few thousand numbers have to move the whole model's behaviour
INPUTS = InputKind.SOFT_PROMPT
save = _peft.save  # the soft prompt only: kilobytes
reload = _peft.reload


@dataclass
class Config(_peft.VirtualTokens):
    """A soft prompt of ``num_virtual_tokens`` embeddings before the input."""

    init_seed: int = field(default=0, metadata={
        "help": "seed of the random init's draw (init='random'); sweeps set it per seed"})


def _cycled(ids: list[int], n: int) -> list[int]:
    """``ids`` repeated or cut to exactly ``n``."""
    return (list(ids) * math.ceil(n / len(ids)))[:n]


def init_token_ids(tokenizer, text: str, n: int) -> list[int]:
    """Token ids of ``text`` repeated or cut to exactly ``n`` (the text init's source)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ValueError(f"init_text {text!r} has no tokens")
    return _cycled(ids, n)


def text_init(embedding, token_ids: list[int], n: int):
    """The text init's starting soft prompt: the embeddings of ``token_ids`` repeated or cut to
    ``n`` rows, shape ``(n, hidden)``, a detached copy (lab 2's exercise 9; its notebook falls back
    to this while the exercise is blank).

    Args:
        embedding: the model's input embedding (``nn.Embedding``).
        token_ids: at least one token id.
        n: rows wanted.
    """
    import torch

    if not token_ids:
        raise ValueError("text_init needs at least one token id")
    with torch.no_grad():
        return embedding.weight[_cycled(token_ids, n)].detach().clone()


def apply(model, config: Config, tokenizer=None):
    """Wrap ``model`` with a soft prompt (random or text-initialised)."""
    from peft import PromptTuningConfig, PromptTuningInit

    base = _peft.base_model(model)
    pconf = PromptTuningConfig(task_type=_peft.task_type(base),
                               num_virtual_tokens=config.num_virtual_tokens,
                               prompt_tuning_init=PromptTuningInit.RANDOM)
    peft_model = _peft.wrap(model, pconf, config.adapter_name)
    if config.init == "text":
        if tokenizer is None:
            raise ValueError("text init needs the tokenizer: pass a LabModel to apply_method")
        _init_from_text(peft_model, base, tokenizer, config)
    else:
        _init_at_embedding_scale(peft_model, base, config, seed=config.init_seed)
    return peft_model


def _init_at_embedding_scale(peft_model, base, config: Config, seed: int = 0) -> None:
    """Draw the virtual tokens from a normal with the token embeddings' own standard deviation.

    peft's random init is ``nn.Embedding``'s N(0, 1): SmolLM2-135M's token embeddings have a
    standard deviation of 0.136 (measured), so its entries would be ~7x larger than any real
    token's, and a "random vs text" comparison would measure the scale, not the starting point.
    """
    import torch

    table = peft_model.prompt_encoder[config.adapter_name].embedding.weight
    scale = base.get_input_embeddings().weight.detach().float().std().item()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        values = torch.randn(table.shape, generator=generator) * scale
        table.copy_(values.to(table.dtype))


def _init_from_text(peft_model, base, tokenizer, config: Config) -> None:
    """Set the virtual tokens to the embeddings of ``init_text``'s tokens."""
    import torch

    table = peft_model.prompt_encoder[config.adapter_name].embedding.weight
    # seq2seq models hold one row per virtual token per transformer submodule
    ids = init_token_ids(tokenizer, config.init_text, table.shape[0])
    with torch.no_grad():
        table.copy_(text_init(base.get_input_embeddings(), ids, table.shape[0]))


def soft_prompt(peft_model):
    """The active adapter's virtual-token embeddings, shape (num_virtual_tokens, hidden).

    (An encoder-decoder model keeps a second block of rows that peft does not use for the encoder's
    input; only the first ``num_virtual_tokens`` rows are prepended.)
    """
    n = peft_model.active_peft_config.num_virtual_tokens
    return peft_model.get_prompt(batch_size=1)[0][:n].detach()
