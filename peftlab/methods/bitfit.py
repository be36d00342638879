"""A selective method in the spirit of BitFit: train only a small, chosen subset of the weights.

BitFit trains bias terms, but T5 and Llama have none; so this trains the normalisation weights
(T5LayerNorm / RMSNorm scales) and any bias vectors a model does have, and freezes everything else.
The chosen weights change in place, so a run is saved and reloaded whole, as full fine-tuning is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from peftlab.methods import full
from peftlab.models import InputKind

DEFAULT_LR = 1e-3
INPUTS = InputKind.TOKENS
save = full.save
reload = full.reload


@dataclass
class Config:
    norms: bool = field(default=True, metadata={"help": "train normalisation-layer weights"})
    biases: bool = field(default=True, metadata={"help": "train bias vectors where the model has them"})

    def __post_init__(self):
        if not (self.norms or self.biases):
            raise ValueError(f"bitfit with norms={self.norms} and biases={self.biases} trains nothing")


def selected(model, config: Config) -> list[str]:
    """Names of the parameters the selective method trains."""
    names = []
    for module_name, module in model.named_modules():
        is_norm = "norm" in type(module).__name__.lower()
        for param_name, _ in module.named_parameters(recurse=False):
            full_name = f"{module_name}.{param_name}" if module_name else param_name
            if (config.norms and is_norm) or (config.biases and param_name == "bias"):
                names.append(full_name)
    return names


def apply(model, config: Config, tokenizer=None):
    """Freeze all weights except the selected norms and biases; return the same model."""
    chosen = set(selected(model, config))
    for name, param in model.named_parameters():
        param.requires_grad_(name in chosen)
    return model
