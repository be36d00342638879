"""What the peft-backed methods (lora, prompt, prefix) share: wrapping, virtual tokens, save/reload.

peft does the work; this module is the one place that knows how peftlab calls it: a new adapter
wraps a plain model or joins a peft model already wrapped, and a saved adapter is found again from
the run's metadata (peft writes a named adapter into ``<folder>/<name>/``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from peftlab.console import library_notes_hidden
from peftlab.data import INSTRUCTIONS

DEFAULT_ADAPTER = "default"  # peft's name for an unnamed adapter, saved in the folder itself
Init = Literal["text", "random"]


def task_type(model) -> str:
    """peft's task type for a model: ``SEQ_2_SEQ_LM`` or ``CAUSAL_LM``."""
    return "SEQ_2_SEQ_LM" if model.config.is_encoder_decoder else "CAUSAL_LM"


def base_model(model):
    """The plain transformers model inside ``model`` (``model`` itself when not wrapped)."""
    from peft import PeftModel

    return model.get_base_model() if isinstance(model, PeftModel) else model


def wrap(model, peft_config, adapter_name: str):
    """Wrap ``model`` with a new active adapter, or add one to a peft model already wrapped."""
    from peft import PeftModel, get_peft_model

    if isinstance(model, PeftModel):
        model.add_adapter(adapter_name, peft_config)
        model.set_adapter(adapter_name)
        return model
    with library_notes_hidden():  # peft reads a renamed transformers attribute
        return get_peft_model(model, peft_config, adapter_name=adapter_name)


@dataclass
class VirtualTokens:
    """Settings shared by the virtual-token methods (prompt and prefix tuning)."""

    num_virtual_tokens: int = field(default=20, metadata={"help": "number of virtual tokens"})
    init: Init = field(
        default="text", metadata={"help": "'text': start from init_text; 'random': random vectors "
                                          "(prompt tuning: at the token embeddings' scale)"})
    init_text: str = field(default=INSTRUCTIONS["summary"],
                           metadata={"help": "text the virtual tokens start from (init='text')"})
    adapter_name: str = field(default=DEFAULT_ADAPTER, metadata={"help": "name of this adapter"})

    def __post_init__(self):
        if self.num_virtual_tokens < 1:
            raise ValueError(f"num_virtual_tokens must be >= 1, got {self.num_virtual_tokens}")
        if self.init not in get_args(Init):
            raise ValueError(f"init must be one of {get_args(Init)}, got {self.init!r}")


def save(lab, folder: Path) -> str:
    """Save the adapters of ``lab.model`` into ``folder``; return the active adapter's name."""
    lab.model.save_pretrained(folder)
    return lab.model.active_adapter


def reload(lab, folder: Path, saved, adapter_name: str | None = None):
    """Attach the adapter saved in ``folder`` to ``lab``, active, under ``adapter_name``.

    Args:
        lab: the base LabModel (a peft model already wrapped gets one adapter more).
        folder: the run's output folder.
        saved: its :class:`~peftlab.methods.SavedRun`; ``saved.adapter`` says where the weights lie.
        adapter_name: the name to load it as (default: the name it was saved under).

    Returns:
        ``lab``, its model now a peft model with that adapter active.
    """
    from peft import PeftModel

    saved_as = saved.adapter or DEFAULT_ADAPTER
    path = str(folder if saved_as == DEFAULT_ADAPTER else folder / saved_as)
    name = adapter_name or saved_as
    if isinstance(lab.model, PeftModel):
        lab.model.load_adapter(path, adapter_name=name)
        lab.model.set_adapter(name)
    else:
        with library_notes_hidden():  # peft reads a renamed transformers attribute
            lab.model = PeftModel.from_pretrained(lab.model, path, adapter_name=name)
    lab.model.to(lab.device).eval()
    return lab
