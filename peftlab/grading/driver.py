"""Running nbgrader as a subprocess from the course root, with its output in a log file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from peftlab.grading.errors import CourseError
from peftlab.grading.intake import expected_notebooks
from peftlab.grading.names import ASSIGNMENT, layout
from peftlab.paths import path_with_interpreter


def nbgrader(
    args: list[str], log: Path, timeout: float | None = None, die_with_caller: bool = False
) -> int:
    """Run ``nbgrader ARGS`` from the course root, its output going to ``log``.

    Args:
        die_with_caller: kill nbgrader (and so its kernels) when the calling thread's process
            dies, even by SIGKILL (``setpriv --pdeathsig``), so that a grading worker killed
            mid-student leaves no orphan grading that student while another worker re-grades.

    Returns:
        nbgrader's exit status, or 124 when it ran past ``timeout`` seconds and was stopped.
    """
    root = layout().root
    env = dict(os.environ, HF_HUB_OFFLINE="1", PATH=path_with_interpreter())
    guard = (
        ["setpriv", "--pdeathsig", "KILL"] if die_with_caller and shutil.which("setpriv") else []
    )
    cmd = [*guard, sys.executable, "-m", "nbgrader", *args]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        try:
            return subprocess.call(
                cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            out.write(f"\npeftlab: nbgrader ran past {timeout:.0f} s and was stopped\n")
            return 124


def log_file(verb: str) -> Path:
    """``course/logs/<verb>.log``, where a command keeps nbgrader's output."""
    return layout().work("logs") / f"{verb}.log"


def nbgrader_step(step: str, verb: str) -> None:
    """Run ``nbgrader STEP lab2 --force`` for the command ``verb``; raise if it fails."""
    log = log_file(verb)
    if nbgrader([step, ASSIGNMENT, "--force"], log=log) != 0:
        raise CourseError(f"nbgrader {step} failed; see {log}")


def generate_release() -> None:
    """Generate ``labs/lab2`` from ``solutions/lab2`` and record the assignment in the gradebook."""
    count = len(expected_notebooks())
    nbgrader_step("generate_assignment", "generate")
    print(f"generated {layout().release} ({count} notebooks)")
