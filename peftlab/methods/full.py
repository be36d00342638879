"""Full fine-tuning: every weight of the model is trained."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Config:
    """Full fine-tuning has no settings: all parameters are trainable."""


def apply(model, config: Config, tokenizer=None):
    """Make every parameter trainable and return the same model."""
    for param in model.parameters():
        param.requires_grad_(True)
    return model
