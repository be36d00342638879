"""Filing submissions: one folder or ``.zip`` per student into nbgrader's submitted layout.

Only the assignment's notebooks are taken (the shallowest copy of each name; no symlinks, nothing
over :data:`MAX_NOTEBOOK_BYTES`), so a submission cannot smuggle in other files or point at the
solutions.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import zipfile
from pathlib import Path

from peftlab.grading.errors import CourseError
from peftlab.grading.names import ASSIGNMENT, layout

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def expected_notebooks() -> list[str]:
    """The notebook file names of the assignment, from ``solutions/lab2``."""
    source = layout().source
    names = sorted(p.name for p in source.glob("*.ipynb"))
    if not names:
        raise CourseError(f"no notebooks in {source}")
    return names


def submitted_students() -> list[str]:
    """Students with a ``course/submitted/<student>/lab2`` folder."""
    base = layout().work("submitted")
    return sorted(p.parent.name for p in base.glob(f"*/{ASSIGNMENT}") if p.is_dir())


def collect(submissions: Path) -> list[str]:
    """File ``submissions/<student>{/,.zip}`` into nbgrader's submitted layout; the student ids."""
    if not submissions.is_dir():
        raise CourseError(f"--submissions {submissions}: not a folder")
    wanted = expected_notebooks()
    course = layout()
    students = []
    for entry in sorted(submissions.iterdir()):
        student = entry.name[:-4] if entry.suffix == ".zip" else entry.name
        if entry.is_symlink() or not (entry.is_dir() or entry.suffix == ".zip"):
            continue
        if not _STUDENT_ID.match(student):
            print(f"  {entry.name}: not a usable student id (letters, digits, _.@-); skipped")
            continue
        files = _read_zip(entry, wanted) if entry.suffix == ".zip" else _read_folder(entry, wanted)
        if not files:
            print(f"  {entry.name}: no lab notebooks found; skipped")
            continue
        target = course.student("submitted", student)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for name, data in files.items():
            (target / name).write_bytes(data)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(entry.stat().st_mtime))
        (target / "timestamp.txt").write_text(stamp + ".000000 UTC\n")
        students.append(student)
    print(f"filed {len(students)} submission(s) into {course.work('submitted')}")
    return students


def _pick_notebooks(paths: dict[str, int], wanted: list[str]) -> dict[str, str]:
    """For each wanted file name, the shallowest of ``paths`` (relative, ``/``) ending in it."""
    picked = {}
    for name in wanted:
        hits = [p for p in paths if p.rsplit("/", 1)[-1] == name and "__MACOSX" not in p]
        if hits:
            picked[name] = min(hits, key=lambda p: (p.count("/"), p))
    return picked


def _read_folder(folder: Path, wanted: list[str]) -> dict[str, bytes]:
    found = {}
    for dirpath, _, files in os.walk(folder):  # does not follow symlinked folders
        for name in files:
            path = Path(dirpath, name)
            # A symlink could point at the solutions: only regular files count.
            if name.endswith(".ipynb") and not path.is_symlink() and path.is_file():
                found[path.relative_to(folder).as_posix()] = path.stat().st_size
    picked = _pick_notebooks(found, wanted)
    return {
        name: (folder / rel).read_bytes()
        for name, rel in picked.items()
        if found[rel] <= MAX_NOTEBOOK_BYTES
    }


def _read_zip(archive: Path, wanted: list[str]) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = {i.filename: i.file_size for i in zf.infolist() if not i.is_dir()}
            picked = _pick_notebooks(members, wanted)
            return {
                name: zf.read(rel)
                for name, rel in picked.items()
                if members[rel] <= MAX_NOTEBOOK_BYTES
            }
    except (zipfile.BadZipFile, OSError) as err:
        print(f"  {archive.name}: not a readable zip ({err}); skipped")
        return {}
