"""Prefix tuning through peft: trainable key/value vectors prepended in every attention layer.

Where prompt tuning learns vectors for the input layer only, prefix tuning gives each layer its own
``num_virtual_tokens`` keys and values (optionally produced by an MLP reparameterisation,
``projection=True``, as in Li & Liang 2021).

In an encoder-decoder model (T5) peft passes the prefixes as the decoder's cache: they reach the
decoder's self-attention and its cross-attention, never the encoder's self-attention, so the
encoder's representation of the dialogue is exactly the frozen model's (a test checks this).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Config:
    num_virtual_tokens: int = field(default=20, metadata={"help": "prefix length per layer"})
    projection: bool = field(default=False, metadata={"help": "reparameterise through an MLP"})
    projection_hidden: int = field(default=256, metadata={"help": "hidden size of that MLP"})
    adapter_name: str = field(default="default", metadata={"help": "name of this prefix"})

    def __post_init__(self):
        if self.num_virtual_tokens < 1:
            raise ValueError(f"num_virtual_tokens must be >= 1, got {self.num_virtual_tokens}")


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
        return model
    return get_peft_model(model, pconf, adapter_name=config.adapter_name)
