"""LoRA through peft: freeze W, learn a rank-r update B·A scaled by alpha/r.

Defaults are the lab's: ``r=32, lora_alpha=32, lora_dropout=0.05, bias="none"`` on the attention
query and value projections (``q``/``v`` in T5, ``q_proj``/``v_proj`` in Llama-style models).
Also: several named adapters on one base model, switching between them, and merging for inference.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, get_args

from peftlab.console import library_notes_hidden
from peftlab.errors import PeftlabError
from peftlab.methods import _peft
from peftlab.models import (
    FLAN_T5_BASE_SHAPE,
    LORA_TARGETS,
    TINY_T5,
    InputKind,
    build_flan_t5_base_shape,
    build_tiny_t5,
)

if TYPE_CHECKING:
    from peftlab.methods._count import ParameterCount

DEFAULT_LR = 1e-3
INPUTS = InputKind.TOKENS
save = _peft.save  # the adapter only: a few MB
reload = _peft.reload
Bias = Literal["none", "all", "lora_only"]


@dataclass
class Config:
    r: int = field(default=32, metadata={"help": "rank of the update B·A"})
    alpha: int = field(default=32, metadata={"help": "scale numerator: the update is (alpha/r)·B·A"})
    dropout: float = field(default=0.05, metadata={"help": "dropout on the LoRA input"})
    target_modules: list[str] | None = field(
        default=None, metadata={"help": "module names to adapt; default: the model's q and v"})
    bias: Bias = field(
        default="none", metadata={"help": "which biases train too: 'none', 'all' or 'lora_only'"})
    adapter_name: str = field(default=_peft.DEFAULT_ADAPTER, metadata={"help": "name of this adapter"})

    def __post_init__(self):
        if self.r < 1:
            raise ValueError(f"LoRA rank r must be >= 1, got r={self.r}")
        if self.bias not in get_args(Bias):
            raise ValueError(f"bias must be one of {get_args(Bias)}, got {self.bias!r}")


def default_targets(model) -> list[str]:
    """The attention query and value projections of ``model``'s architecture."""
    return list(LORA_TARGETS.get(model.config.model_type, ["q_proj", "v_proj"]))


def peft_config(model, config: Config):
    """The ``peft.LoraConfig`` for ``model``."""
    return _lora_config(_peft.task_type(model), config.target_modules or default_targets(model),
                        config)


def _lora_config(task_type: str, targets: list[str], config: Config):
    from peft import LoraConfig

    return LoraConfig(task_type=task_type, r=config.r, lora_alpha=config.alpha,
                      lora_dropout=config.dropout, bias=config.bias, target_modules=targets)


def lab_t5_config(r: int = 32, alpha: int = 32):
    """The lab's ``peft.LoraConfig`` for FLAN-T5 (lab 2's exercise 12; its notebook falls back to
    this while the exercise is blank): rank ``r``, ``lora_alpha=alpha``, dropout 0.05, no bias, on
    T5's attention ``q`` and ``v``, task ``SEQ_2_SEQ_LM``."""
    return _lora_config("SEQ_2_SEQ_LM", list(LORA_TARGETS["t5"]), Config(r=r, alpha=alpha))


@dataclass(frozen=True)
class ShapeCount:
    """What a LoRA config trains on a model's architecture (see :func:`count_on_shape`).

    Attributes:
        adapted: names of the modules that got an adapter, in the model's order.
        count: trainable and total parameters of the wrapped model (shared tensors once).
    """

    adapted: tuple[str, ...]
    count: ParameterCount


@functools.cache
def _meta_model(model_name: str):
    """``model_name``'s architecture on the meta device, built once per process (building it
    trains the sample tokenizer when the cache has none: seconds, not to be paid per call)."""
    import torch

    builders = {FLAN_T5_BASE_SHAPE: build_flan_t5_base_shape, TINY_T5: build_tiny_t5}
    if model_name not in builders:
        raise PeftlabError(f"count_on_shape builds {', '.join(builders)} only, not {model_name!r}:"
                           f" pass one of those")
    with torch.device("meta"):
        return builders[model_name]().model


def count_on_shape(lora_config, model_name: str = FLAN_T5_BASE_SHAPE) -> ShapeCount:
    """Apply ``lora_config`` to ``model_name``'s architecture built on the meta device (shapes, no
    weights: FLAN-T5-base's in a tenth of a second once built) and count what it trains.

    A config whose ``target_modules`` name no module of the model adapts nothing: ``adapted`` is
    empty and nothing trains (peft itself would refuse to wrap the model).

    Args:
        lora_config: a ``peft.LoraConfig``.
        model_name: a course model built locally (``flan-t5-base-shape`` or ``tiny-t5``).
    """
    from peft import get_peft_model
    from peft.tuners.tuners_utils import check_target_module_exists

    from peftlab.methods._count import count_parameters

    model = copy.deepcopy(_meta_model(model_name))
    if not any(check_target_module_exists(lora_config, name) for name, _ in model.named_modules()):
        model.requires_grad_(False)
        return ShapeCount((), count_parameters(model))
    with library_notes_hidden():
        wrapped = get_peft_model(model, copy.deepcopy(lora_config))
    adapted = tuple(name.removeprefix("base_model.model.") for name, module
                    in wrapped.named_modules() if hasattr(module, "lora_A"))
    return ShapeCount(adapted, count_parameters(wrapped))


def param_count(d_out: int, d_in: int, r: int) -> int:
    """Parameters LoRA trains for one ``d_out x d_in`` weight at rank ``r``: A (r x d_in) and
    B (d_out x r). Lab 2's exercise 5 (its notebook falls back to this while the exercise is blank)."""
    return r * d_in + d_out * r


def apply(model, config: Config, tokenizer=None):
    """Wrap ``model`` with a LoRA adapter (or add one to a LoRA model already wrapped)."""
    return _peft.wrap(model, peft_config(_peft.base_model(model), config), config.adapter_name)


def merge(model, check_inputs: dict | None = None, rtol: float = 1e-6):
    """Fold the active B·A into each W and return the plain model (no adapter overhead).

    The optional check compares logits before and after merging **in float64**. In the weights' own
    dtype the two differ by rounding alone: W + s·B·A rounds once per weight, and the error grows
    with depth (1.1e-4 on SmolLM2's 30 fp32 layers after a ``cpu`` run, logits of order 10), so no
    absolute fp32 tolerance both passes every right merge and fails a slightly wrong one. In float64
    (unit round-off 1.1e-16) a right merge agrees to ~1e-13 of the logits' scale, while a wrong one
    (a scaling off by a few percent) is off by a sizeable share of the adapter's effect: ``rtol``
    1e-6 sits orders of magnitude from both. The merge itself is done in float64 too, and the merged
    model is cast back to the dtype it came in (one rounding per weight, the best that dtype holds).

    Args:
        model: a peft LoRA model (changed in place: copy it first to keep the adapter).
        check_inputs: model inputs (e.g. a tokenized batch; seq2seq models also need
            ``decoder_input_ids``); when given, the logits before and after merging are compared.
        rtol: largest allowed difference, relative to the largest unmerged logit, for that check.

    Raises:
        ValueError: merged and unmerged float64 logits differ by more than ``rtol`` of their scale.
    """
    if check_inputs is None:
        return model.merge_and_unload()
    import torch

    dtype = next(model.parameters()).dtype
    inputs = {k: v.double() if torch.is_floating_point(v) else v for k, v in check_inputs.items()}
    model.to(torch.float64).eval()
    with torch.no_grad():
        before = model(**inputs).logits
        merged = model.merge_and_unload()
        diff = (merged(**inputs).logits - before).abs().max().item()
    scale = before.abs().max().item()
    merged.to(dtype)
    if diff > rtol * scale:
        raise ValueError(f"merged LoRA differs from unmerged by {diff:.2e} in float64 "
                         f"(> rtol {rtol:g} x logit scale {scale:.3g}): the merge is wrong")
    return merged
