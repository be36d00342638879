"""Full fine-tuning: every weight of the model is trained, and the whole model is saved."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from peftlab.models import InputKind

DEFAULT_LR = 5e-5  # every weight moves: a small step
INPUTS = InputKind.TOKENS


@dataclass
class Config:
    """Full fine-tuning has no settings: all parameters are trainable."""


def apply(model, config: Config, tokenizer=None):
    """Make every parameter trainable and return the same model."""
    for param in model.parameters():
        param.requires_grad_(True)
    return model


def save(lab, folder: Path) -> None:
    """Save the whole model with its tokenizer (a loadable model folder); no adapter name."""
    lab.model.save_pretrained(folder)
    lab.tokenizer.save_pretrained(folder)


def reload(lab, folder: Path, saved, adapter_name: str | None = None):
    """The saved model, loaded on ``lab``'s device under ``lab``'s name (``lab`` is left as it is)."""
    from peftlab.models import load_model

    trained = load_model(str(folder), device=str(lab.device))
    trained.name = lab.name
    return trained
