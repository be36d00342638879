"""A selective method in the spirit of BitFit: train only a small, chosen subset of the weights.

BitFit (Ben Zaken et al., 2021) trains bias terms, but T5 and Llama have none; so this trains the
normalisation weights (T5LayerNorm / RMSNorm scales) and any bias vectors a model does have, and
freezes everything else. A run saves only the weights it trained (``trained.safetensors``: 35,136
numbers for SmolLM2-135M, not its 538 MB); reloading puts them back into the base model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from peftlab.errors import PeftlabError
from peftlab.models import InputKind

DEFAULT_LR = 1e-3
INPUTS = InputKind.TOKENS
WEIGHTS_FILE = "trained.safetensors"


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


def save(lab, folder: Path) -> None:
    """Save the weights the method trained (those with ``requires_grad``), nothing else."""
    from safetensors.torch import save_file

    trained = {name: param.detach().contiguous().cpu()
               for name, param in lab.model.named_parameters() if param.requires_grad}
    save_file(trained, str(Path(folder) / WEIGHTS_FILE))


def reload(lab, folder: Path, saved, adapter_name: str | None = None):
    """Put the saved weights back into ``lab``'s model (the base the run was trained from)."""
    from safetensors.torch import load_file

    path = Path(folder) / WEIGHTS_FILE
    if not path.is_file():
        raise PeftlabError(f"{folder} holds no {WEIGHTS_FILE}: train the selective method again "
                           f"with this version of peftlab")
    weights = load_file(str(path), device=str(lab.device))
    own = dict(lab.model.named_parameters())
    unknown = sorted(set(weights) - set(own))
    if unknown:
        raise PeftlabError(f"{folder} was trained on another model ({saved.model}): "
                           f"{len(unknown)} weight(s) such as {unknown[0]} are not in {lab.name}")
    for name, value in weights.items():
        own[name].data.copy_(value.to(own[name].dtype))
    return lab
