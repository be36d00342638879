"""Where things live, defined once for both wings: the checkout, the course's notebook folders and
the model caches. Bottom layer: nothing but the standard library.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The peftlab package; its parent is the checkout (the default course root).
PACKAGE_DIR = Path(os.path.abspath(__file__)).parent
CHECKOUT = PACKAGE_DIR.parent
ASSIGNMENT = "lab2"
SOURCE_FOLDER = "solutions"  # the instructor's notebooks: solutions/lab2
RELEASE_FOLDER = "labs"  # what nbgrader generates for students: labs/lab2


def peftlab_cache() -> Path:
    """``$PEFTLAB_CACHE``, default ``~/.cache/peftlab``: the converted offline models."""
    return Path(os.environ.get("PEFTLAB_CACHE", Path.home() / ".cache" / "peftlab")).expanduser()


def hf_home() -> Path:
    """``$HF_HOME``, default ``~/.cache/huggingface``: the Hub's models and datasets."""
    return Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")).expanduser()


def path_with_interpreter(path: str | None = None) -> str:
    """``path`` (default ``$PATH``) with the running Python's ``bin`` folder first, unless on it.

    Started as ``.venv/bin/nbgrader`` or ``.venv/bin/jupyter`` without activating the venv, the
    venv's tools are not on ``$PATH``; nbgrader runs ``alembic`` by name to create a gradebook.
    """
    path = os.environ.get("PATH", "") if path is None else path
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir in path.split(os.pathsep):
        return path
    return os.pathsep.join(filter(None, [bin_dir, path]))
