"""LayerNorm tuning through peft: train only the normalisation layers' weights, freeze the rest.

What it trains: the scales of every T5LayerNorm / Llama RMSNorm (and a LayerNorm's bias where a
model's norms have one): 35,136 numbers on SmolLM2-135M (61 RMSNorms of 576), 47,616 on
FLAN-T5-base. peft's ``LNTuningConfig`` does the work: its default targets per architecture cover
all of them on T5 (``layer_norm``, ``final_layer_norm``) and Llama (``input_layernorm``,
``post_attention_layernorm``, ``norm``); an architecture peft has no list for gets the names of its
modules whose class is a norm. The checkpoint is peft's adapter: those weights only (0.15 MB for
SmolLM2, not its 538 MB), reloaded with ``PeftModel.from_pretrained`` like the other adapters.

Why not BitFit: BitFit (Ben Zaken et al., 2021) trains the bias vectors, and T5 and Llama have
none, so BitFit proper would train nothing here. This method was called ``bitfit`` before: that
name now ends in a PeftlabError naming ``ln_tuning``, and a run saved under it still reloads (its
``trained.safetensors`` holds the same norm weights by their plain names).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from peftlab.errors import PeftlabError
from peftlab.methods import _peft
from peftlab.models import InputKind

DEFAULT_LR = 1e-3
INPUTS = InputKind.TOKENS
save = _peft.save  # peft's adapter: the norm weights only
OLD_NAME = "bitfit"  # this method's name before it was named for what it trains
LEGACY_WEIGHTS_FILE = "trained.safetensors"  # what runs saved under the old name hold


@dataclass
class Config:
    target_modules: list[str] | None = field(
        default=None, metadata={"help": "norm modules to train; default: peft's list for the "
                                        "architecture (all its norms on T5 and Llama)"})
    adapter_name: str = field(default=_peft.DEFAULT_ADAPTER, metadata={"help": "name of this adapter"})

    def __post_init__(self):
        if self.target_modules is not None and not self.target_modules:
            raise ValueError("target_modules is empty: give norm module names, or none for all")


@contextlib.contextmanager
def _norm_layers_accepted():
    """peft warns 'Unsupported layer type' for every norm it wraps (it looks for in/out features,
    which only its merge bookkeeping reads); LN tuning is meant for exactly these layers."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Unsupported layer type", category=UserWarning)
        yield


def default_targets(model) -> list[str]:
    """peft's norm module names for ``model``'s architecture; for one it has no list for, the
    names of the modules whose class is a norm (``...Norm``)."""
    from peft.utils import TRANSFORMERS_MODELS_TO_LNTUNING_TARGET_MODULES_MAPPING as KNOWN

    if model.config.model_type in KNOWN:
        return list(KNOWN[model.config.model_type])
    names = sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                    if name and type(module).__name__.lower().endswith("norm")})
    if not names:
        raise PeftlabError(f"{model.config.model_type} models have no norm layers that "
                           f"ln_tuning knows: give them with --set target_modules NAME")
    return names


def peft_config(model, config: Config):
    """The ``peft.LNTuningConfig`` for ``model``."""
    from peft import LNTuningConfig

    return LNTuningConfig(task_type=_peft.task_type(model),
                          target_modules=config.target_modules or default_targets(model))


def apply(model, config: Config, tokenizer=None):
    """Wrap ``model`` so that only (copies of) its norm layers train; the rest stays frozen."""
    with _norm_layers_accepted():
        return _peft.wrap(model, peft_config(_peft.base_model(model), config), config.adapter_name)


def reload(lab, folder: Path, saved, adapter_name: str | None = None):
    """The trained norms back on ``lab``: peft's adapter, or a run saved as ``bitfit``."""
    if (Path(folder) / LEGACY_WEIGHTS_FILE).is_file():
        return _reload_legacy(lab, Path(folder), saved)
    with _norm_layers_accepted():
        return _peft.reload(lab, folder, saved, adapter_name)


def _reload_legacy(lab, folder: Path, saved):
    """Copy a ``bitfit`` run's weights (plain parameter names) into ``lab``'s base model."""
    from safetensors.torch import load_file

    weights = load_file(str(folder / LEGACY_WEIGHTS_FILE), device=str(lab.device))
    own = dict(_peft.base_model(lab.model).named_parameters())
    unknown = sorted(set(weights) - set(own))
    if unknown:
        raise PeftlabError(f"{folder} was trained on another model ({saved.model}): "
                           f"{len(unknown)} weight(s) such as {unknown[0]} are not in {lab.name}")
    for name, value in weights.items():
        own[name].data.copy_(value.to(own[name].dtype))
    lab.model.eval()
    return lab
