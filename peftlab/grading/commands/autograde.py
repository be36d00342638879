"""``peftlab course autograde``: grade every submission, and print the table.

``--submissions DIR`` first files one sub-folder or ``.zip`` per student (named after the
student) into ``course/submitted/<student>/lab2/``. Grading goes on past any bad submission,
skips students already graded on the same files (so an interrupted batch finishes the rest when
run again; ``--force`` re-grades everyone), and sets aside unreadable notebooks (0 points).

``--workers 1`` grades everyone in one nbgrader run; ``--workers N`` grades N students at a time,
one Dask task each, on a local cluster, and ``--scheduler ADDRESS`` on a running Dask cluster
(:mod:`peftlab.grading.fanout`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from peftlab.grading import sandbox
from peftlab.grading.driver import generate_release, log_file, nbgrader
from peftlab.grading.errors import CourseError
from peftlab.grading.fanout import (
    grade_in_parallel,
    student_time_limit,
    summary,
    timeout_options,
)
from peftlab.grading.gradebook import holds_assignment
from peftlab.grading.hook import is_graded
from peftlab.grading.intake import collect, submitted_students
from peftlab.grading.names import ASSIGNMENT, layout
from peftlab.grading.rejection import reject_broken
from peftlab.grading.reports import print_table

HELP = "autograde submissions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--submissions", type=Path, help="folder with one sub-folder or .zip per student"
    )
    parser.add_argument("--student", help="grade only this student")
    parser.add_argument(
        "--timeout", type=int, help="seconds per cell (default: nbgrader_config.py)"
    )
    parser.add_argument("--force", action="store_true", help="re-grade students already graded")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="students graded at a time, each in its own nbgrader run on a local Dask cluster "
        "(default 1: one serial nbgrader run, as nbgrader does; use the grading machine's cores)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on this running Dask cluster (tcp://host:8786) instead; its workers need the "
        "course root on a shared filesystem and this Python environment",
    )


def run(args: argparse.Namespace) -> int:
    students = collect(args.submissions) if args.submissions else submitted_students()
    submitted = layout().work("submitted")
    if args.student:
        if args.student not in submitted_students():
            raise CourseError(f"no submission for student {args.student!r} in {submitted}")
        students = [args.student]
    if not students:
        raise CourseError(f"nothing to grade in {submitted}")
    if args.timeout is not None and args.timeout < 1:
        raise CourseError(f"--timeout must be at least 1 second, got {args.timeout}")
    if args.workers < 1:
        raise CourseError(f"--workers must be at least 1, got {args.workers}")
    if args.scheduler or args.workers > 1:
        return autograde_in_parallel(
            students, args.workers, args.scheduler, args.timeout, args.force
        )
    return autograde(students, args.timeout, args.force)


def _prepare() -> None:
    """Say whether the sandbox is on; generate the release when it or the gradebook is missing
    (a fresh course root)."""
    print(sandbox.status_line())
    course = layout()
    if not holds_assignment(course.gradebook_url, ASSIGNMENT) or not course.release.is_dir():
        generate_release()


def autograde_in_parallel(
    students: list[str], workers: int, scheduler: str | None, timeout: int | None, force: bool
) -> int:
    """Grade ``students`` one Dask task each; 1 when any could not be graded (tried again by
    the next run), else 0."""
    _prepare()
    start = time.monotonic()
    results = grade_in_parallel(sorted(students), workers, scheduler, timeout, force)
    print(summary(results, time.monotonic() - start))
    print_table(students)
    failed = sorted(r.student for r in results if not r.graded)
    if failed:
        print(
            f"{len(failed)} submission(s) could not be graded (see the logs): {', '.join(failed)}"
        )
    return 1 if failed else 0


def autograde(students: list[str], timeout: int | None, force: bool) -> int:
    """Grade ``students`` in one nbgrader run, skipping those already graded on the same files.

    nbgrader goes on past a student whose grading fails; such students keep no marker, are
    reported here, and are tried again by the next run (as are the rest of an interrupted run).
    """
    _prepare()
    pending = [s for s in students if force or not is_graded(s)]
    for student in sorted(set(students) - set(pending)):
        print(f"{student}: already graded on these files (--force re-grades)")
    failed = []
    if pending:
        for student in pending:
            for note in reject_broken(student):
                print(f"{student}: {note}")
        args = ["autograde", ASSIGNMENT, "--force", *timeout_options(timeout)]
        exclude = sorted(set(submitted_students()) - set(pending))
        if exclude:
            args.append(f"--CourseDirectory.student_id_exclude={','.join(exclude)}")
        log = log_file("autograde")
        start = time.monotonic()
        nbgrader(args, log=log, timeout=student_time_limit(timeout) * len(pending))
        elapsed = time.monotonic() - start
        failed = [s for s in pending if not is_graded(s)]
        print(
            f"graded {len(pending) - len(failed)} of {len(pending)} student(s) in "
            f"{elapsed:.1f} s ({elapsed / len(pending):.1f} s each); log: {log}"
        )
    print_table(students)
    if failed:
        print(f"{len(failed)} submission(s) could not be graded (see the log): {', '.join(failed)}")
    return 1 if failed else 0
