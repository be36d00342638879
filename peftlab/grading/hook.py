"""Which students are graded on their current files: nbgrader's post-convert hook and its check.

After each student, nbgrader calls :func:`mark_graded` (wired in ``nbgrader_config.py``), which
leaves a marker holding a fingerprint of the student's files and of the grading setup; a student
whose marker still matches is skipped, so an interrupted batch resumes where it stopped.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from peftlab.grading.names import ASSIGNMENT, layout

_MARKER = ".peftlab-graded"


def fingerprint(student: str) -> str:
    """A digest of what grading reads: the student's notebooks (submitted and rejected), the
    config and the source notebooks. Anything else in those folders (a ``runs/`` folder of results
    that a notebook run left next to the notebooks, a submitted data file) does not count."""
    course = layout()
    digest = hashlib.sha256()
    for folder in (course.student("submitted", student), course.student("rejected", student)):
        for path in _notebooks(folder):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for path in [course.config, *_notebooks(course.source)]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _notebooks(folder: Path) -> list[Path]:
    return sorted(path for path in folder.glob("*.ipynb") if path.is_file())


def is_graded(student: str) -> bool:
    """Was this student graded on exactly the current files and setup?"""
    marker = layout().student("autograded", student) / _MARKER
    return marker.exists() and marker.read_text().strip() == fingerprint(student)


def mark_graded(assignment: str, student: str, notebooks: list[str], **_) -> None:
    """nbgrader post-convert hook: remember that this student's current files are graded.

    nbgrader passes ``student="*"`` in a batch, so the student comes from the notebook paths
    (``.../submitted/<student>/lab2/<notebook>.ipynb``).
    """
    if assignment != ASSIGNMENT or not notebooks:
        return
    student = Path(notebooks[0]).parent.parent.name
    folder = layout().student("autograded", student)
    if folder.is_dir():
        (folder / _MARKER).write_text(fingerprint(student) + "\n")
