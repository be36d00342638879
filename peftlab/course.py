"""``peftlab course``: release, collect, autograde and report lab 2 with nbgrader.

Every setting that affects grades lives in ``nbgrader_config.py`` at the repository root; this
module adds what nbgrader leaves to the instructor::

    peftlab course generate                   # solutions/lab2 -> labs/lab2 (+ gradebook entries)
    peftlab course autograde [--submissions DIR] [--student S] [--timeout SECONDS] [--force]
    peftlab course feedback                   # course/feedback/<student>/lab2/*.html
    peftlab course export --csv FILE          # one row per student, one column per exercise
    peftlab course status                     # who submitted, who is graded, with what score

``--submissions DIR`` files one sub-folder or ``.zip`` per student (named after the student)
into ``course/submitted/<student>/lab2/``. Autograding runs one nbgrader process per student,
goes on past any bad submission, skips students already graded on the same files (so an
interrupted batch finishes the rest when run again; ``--force`` re-grades everyone) and prints a
table of points per exercise. A notebook that is not valid JSON/nbformat is set aside in
``course/rejected/`` and scores 0.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from peftlab.errors import PeftlabError

ASSIGNMENT = "lab2"
# The course root holds nbgrader_config.py, solutions/, labs/ and course/; tests point
# PEFTLAB_COURSE_ROOT at a scratch copy.
ROOT = Path(os.environ.get("PEFTLAB_COURSE_ROOT") or Path(__file__).resolve().parent.parent)
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_MARKER = ".peftlab-graded"


class CourseError(PeftlabError):
    """A course command that cannot go on (missing release, bad submissions folder...)."""


def course_dir(name: str) -> Path:
    """``course/<name>`` under the repository root."""
    return ROOT / "course" / name


def _check_root() -> None:
    if not (ROOT / "nbgrader_config.py").is_file():
        raise CourseError(
            f"{ROOT} has no nbgrader_config.py; run from a peftlab checkout or set "
            "PEFTLAB_COURSE_ROOT"
        )


def expected_notebooks() -> list[str]:
    """The notebook file names of the assignment, from ``solutions/lab2``."""
    names = sorted(p.name for p in (ROOT / "solutions" / ASSIGNMENT).glob("*.ipynb"))
    if not names:
        raise CourseError(f"no notebooks in {ROOT / 'solutions' / ASSIGNMENT}")
    return names


def _nbgrader(args: list[str], log: Path | None = None, timeout: float | None = None) -> int:
    """Run ``nbgrader ARGS`` from the repository root; its output goes to ``log`` (or stays)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    # nbgrader calls `alembic` by name when it creates the gradebook.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    cmd = [sys.executable, "-m", "nbgrader", *args]
    if log is None:
        return subprocess.call(cmd, cwd=ROOT, env=env, timeout=timeout)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        try:
            return subprocess.call(
                cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            out.write(f"\npeftlab: nbgrader ran past {timeout:.0f} s and was stopped\n")
            return 124


def _ensure_gradebook() -> None:
    if not (ROOT / "course" / "gradebook.db").exists() or not (ROOT / "labs" / ASSIGNMENT).is_dir():
        generate()


def generate() -> int:
    """Generate ``labs/lab2`` from ``solutions/lab2`` and record the assignment in the gradebook."""
    expected_notebooks()
    log = course_dir("logs") / "generate.log"
    if _nbgrader(["generate_assignment", ASSIGNMENT, "--force"], log=log) != 0:
        raise CourseError(f"nbgrader generate_assignment failed; see {log}")
    print(f"generated {ROOT / 'labs' / ASSIGNMENT} ({len(expected_notebooks())} notebooks)")
    return 0


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
    import zipfile

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


def collect(submissions: Path) -> list[str]:
    """File ``submissions/<student>{/,.zip}`` into nbgrader's submitted layout; the student ids."""
    if not submissions.is_dir():
        raise CourseError(f"--submissions {submissions}: not a folder")
    wanted = expected_notebooks()
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
        target = course_dir("submitted") / student / ASSIGNMENT
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for name, data in files.items():
            (target / name).write_bytes(data)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(entry.stat().st_mtime))
        (target / "timestamp.txt").write_text(stamp + ".000000 UTC\n")
        students.append(student)
    print(f"filed {len(students)} submission(s) into {course_dir('submitted')}")
    return students


def submitted_students() -> list[str]:
    """Students with a ``course/submitted/<student>/lab2`` folder."""
    base = course_dir("submitted")
    return sorted(p.parent.name for p in base.glob(f"*/{ASSIGNMENT}") if p.is_dir())


def _reject_broken(student: str) -> list[str]:
    """Set aside notebooks nbformat cannot read; one note per notebook.

    The file moves to ``course/rejected/<student>/lab2/`` (with the reason) and an empty
    notebook takes its place, which the autograder grades like any other: 0 points, the batch
    goes on.
    """
    import nbformat

    notes = []
    folder = course_dir("submitted") / student / ASSIGNMENT
    for path in sorted(folder.glob("*.ipynb")):
        try:
            nbformat.validate(nbformat.read(path, as_version=4))
            continue
        except Exception as err:  # noqa: BLE001 - any parse or schema failure rejects the file
            reason = " ".join(str(err).split())[:200]
        dest = course_dir("rejected") / student / ASSIGNMENT
        dest.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), dest / path.name)
        (dest / (path.name + ".reason.txt")).write_text(reason + "\n")
        placeholder = nbformat.v4.new_notebook(metadata={"peftlab": {"rejected": reason}})
        nbformat.write(placeholder, path)
        notes.append(f"{path.name}: unreadable notebook, scored 0 ({reason[:80]})")
    return notes


def _fingerprint(student: str) -> str:
    digest = hashlib.sha256()
    for base in (course_dir("submitted"), course_dir("rejected")):
        for path in sorted((base / student / ASSIGNMENT).glob("*")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for path in [ROOT / "nbgrader_config.py", *sorted((ROOT / "solutions" / ASSIGNMENT).glob("*"))]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _is_graded(student: str) -> bool:
    marker = course_dir("autograded") / student / ASSIGNMENT / _MARKER
    return marker.exists() and marker.read_text().strip() == _fingerprint(student)


def mark_graded(assignment: str, student: str, notebooks: list[str], **_) -> None:
    """nbgrader post-convert hook: remember that this student's current files are graded.

    nbgrader passes ``student="*"`` in a batch, so the student comes from the notebook paths
    (``.../submitted/<student>/lab2/<notebook>.ipynb``).
    """
    if assignment != ASSIGNMENT or not notebooks:
        return
    student = Path(notebooks[0]).parent.parent.name
    folder = course_dir("autograded") / student / ASSIGNMENT
    if folder.is_dir():
        (folder / _MARKER).write_text(_fingerprint(student) + "\n")


def autograde(students: list[str], timeout: int | None, force: bool) -> int:
    """Grade ``students`` in one nbgrader run, skipping those already graded on the same files.

    nbgrader goes on past a student whose grading fails; such students keep no marker, are
    reported here, and are tried again by the next run (as are the rest of an interrupted run).
    """
    from peftlab import sandbox

    print(sandbox.status_line())
    _ensure_gradebook()
    pending = [s for s in students if force or not _is_graded(s)]
    for student in sorted(set(students) - set(pending)):
        print(f"{student}: already graded on these files (--force re-grades)")
    failed = []
    if pending:
        for student in pending:
            for note in _reject_broken(student):
                print(f"{student}: {note}")
        args = ["autograde", ASSIGNMENT, "--force"]
        exclude = sorted(set(submitted_students()) - set(pending))
        if exclude:
            args.append(f"--CourseDirectory.student_id_exclude={','.join(exclude)}")
        if timeout is not None:
            args += [f"--Execute.timeout={timeout}", f"--GuardedExecute.canary_timeout={timeout}"]
        per_student = 60 + 40 * (timeout or 30) * len(expected_notebooks())
        log = course_dir("logs") / "autograde.log"
        start = time.monotonic()
        _nbgrader(args, log=log, timeout=per_student * len(pending))
        elapsed = time.monotonic() - start
        failed = [s for s in pending if not _is_graded(s)]
        print(
            f"graded {len(pending) - len(failed)} of {len(pending)} student(s) in "
            f"{elapsed:.1f} s ({elapsed / len(pending):.1f} s each); log: {log}"
        )
    print_table(students)
    if failed:
        print(f"{len(failed)} submission(s) could not be graded (see the log): {', '.join(failed)}")
    return 1 if failed else 0


def scores(students: list[str]) -> tuple[list[str], dict[str, dict[str, float]]]:
    """Exercise (test cell) ids in notebook order, and each student's points per exercise.

    Students that were never graded are left out; ``"total"`` holds their total score.
    """
    from nbgrader.api import Gradebook, MissingEntry

    exercises, table = [], {}
    with Gradebook(f"sqlite:///{ROOT / 'course' / 'gradebook.db'}") as gb:
        assignment = gb.find_assignment(ASSIGNMENT)
        for notebook in assignment.notebooks:
            exercises += [cell.name for cell in notebook.grade_cells]
        for student in students:
            try:
                sub = gb.find_submission(ASSIGNMENT, student)
            except MissingEntry:
                continue
            row = {grade.name: grade.score for nb in sub.notebooks for grade in nb.grades}
            row["total"] = sub.score
            table[student] = row
    return exercises, table


def print_table(students: list[str]) -> None:
    """Print student, total and points per exercise."""
    exercises, table = scores(students)
    short = [re.sub(r"-tests?$", "", name) for name in exercises]
    widths = [max(len(s), 4) for s in short]
    print(
        "student".ljust(16)
        + "total".rjust(7)
        + "  "
        + " ".join(s.rjust(w) for s, w in zip(short, widths))
    )
    for student, row in table.items():
        cells = " ".join(f"{row.get(e, 0):{w}.4g}" for e, w in zip(exercises, widths))
        print(student[:16].ljust(16) + f"{row['total']:7.4g}  " + cells)


def feedback() -> int:
    """Write feedback HTML (no hidden tests) for every autograded student."""
    log = course_dir("logs") / "feedback.log"
    if _nbgrader(["generate_feedback", ASSIGNMENT, "--force"], log=log) != 0:
        raise CourseError(f"nbgrader generate_feedback failed; see {log}")
    count = len(list(course_dir("feedback").glob(f"*/{ASSIGNMENT}/*.html")))
    print(f"wrote {count} feedback file(s) under {course_dir('feedback')}")
    return 0


def export(csv_path: Path) -> int:
    """Write one CSV row per graded student: total, max and points per exercise."""
    import csv

    if not (ROOT / "course" / "gradebook.db").exists():
        raise CourseError("no gradebook yet: run `peftlab course generate` and `autograde` first")
    exercises, table = scores(submitted_students())
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "total", *exercises])
        for student, row in table.items():
            writer.writerow([student, row["total"], *(row.get(e, 0) for e in exercises)])
    print(f"wrote {len(table)} student(s) to {csv_path}")
    return 0


def status() -> int:
    """Show each submitted student's notebooks, rejected files and grading state."""
    students = submitted_students()
    if not students:
        print(f"no submissions in {course_dir('submitted')}")
        return 0
    graded = scores(students)[1] if (ROOT / "course" / "gradebook.db").exists() else {}
    for student in students:
        count = len(list((course_dir("submitted") / student / ASSIGNMENT).glob("*.ipynb")))
        rejected = len(list((course_dir("rejected") / student / ASSIGNMENT).glob("*.ipynb")))
        state = (
            "graded, up to date"
            if _is_graded(student)
            else "graded, outdated"
            if student in graded
            else "not graded"
        )
        total = f", total {graded[student]['total']:.4g}" if student in graded else ""
        extra = f", {rejected} rejected" if rejected else ""
        print(f"{student}: {count} notebook(s){extra}; {state}{total}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="peftlab course", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("generate", help="generate labs/lab2 from solutions/lab2")
    grade = sub.add_parser("autograde", help="autograde submissions")
    grade.add_argument(
        "--submissions", type=Path, help="folder with one sub-folder or .zip per student"
    )
    grade.add_argument("--student", help="grade only this student")
    grade.add_argument("--timeout", type=int, help="seconds per cell (default: nbgrader_config.py)")
    grade.add_argument("--force", action="store_true", help="re-grade students already graded")
    sub.add_parser("feedback", help="generate feedback HTML without hidden tests")
    exp = sub.add_parser("export", help="export grades")
    exp.add_argument("--csv", type=Path, required=True, help="CSV file to write")
    sub.add_parser("status", help="show submitted and graded students")
    return parser


def main(argv: list[str]) -> int:
    """Run ``peftlab course ARGV``; the exit status."""
    args = _parser().parse_args(argv)
    try:
        _check_root()
        if args.command == "generate":
            return generate()
        if args.command == "autograde":
            students = collect(args.submissions) if args.submissions else submitted_students()
            if args.student:
                if args.student not in submitted_students():
                    raise CourseError(
                        f"no submission for student {args.student!r} in {course_dir('submitted')}"
                    )
                students = [args.student]
            if not students:
                raise CourseError(f"nothing to grade in {course_dir('submitted')}")
            if args.timeout is not None and args.timeout < 1:
                raise CourseError(f"--timeout must be at least 1 second, got {args.timeout}")
            return autograde(students, args.timeout, args.force)
        if args.command == "feedback":
            return feedback()
        if args.command == "export":
            return export(args.csv)
        return status()
    except PeftlabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to grade the rest", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
