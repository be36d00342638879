"""Grading a class in parallel on Dask distributed: one task per student.

nbgrader has no parallel autograde (jupyter/nbgrader#174), so each student is one Dask task that
runs ``nbgrader autograde lab2 --student S --force`` against the shared course root, in its own
sandboxed grading kernel; nbgrader writes that student's grades to the gradebook itself (SQLite
with a busy timeout, or PostgreSQL: see :attr:`~peftlab.grading.names.CourseLayout.gradebook_url`),
so plain ``nbgrader export`` lists every student.

The cluster is a local one of N worker processes (one student at a time each), or a running one
given by its scheduler address (dask-kubernetes, Dask Gateway, dask-jobqueue): its workers need
the course root at the same path (a shared filesystem) and the same Python environment.

A worker that dies mid-student takes its nbgrader and kernels with it (``die_with_caller``), and
Dask gives the task to another worker, which grades that student again from scratch. A student
whose grading finished but whose worker died before reporting it is recognised by the batch mark
and not graded twice. Every task start and finish is appended to ``course/logs/autograde/
ledger.tsv`` (batch, student, event, worker, seconds), the record of who was graded how often.
"""

from __future__ import annotations

import logging
import os
import socket
import statistics
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from peftlab.grading.driver import nbgrader
from peftlab.grading.errors import CourseError
from peftlab.grading.hook import is_graded
from peftlab.grading.intake import expected_notebooks
from peftlab.grading.names import (
    ASSIGNMENT,
    CONFIG_FILE,
    GRADEBOOK_URL_VARIABLE,
    ROOT_VARIABLE,
    layout,
)
from peftlab.grading.rejection import reject_broken
from peftlab.grading.reports import scores

# In course/autograded/<student>/lab2/: the batch that graded these files (see grade_student).
_BATCH_MARK = ".peftlab-batch"
LEDGER = "ledger.tsv"


@dataclass(frozen=True)
class Graded:
    """What became of one student in a batch."""

    student: str
    graded: bool  # nbgrader graded the current files (now or in an earlier run)
    seconds: float
    score: float | None = None
    skipped: str = ""  # why nothing was run (already graded)
    problem: str = ""  # why grading failed
    notes: tuple[str, ...] = ()  # notebooks set aside as unreadable

    def line(self) -> str:
        """One line for the instructor: student, score, seconds (or why not)."""
        if self.skipped:
            return f"{self.student}: {self.skipped}"
        if not self.graded:
            return f"{self.student}: NOT graded: {self.problem}"
        score = "no score" if self.score is None else f"{self.score:.4g} points"
        extra = "".join(f"; {note}" for note in self.notes)
        return f"{self.student}: {score} in {self.seconds:.1f} s{extra}"


def timeout_options(timeout: int | None) -> list[str]:
    """nbgrader options for ``--timeout`` seconds per cell (none: nbgrader_config.py's)."""
    if timeout is None:
        return []
    return [f"--Execute.timeout={timeout}", f"--GuardedExecute.canary_timeout={timeout}"]


def student_time_limit(timeout: int | None) -> float:
    """Seconds one student's grading may take before nbgrader is stopped: every cell timing out
    and its kernel restarting, in every notebook."""
    return 60 + 40 * (timeout or 30) * len(expected_notebooks())


def student_log(student: str) -> Path:
    """``course/logs/autograde/<student>.log``: nbgrader's output for this student."""
    return layout().work("logs") / "autograde" / f"{student}.log"


def grade_student(
    root: str, gradebook_url: str, student: str, batch: str, timeout: int | None, force: bool
) -> Graded:
    """Grade one student: the body of a Dask task, run on a worker.

    Args:
        root: the course root, the same path on every worker (a shared filesystem).
        gradebook_url: the client's gradebook (the workers' environment may not have it).
        batch: this batch's id; a student this batch already graded is not graded again (a
            worker that died after grading, before reporting, has its task run once more).
        force: re-grade a student already graded on the same files by an earlier batch.
    """
    os.environ[ROOT_VARIABLE] = root
    os.environ[GRADEBOOK_URL_VARIABLE] = gradebook_url
    start = time.monotonic()
    if not Path(root, CONFIG_FILE).is_file():
        problem = f"worker {socket.gethostname()} does not see {root}: use a shared filesystem"
        return Graded(student, graded=False, seconds=0.0, problem=problem)
    mark = layout().student("autograded", student) / _BATCH_MARK
    if is_graded(student) and mark.is_file() and mark.read_text().strip() == batch:
        return Graded(student, True, 0.0, _total(student), skipped="graded in this batch")
    if not force and is_graded(student):
        return Graded(
            student,
            True,
            0.0,
            _total(student),
            skipped="already graded on these files (--force re-grades)",
        )
    _record(batch, student, "started")
    notes = tuple(reject_broken(student))
    args = ["autograde", ASSIGNMENT, "--student", student, "--force", *timeout_options(timeout)]
    log = student_log(student)
    status = nbgrader(args, log=log, timeout=student_time_limit(timeout), die_with_caller=True)
    seconds = time.monotonic() - start
    if status != 0 or not is_graded(student):
        problem = f"nbgrader exited with status {status}; see {log}"
        return Graded(student, graded=False, seconds=seconds, problem=problem)
    mark.write_text(batch + "\n")
    _record(batch, student, "graded", seconds)
    return Graded(student, True, seconds, _total(student), notes=notes)


def _total(student: str) -> float | None:
    """The student's total score in the gradebook."""
    row = scores([student])[1].get(student)
    return None if row is None else row["total"]


def _record(batch: str, student: str, event: str, seconds: float = 0.0) -> None:
    """Append one line to the ledger (one ``write`` on an ``O_APPEND`` file: lines never mix)."""
    ledger = layout().work("logs") / "autograde" / LEDGER
    ledger.parent.mkdir(parents=True, exist_ok=True)
    line = f"{batch}\t{student}\t{event}\t{socket.gethostname()}:{os.getpid()}\t{seconds:.1f}\n"
    fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_ledger(batch: str | None = None) -> list[tuple[str, str, str]]:
    """The ledger's (batch, student, event) lines, of one batch or all."""
    ledger = layout().work("logs") / "autograde" / LEDGER
    if not ledger.is_file():
        return []
    rows = [tuple(line.split("\t")[:3]) for line in ledger.read_text().splitlines()]
    return [row for row in rows if batch is None or row[0] == batch]


@contextmanager
def _client(workers: int, scheduler: str | None) -> Iterator:
    """A Dask client: of the cluster at ``scheduler``, else of a local cluster of ``workers``
    processes, one thread each (one student at a time per worker)."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as err:
            raise CourseError(
                f"cannot reach the Dask scheduler at {scheduler} ({err}): start the cluster "
                "first or fix --scheduler"
            ) from None
        with client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    with cluster, Client(cluster) as client:
        yield client


def grade_in_parallel(
    students: list[str], workers: int, scheduler: str | None, timeout: int | None, force: bool
) -> list[Graded]:
    """Grade ``students`` as one Dask task each; one line per student as each finishes, under a
    progress bar with an ETA. The results in order of completion."""
    from distributed import as_completed
    from tqdm import tqdm

    course = layout()
    batch = time.strftime("%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6]
    results = []
    with _client(workers, scheduler) as client:
        futures = {
            client.submit(
                grade_student,
                str(course.root),
                course.gradebook_url,
                student,
                batch,
                timeout,
                force,
                key=f"grade-{student}-{batch}",
                pure=False,
            ): student
            for student in students
        }
        where = scheduler or f"a local Dask cluster of {workers} workers"
        print(f"grading {len(students)} student(s) on {where}; batch {batch}", flush=True)
        with tqdm(total=len(students), unit="student", desc="autograde", file=sys.stderr) as bar:
            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception as err:  # noqa: BLE001 - a lost task is one student's failure
                    problem = " ".join(f"{type(err).__name__}: {err}".split())[:300]
                    result = Graded(futures[future], graded=False, seconds=0.0, problem=problem)
                bar.write(result.line(), file=sys.stdout)
                bar.update()
                results.append(result)
    return results


def summary(results: list[Graded], elapsed: float) -> str:
    """Students graded, per minute, and the median and 99th-percentile seconds per student."""
    ran = sorted(r.seconds for r in results if r.graded and not r.skipped)
    done = sum(r.graded for r in results)
    line = f"graded {done} of {len(results)} student(s) in {elapsed:.1f} s"
    if ran:
        line += (
            f" ({60 * len(ran) / elapsed:.1f} per minute; per student p50 "
            f"{percentile(ran, 50):.1f} s, p99 {percentile(ran, 99):.1f} s)"
        )
    return line + f"; logs: {layout().work('logs') / 'autograde'}"


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (linear interpolation; one value: itself)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
