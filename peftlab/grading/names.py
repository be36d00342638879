"""Every name the grading wing shares, defined once: the assignment, the grading kernel, the
private kernel folders and where a course keeps its files.

``nbgrader_config.py``, the sandbox, the nbgrader plug-ins and the ``peftlab course`` commands all
import these; none of them spells a path or a name of its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from peftlab.paths import ASSIGNMENT, CHECKOUT, RELEASE_FOLDER, SOURCE_FOLDER

COURSE_ID = "peftlab"
# The kernelspec the autograder runs every submission in (see peftlab.grading.sandbox).
KERNEL_NAME = "peftlab-sandbox"
# Each grading kernel's connection file and sockets live in a fresh folder with this prefix; the
# sandbox refuses to hand any other folder to student code.
PRIVATE_DIR_PREFIX = "peftlab-kernel-"
# The environment variable that points the course commands at another course root (tests use a
# scratch copy).
ROOT_VARIABLE = "PEFTLAB_COURSE_ROOT"
CONFIG_FILE = "nbgrader_config.py"
WORK_FOLDER = "course"
GRADEBOOK_FILE = "gradebook.db"


def work_folder(name: str) -> str:
    """``course/<name>``, relative to the course root, as nbgrader's settings take it."""
    return f"{WORK_FOLDER}/{name}"


@dataclass(frozen=True)
class CourseLayout:
    """Where a course root keeps its source, release and grading files."""

    root: Path

    @property
    def config(self) -> Path:
        """The ``nbgrader_config.py`` that holds every setting affecting grades."""
        return self.root / CONFIG_FILE

    @property
    def source(self) -> Path:
        """The instructor's notebooks: ``solutions/lab2``."""
        return self.root / SOURCE_FOLDER / ASSIGNMENT

    @property
    def release(self) -> Path:
        """The notebooks students get: ``labs/lab2``."""
        return self.root / RELEASE_FOLDER / ASSIGNMENT

    @property
    def gradebook(self) -> Path:
        return self.root / WORK_FOLDER / GRADEBOOK_FILE

    @property
    def gradebook_url(self) -> str:
        """The gradebook as nbgrader's ``db_url`` (SQLite)."""
        return f"sqlite:///{self.gradebook}"

    def work(self, name: str) -> Path:
        """``course/<name>``: submitted, autograded, feedback, rejected, logs..."""
        return self.root / work_folder(name)

    def student(self, name: str, student: str) -> Path:
        """``course/<name>/<student>/lab2``, one student's folder of the assignment."""
        return self.work(name) / student / ASSIGNMENT


def course_root() -> Path:
    """The course root: ``$PEFTLAB_COURSE_ROOT``, else the checkout this package is in."""
    return Path(os.environ.get(ROOT_VARIABLE) or CHECKOUT)


def layout() -> CourseLayout:
    """The layout of the current course root (read at each call, so tests can point it away)."""
    return CourseLayout(course_root())
