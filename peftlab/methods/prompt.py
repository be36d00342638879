"""Prompt tuning through peft: n trainable virtual-token embeddings prepended to the input.

``init="random"`` starts them from random vectors; ``init="text"`` starts them from the embeddings of
the tokens of ``init_text``, repeated or cut to ``num_virtual_tokens`` (as peft's TEXT init does). The
init is done here from the model's own tokenizer, so it also works for models that were never
saved under a name (peft's TEXT init reloads a tokenizer by name).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Config:
    num_virtual_tokens: int = field(default=20, metadata={"help": "length of the soft prompt"})
    init: str = field(default="text", metadata={"help": "'random' or 'text'"})
    init_text: str = field(default="Summarize the following conversation.",
                           metadata={"help": "text whose token embeddings start the soft prompt"})
    adapter_name: str = field(default="default", metadata={"help": "name of this soft prompt"})

    def __post_init__(self):
        if self.num_virtual_tokens < 1:
            raise ValueError(f"num_virtual_tokens must be >= 1, got {self.num_virtual_tokens}")
        if self.init not in ("random", "text"):
            raise ValueError(f"init must be 'random' or 'text', got {self.init!r}")


def init_token_ids(tokenizer, text: str, n: int) -> list[int]:
    """Token ids of ``text`` repeated or cut to exactly ``n`` (the text init's source)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ValueError(f"init_text {text!r} has no tokens")
    return (ids * math.ceil(n / len(ids)))[:n]


def apply(model, config: Config, tokenizer=None):
    """Wrap ``model`` with a soft prompt (random or text-initialised)."""
    import torch
    from peft import PeftModel, PromptTuningConfig, PromptTuningInit, get_peft_model

    from peftlab.methods import task_type

    base = model.get_base_model() if isinstance(model, PeftModel) else model
    pconf = PromptTuningConfig(task_type=task_type(base), num_virtual_tokens=config.num_virtual_tokens,
                               prompt_tuning_init=PromptTuningInit.RANDOM)
    if isinstance(model, PeftModel):
        model.add_adapter(config.adapter_name, pconf)
        model.set_adapter(config.adapter_name)
        peft_model = model
    else:
        peft_model = get_peft_model(model, pconf, adapter_name=config.adapter_name)
    if config.init == "text":
        if tokenizer is None:
            raise ValueError("text init needs the tokenizer: pass a LabModel to apply_method")
        table = peft_model.prompt_encoder[config.adapter_name].embedding.weight
        # seq2seq models hold one row per virtual token per transformer submodule
        ids = init_token_ids(tokenizer, config.init_text, table.shape[0])
        embed = base.get_input_embeddings()
        with torch.no_grad():
            table.copy_(embed(torch.tensor(ids, device=embed.weight.device)))
    return peft_model


def soft_prompt(peft_model):
    """The active adapter's virtual-token embeddings, shape (num_virtual_tokens, hidden).

    (An encoder-decoder model keeps a second block of rows that peft does not use for the encoder's
    input; only the first ``num_virtual_tokens`` rows are prepended.)
    """
    n = peft_model.active_peft_config.num_virtual_tokens
    return peft_model.get_prompt(batch_size=1)[0][:n].detach()
