"""LoRA through peft: freeze W, learn a rank-r update B·A scaled by alpha/r.

Defaults are the lab's: ``r=32, lora_alpha=32, lora_dropout=0.05, bias="none"`` on the attention
query and value projections (``q``/``v`` in T5, ``q_proj``/``v_proj`` in Llama-style models).
Also: several named adapters on one base model, switching between them, and merging for inference.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Config:
    r: int = field(default=32, metadata={"help": "rank of the update B·A"})
    alpha: int = field(default=32, metadata={"help": "scale numerator: the update is (alpha/r)·B·A"})
    dropout: float = field(default=0.05, metadata={"help": "dropout on the LoRA input"})
    target_modules: list[str] | None = field(
        default=None, metadata={"help": "module names to adapt; default: the model's q and v"})
    bias: str = field(default="none", metadata={"help": "'none', 'all' or 'lora_only'"})
    adapter_name: str = field(default="default", metadata={"help": "name of this adapter"})

    def __post_init__(self):
        if self.r < 1:
            raise ValueError(f"LoRA rank r must be >= 1, got r={self.r}")
        if self.bias not in ("none", "all", "lora_only"):
            raise ValueError(f"bias must be 'none', 'all' or 'lora_only', got {self.bias!r}")


def default_targets(model) -> list[str]:
    from peftlab.models import LORA_TARGETS

    return list(LORA_TARGETS.get(model.config.model_type, ["q_proj", "v_proj"]))


def peft_config(model, config: Config):
    """The ``peft.LoraConfig`` for ``model``."""
    from peft import LoraConfig

    from peftlab.methods import task_type

    return LoraConfig(task_type=task_type(model), r=config.r, lora_alpha=config.alpha,
                      lora_dropout=config.dropout, bias=config.bias,
                      target_modules=config.target_modules or default_targets(model))


def apply(model, config: Config, tokenizer=None):
    """Wrap ``model`` with a LoRA adapter (or add one to a LoRA model already wrapped)."""
    from peft import PeftModel, get_peft_model

    if isinstance(model, PeftModel):
        model.add_adapter(config.adapter_name, peft_config(model.get_base_model(), config))
        model.set_adapter(config.adapter_name)
        return model
    return get_peft_model(model, peft_config(model, config), adapter_name=config.adapter_name)


def merge(model, check_inputs: dict | None = None, atol: float = 1e-4):
    """Fold the active B·A into each W and return the plain model (no adapter overhead).

    Args:
        model: a peft LoRA model (changed in place: copy it first to keep the adapter).
        check_inputs: model inputs (e.g. a tokenized batch; seq2seq models also need
            ``decoder_input_ids``); when given, the logits before and after merging are compared.
        atol: largest allowed absolute logit difference for that check.

    Raises:
        ValueError: merged and unmerged logits differ by more than ``atol``.
    """
    import torch

    before = None
    if check_inputs is not None:
        model.eval()
        with torch.no_grad():
            before = model(**check_inputs).logits
    merged = model.merge_and_unload()
    if before is not None:
        with torch.no_grad():
            diff = (merged(**check_inputs).logits - before).abs().max().item()
        if diff > atol:
            raise ValueError(f"merged LoRA differs from unmerged by {diff:.2e} (> atol {atol})")
    return merged
