"""peftlab: the helper package of an executable, autograded course on parameter-efficient fine-tuning.

The public API is imported lazily, so ``import peftlab`` is fast and has no side effects (no
seeding, no downloads, no global plotting settings).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "LabModel": "peftlab.models",
    "PeftlabError": "peftlab.errors",
    "apply_method": "peftlab.methods",
    "build_prompt": "peftlab.data",
    "count_parameters": "peftlab.methods",
    "evaluate": "peftlab.evaluation",
    "load_adapter": "peftlab.evaluation",
    "load_dialogsum": "peftlab.data",
    "load_model": "peftlab.models",
    "rouge": "peftlab.metrics",
    "train": "peftlab.training",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'peftlab' has no attribute {name!r}")
