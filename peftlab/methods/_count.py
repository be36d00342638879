"""Counting a model's parameters, trainable and total: what every method module reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ParameterCount:
    """Trainable and total parameter counts (shared tensors counted once)."""

    trainable: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.trainable / self.total if self.total else 0.0

    def __str__(self) -> str:
        return (f"trainable params: {self.trainable:,d} || all params: {self.total:,d} || "
                f"trainable%: {self.percent:.4f}")


def count_parameters(model) -> ParameterCount:
    """Count trainable and total parameters of a model (a LabModel is unwrapped)."""
    model = getattr(model, "model", model) if not hasattr(model, "parameters") else model
    trainable = total = 0
    for param in model.parameters():  # parameters() yields tied tensors once
        total += param.numel()
        if param.requires_grad:
            trainable += param.numel()
    return ParameterCount(trainable, total)
