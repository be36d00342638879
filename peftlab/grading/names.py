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
# ... inside one folder per student and grader process, with this prefix: the kernels of one
# student's notebooks share a pre-imported zygote (peftlab.grading.zygote), another student's never.
STUDENT_DIR_PREFIX = "peftlab-student-"
# The environment variable that points the course commands at another course root (tests use a
# scratch copy).
ROOT_VARIABLE = "PEFTLAB_COURSE_ROOT"
CONFIG_FILE = "nbgrader_config.py"
WORK_FOLDER = "course"
GRADEBOOK_FILE = "gradebook.db"
# The gradebook as an SQLAlchemy URL: $PEFTLAB_GRADEBOOK_URL (PostgreSQL, say, for a class graded
# from many machines: postgresql://user:password@host/db), else SQLite under the course root.
GRADEBOOK_URL_VARIABLE = "PEFTLAB_GRADEBOOK_URL"
SQLITE_URL_PREFIX = "sqlite:///"
# Seconds an SQLite writer waits for another's lock before giving up with "database is locked":
# parallel graders each write one student's grades at the end of a run, well under a second.
SQLITE_BUSY_TIMEOUT_S = 60
# The nbgrader exchange, the shared folder releases, submissions and feedback pass through:
# $PEFTLAB_EXCHANGE, else nbgrader's own default, which a plain nbgrader on the same machine (a
# student's Assignment List with no configuration at all) also uses. It must be writable by every
# user, with the sticky bit so nobody deletes what another put there (mode 1777, like /tmp).
EXCHANGE_VARIABLE = "PEFTLAB_EXCHANGE"
DEFAULT_EXCHANGE = "/usr/local/share/nbgrader/exchange"
EXCHANGE_MODE = 0o1777
# Kernel limits of nbgrader's Execute, for grading and for a student's Validate alike: seconds a
# cell may run, and seconds a kernel may take to start (importing torch and peft takes ~9 s).
CELL_TIMEOUT_S = 30
KERNEL_STARTUP_S = 60
# Files nbgrader must not copy between instructor, exchange and students (generate, release,
# submit, collect): its own defaults, and the results and figures a notebook run writes next to the
# notebooks (their out_dir is runs/interactive), which can be hundreds of MB of checkpoints.
IGNORED_FILES = (".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "runs")


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
        """The SQLite gradebook: ``course/gradebook.db``, or the file ``$PEFTLAB_GRADEBOOK_URL``
        names. A server gradebook (PostgreSQL) has no file: then the default path, never made."""
        return sqlite_file(self.gradebook_url) or self.root / WORK_FOLDER / GRADEBOOK_FILE

    @property
    def gradebook_url(self) -> str:
        """The gradebook as nbgrader's ``db_url``: ``$PEFTLAB_GRADEBOOK_URL``, else SQLite under
        ``course/``; an SQLite URL gets a busy timeout unless it names one."""
        default = f"{SQLITE_URL_PREFIX}{self.root / WORK_FOLDER / GRADEBOOK_FILE}"
        url = os.environ.get(GRADEBOOK_URL_VARIABLE) or default
        if sqlite_file(url) is None or "timeout=" in url:
            return url
        return f"{url}{'&' if '?' in url else '?'}timeout={SQLITE_BUSY_TIMEOUT_S}"

    def work(self, name: str) -> Path:
        """``course/<name>``: submitted, autograded, feedback, rejected, logs..."""
        return self.root / work_folder(name)

    def student(self, name: str, student: str) -> Path:
        """``course/<name>/<student>/lab2``, one student's folder of the assignment."""
        return self.work(name) / student / ASSIGNMENT


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite gradebook URL (``sqlite:///PATH[?query]``); None for other URLs."""
    if not url.startswith(SQLITE_URL_PREFIX):
        return None
    return Path(url.removeprefix(SQLITE_URL_PREFIX).split("?", 1)[0])


def course_root() -> Path:
    """The course root: ``$PEFTLAB_COURSE_ROOT``, else the checkout this package is in."""
    return Path(os.environ.get(ROOT_VARIABLE) or CHECKOUT)


def layout() -> CourseLayout:
    """The layout of the current course root (read at each call, so tests can point it away)."""
    return CourseLayout(course_root())
