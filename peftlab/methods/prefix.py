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


@dataclass
class Config:
    num_virtual_tokens: int = field(default=20, metadata={"help": "prefix length per layer"})
    projection: bool = field(default=False, metadata={"help": "reparameterise through an MLP"})
    projection_hidden: int = field(default=256, metadata={"help": "hidden size of that MLP"})
    init: str = field(default="text", metadata={"help": "'text' (causal models) or 'random'"})
    init_text: str = field(default="Summarize the following conversation.",
                           metadata={"help": "text whose keys and values start the prefix"})
    adapter_name: str = field(default="default", metadata={"help": "name of this prefix"})

    def __post_init__(self):
        if self.num_virtual_tokens < 1:
            raise ValueError(f"num_virtual_tokens must be >= 1, got {self.num_virtual_tokens}")
        if self.init not in ("random", "text"):
            raise ValueError(f"init must be 'random' or 'text', got {self.init!r}")


def apply(model, config: Config, tokenizer=None):
    """Wrap ``model`` with trainable per-layer prefixes."""
    from peft import PeftModel, PrefixTuningConfig, get_peft_model

    from peftlab.methods import task_type

    base = model.get_base_model() if isinstance(model, PeftModel) else model
    pconf = PrefixTuningConfig(task_type=task_type(base), num_virtual_tokens=config.num_virtual_tokens,
                               prefix_projection=config.projection,
                               encoder_hidden_size=config.projection_hidden)
    if isinstance(model, PeftModel):
        model.add_adapter(config.adapter_name, pconf)
        model.set_adapter(config.adapter_name)
        peft_model = model
    else:
        peft_model = get_peft_model(model, pconf, adapter_name=config.adapter_name)
    causal = not base.config.is_encoder_decoder
    if config.init == "text" and causal and not config.projection and tokenizer is not None:
        _init_from_text(peft_model, base, tokenizer, config)
    return peft_model


def _init_from_text(peft_model, base, tokenizer, config: Config) -> None:
    """Set each layer's prefix to the keys/values the frozen model computes for ``init_text``."""
    import torch

    from peftlab.methods.prompt import init_token_ids

    ids = init_token_ids(tokenizer, config.init_text, config.num_virtual_tokens)
    table = peft_model.prompt_encoder[config.adapter_name].embedding.weight
    with torch.no_grad():
        cache = base(input_ids=torch.tensor([ids], device=table.device), use_cache=True).past_key_values
        # peft reads a row as (num_layers * 2, heads, head_dim): key then value of each layer
        parts = []
        for layer in cache.layers:
            parts += [layer.keys[0].transpose(0, 1), layer.values[0].transpose(0, 1)]
        table.copy_(torch.stack(parts, dim=1).reshape(table.shape))
