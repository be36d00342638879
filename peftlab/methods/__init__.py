"""PEFT methods of the course, one small module each, behind one registry.

``apply_method(model, name, **overrides)`` returns the model to train with exactly the method's
parameters trainable. Names (the CLI's): ``full``, ``lora``, ``prompt``, ``prefix``, ``bitfit``.
Each module holds a config dataclass and one ``apply(model, config)``; peft does the work.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from peftlab.errors import PeftlabError
from peftlab.methods import bitfit, full, lora, prefix, prompt

METHODS = {"full": full, "lora": lora, "prompt": prompt, "prefix": prefix, "bitfit": bitfit}


def method_config(name: str, model=None, **overrides):
    """Return the config dataclass of method ``name`` with defaults for ``model`` and overrides."""
    if name not in METHODS:
        raise PeftlabError(f"unknown method '{name}': choose one of {', '.join(METHODS)}")
    module = METHODS[name]
    fields = {f.name for f in dataclasses.fields(module.Config)}
    unknown = set(overrides) - fields
    if unknown:
        raise PeftlabError(f"method '{name}' has no setting(s) {', '.join(sorted(unknown))}; "
                           f"it takes {', '.join(sorted(fields)) or 'none'}")
    try:
        return module.Config(**overrides)
    except ValueError as err:  # a bad value (e.g. --set r 0) is the user's to fix, not a crash
        raise PeftlabError(f"method '{name}': {err}") from None


def apply_method(model, name: str, **overrides):
    """Prepare ``model`` for training with PEFT method ``name``.

    Args:
        model: a ``transformers.PreTrainedModel`` or a :class:`peftlab.models.LabModel`. A LabModel
            gets the returned model as its ``.model`` (so ``summarize`` uses it) and passes its
            tokenizer to methods that need one (text-initialised prompt tuning).
        name: ``full``, ``lora``, ``prompt``, ``prefix`` or ``bitfit``.
        **overrides: fields of the method's config (e.g. ``r=8`` for LoRA).

    Returns:
        The model to train (a peft model for lora/prompt/prefix; the same model otherwise).
    """
    from peftlab.models import LabModel

    lab = model if isinstance(model, LabModel) else None
    base = lab.model if lab else model
    config = method_config(name, base, **overrides)
    trained = METHODS[name].apply(base, config, tokenizer=lab.tokenizer if lab else None)
    if lab is not None:
        lab.model = trained
    return trained


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


def task_type(model) -> str:
    """peft's task type for a model: ``SEQ_2_SEQ_LM`` or ``CAUSAL_LM``."""
    return "SEQ_2_SEQ_LM" if model.config.is_encoder_decoder else "CAUSAL_LM"


__all__ = ["METHODS", "ParameterCount", "apply_method", "count_parameters", "method_config",
           "task_type"]
