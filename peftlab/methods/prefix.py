"""Prefix tuning through peft: trainable key/value vectors prepended in every attention layer.

Where prompt tuning learns vectors for the input layer only, prefix tuning gives each layer its own
``num_virtual_tokens`` keys and values (optionally produced by an MLP reparameterisation,
``projection=True``, as in Li & Liang 2021).

In an encoder-decoder model (T5) peft passes the prefixes as the decoder's cache: they reach the
decoder's self-attention and its cross-attention, never the encoder's self-attention, so the
encoder's representation of the dialogue is exactly the frozen model's (a test checks this).

Initialisation. peft starts the prefixes as standard-normal vectors: keys and values no layer has
ever seen, which on a small pretrained model wrecks the output before training begins. With
``init="text"`` (causal models, no projection) each layer's prefix starts as the keys and values the
frozen model itself computes for ``init_text``: at step 0 the model behaves exactly as if that text
were written before the input (a test checks this), and training moves on from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from peftlab.methods import _peft
from peftlab.methods.prompt import init_token_ids
from peftlab.models import InputKind

DEFAULT_LR = 1e-2
INPUTS = InputKind.PREFIX
save = _peft.save  # the prefixes (or their MLP) only
reload = _peft.reload


@dataclass
class Config(_peft.VirtualTokens):
    """``num_virtual_tokens`` keys and values per layer; ``init="text"`` needs a causal model and
    no projection (otherwise peft's random init is kept)."""

    projection: bool = field(default=False, metadata={"help": "reparameterise through an MLP"})
    projection_hidden: int = field(default=256, metadata={"help": "hidden size of that MLP"})


def apply(model, config: Config, tokenizer=None):
    """Wrap ``model`` with trainable per-layer prefixes."""
    from peft import PrefixTuningConfig

    base = _peft.base_model(model)
    pconf = PrefixTuningConfig(task_type=_peft.task_type(base),
                               num_virtual_tokens=config.num_virtual_tokens,
                               prefix_projection=config.projection,
                               encoder_hidden_size=config.projection_hidden)
    peft_model = _peft.wrap(model, pconf, config.adapter_name)
    causal = not base.config.is_encoder_decoder
    if config.init == "text" and causal and not config.projection and tokenizer is not None:
        _init_from_text(peft_model, base, tokenizer, config)
    return peft_model


def _init_from_text(peft_model, base, tokenizer, config: Config) -> None:
    """Set each layer's prefix to the keys/values the frozen model computes for ``init_text``."""
    import torch

    ids = init_token_ids(tokenizer, config.init_text, config.num_virtual_tokens)
    table = peft_model.prompt_encoder[config.adapter_name].embedding.weight
    with torch.no_grad():
        cache = base(input_ids=torch.tensor([ids], device=table.device), use_cache=True).past_key_values
        # peft reads a row as (num_layers * 2, heads, head_dim): key then value of each layer
        parts = []
        for layer in cache.layers:
            parts += [layer.keys[0].transpose(0, 1), layer.values[0].transpose(0, 1)]
        table.copy_(torch.stack(parts, dim=1).reshape(table.shape))
