"""PEFT methods of the course, one small module each, behind one registry.

``apply_method(model, name, **overrides)`` returns the model to train with exactly the method's
parameters trainable. :data:`METHODS` lists the modules once (the CLI's ``--method`` choices come
from it); everything that makes a method different lives in its module:

* ``Config``: a dataclass of its settings (help text per field, checks in ``__post_init__``);
* ``apply(model, config, tokenizer=None)``: the model to train; peft does the work;
* ``DEFAULT_LR``: its learning rate when none is given;
* ``INPUTS``: what the model then reads (:class:`~peftlab.models.InputKind`), which batching follows;
* ``save(lab, folder)``: writes what it trains (an adapter or the whole model) and returns the
  adapter's name, or None for a whole model;
* ``reload(lab, folder, saved, adapter_name)``: the trained model back from ``folder``, given the
  :class:`SavedRun` that training wrote next to it (``peftlab.json``).

A new method is one module here and one line in :data:`METHODS`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from peftlab.errors import PeftlabError
from peftlab.methods import full, ln_tuning, lora, prefix, prompt
from peftlab.methods._count import ParameterCount, count_parameters
from peftlab.models import LabModel

METHODS = {"full": full, "lora": lora, "prompt": prompt, "prefix": prefix, "ln_tuning": ln_tuning}
# Old names of methods: given to train, they end in an error naming the new name; a run saved
# under one still reloads (its module reads what the old name wrote).
RENAMED = {ln_tuning.OLD_NAME: "ln_tuning"}
METADATA_FILE = "peftlab.json"


def get_method(name: str):
    """The module of method ``name``; a one-line PeftlabError naming the choices otherwise."""
    if name in RENAMED:
        raise PeftlabError(f"method '{name}' is renamed '{RENAMED[name]}' (it trains the norm "
                           f"weights: T5 and Llama have no biases for BitFit to train): use "
                           f"'{RENAMED[name]}'")
    if name not in METHODS:
        raise PeftlabError(f"unknown method '{name}': choose one of {', '.join(METHODS)}")
    return METHODS[name]


def method_config(name: str, **overrides):
    """Return the config dataclass of method ``name`` with its defaults and ``overrides``."""
    module = get_method(name)
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
            gets the returned model as its ``.model`` (so ``summarize`` uses it), the method's
            ``INPUTS`` as its ``.inputs``, and passes its tokenizer to methods that need one
            (text-initialised prompt tuning).
        name: ``full``, ``lora``, ``prompt``, ``prefix`` or ``ln_tuning``.
        **overrides: fields of the method's config (e.g. ``r=8`` for LoRA).

    Returns:
        The model to train (a peft model for lora/prompt/prefix; the same model otherwise).
    """
    lab = model if isinstance(model, LabModel) else None
    base = lab.model if lab else model
    config = method_config(name, **overrides)
    trained = METHODS[name].apply(base, config, tokenizer=lab.tokenizer if lab else None)
    if lab is not None:
        lab.model, lab.inputs = trained, METHODS[name].INPUTS
    return trained


@dataclass(frozen=True)
class SavedRun:
    """What ``peftlab.json`` records next to a run's saved weights: enough to reload them.

    Attributes:
        method: the method's name (its module reloads the weights).
        model: the name of the model it was trained from.
        task: the column it learned (``summary`` or ``topic``).
        adapter: the active adapter's name for peft methods (a named one lies in
            ``<folder>/<name>/``); None for a whole saved model.
    """

    method: str
    model: str
    task: str = "summary"
    adapter: str | None = None

    def write(self, folder: Path) -> None:
        (Path(folder) / METADATA_FILE).write_text(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def read(cls, folder) -> SavedRun:
        """The record in ``folder``; a one-line PeftlabError when it has none."""
        path = Path(folder) / METADATA_FILE
        if not path.is_file():
            raise PeftlabError(f"{folder} holds no {METADATA_FILE}: give the --output folder of "
                               f"'peftlab train' (it writes the weights and {METADATA_FILE})")
        try:
            fields = json.loads(path.read_text())
            if isinstance(fields, dict) and fields.get("method") in RENAMED:  # an older run
                fields["method"] = RENAMED[fields["method"]]
            return cls(**fields)
        except (ValueError, TypeError) as err:
            raise PeftlabError(f"{path} is not a peftlab run record ({err}); train again to "
                               f"rewrite it") from None


def count_trainable(model) -> tuple[int, int, float]:
    """``(trainable, total, percent)`` of a model: :func:`count_parameters` as a tuple (the shape
    lab 2's exercise 3 returns; its notebook falls back to this while the exercise is blank)."""
    counted = count_parameters(model)
    return counted.trainable, counted.total, counted.percent


__all__ = ["METADATA_FILE", "METHODS", "RENAMED", "ParameterCount", "SavedRun", "apply_method",
           "count_parameters", "count_trainable", "get_method", "method_config"]
