"""The nbgrader exchange: which folder it is, and making it when it does not exist yet.

nbgrader's file-system exchange is one folder shared by the instructor and every student. Its
commands refuse to start unless the folder exists and the user can write to it (``Exchange.root``,
"Unwritable directory, please contact your instructor"); ``release_assignment`` makes it when
missing, but without the sticky bit. Under it, ``release_assignment`` makes ``peftlab/outbound``
(readable by all), ``peftlab/inbound`` (mode 2733: students write their submissions there but
cannot list it, so nobody finds another student's) and ``release_feedback`` makes
``peftlab/feedback`` (mode 711: each student opens only the pages named by their own submission's
secret).

Both nbgrader configurations read the folder from here: the instructor's ``nbgrader_config.py`` at
the course root and the students' ``peftlab/resources/student/nbgrader_config.py``. This module
imports only the standard library and :mod:`peftlab.grading.names`.
"""

from __future__ import annotations

import os
from pathlib import Path

from peftlab.grading.errors import CourseError
from peftlab.grading.names import DEFAULT_EXCHANGE, EXCHANGE_MODE, EXCHANGE_VARIABLE


def exchange_root() -> Path:
    """``$PEFTLAB_EXCHANGE`` (``~`` expanded, made absolute), else nbgrader's default folder."""
    chosen = os.environ.get(EXCHANGE_VARIABLE) or DEFAULT_EXCHANGE
    return Path(os.path.abspath(os.path.expanduser(chosen)))


def _fix(root: Path) -> str:
    return (f"an admin runs 'mkdir -p {root} && chmod {EXCHANGE_MODE:o} {root}' once, or set "
            f"{EXCHANGE_VARIABLE} to a folder you can create")


def ensure_exchange(root: Path | None = None) -> Path:
    """The exchange folder, made with mode 1777 when it does not exist yet.

    An existing folder is left as it is (an admin may have made it group-shared on purpose).

    Args:
        root: the folder; default :func:`exchange_root`.

    Returns:
        The folder.

    Raises:
        CourseError: it is not a folder, or this user cannot create it.
    """
    root = root or exchange_root()
    if root.is_dir():
        return root
    if root.exists():
        raise CourseError(f"the nbgrader exchange {root} is not a folder: remove it or set "
                          f"{EXCHANGE_VARIABLE} to another folder")
    try:
        root.mkdir(parents=True)
    except FileExistsError:
        return root  # another user's nbgrader made it at the same moment
    except OSError as error:
        raise CourseError(f"cannot create the nbgrader exchange {root} ({error.strerror}): "
                          f"{_fix(root)}") from None
    root.chmod(EXCHANGE_MODE)  # after mkdir: the umask would strip the write bits
    return root


def configured_exchange() -> str:
    """``Exchange.root`` for an nbgrader config file: the folder, made here when this user can.

    A config file must not fail: traitlets would log the traceback and go on without the
    settings after it, for every nbgrader command. When the folder cannot be made, the exchange
    commands alone fail, with nbgrader's own line naming the folder.
    """
    root = exchange_root()
    try:
        ensure_exchange(root)
    except CourseError:
        pass
    return str(root)
