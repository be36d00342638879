"""Autograding throughput: one serial nbgrader run vs ``--workers N`` on Dask, same class.

A synthetic class (default 40 students) is built from the source notebooks: solutions, blank
copies (answer cells emptied), partial answers (some answers replaced by the wrong answers of
``tests/files/variants/<grade_id>/wrong_*.py``) and hostile cases from ``tests/files/hostile/``
(hanging, dying and memory-bombing kernels, corrupt files, patched helpers...). The same
submissions are graded twice, each in a fresh scratch copy of the course generated once:
``peftlab course autograde --workers 1`` (one nbgrader run) and ``--workers N`` (a local Dask
cluster). It prints a markdown table (students per minute, p50/p99 seconds per student) and checks
that every student's points, cell by cell, are identical in both gradebooks. Usage:

    .venv/bin/python benchmarks/grading.py [--students 40] [--workers 2] [--timeout 10]
        [--whole-lab] [--baseline N]

By default the course holds only the quiz (06_quiz.ipynb: no torch, seconds a student);
``--whole-lab`` grades all notebooks of the lab, whose kernels fork from one pre-imported zygote
per student (:mod:`peftlab.grading.zygote`). ``--baseline N`` also grades the first N students
serially with fresh kernels (``PEFTLAB_ZYGOTE=off``, as before the zygote) in a third copy: its
row shows what the zygote saves, and their grades must be identical too. Serial seconds per student
come from the times nbgrader's hook marked each student graded; parallel ones from the batch
ledger. Speed-up is bounded by the cores: each grading keeps about one core busy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "solutions" / "lab2"
QUIZ = "06_quiz.ipynb"
VARIANTS = ROOT / "tests" / "files" / "variants"
HOSTILE = ROOT / "tests" / "files" / "hostile"
HOSTILE_CASES = [
    "loop_forever",
    "os_exit",
    "memory_bomb",
    "corrupted_json",
    "empty_notebook",
    "patched_helpers",
    "huge_output",
    "deleted_test_cell",
]


def _answers(nb) -> list:
    """The answer cells (nbgrader ``solution`` cells that are not graded themselves)."""
    meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    return [c for c, m in zip(nb.cells, meta) if m.get("solution") and not m.get("grade")]


def build_class(folder: Path, notebooks: list[Path], students: int) -> list[str]:
    """``students`` submissions under ``folder``, cycling through the kinds; their names."""
    hostile = [case for case in HOSTILE_CASES if (HOSTILE / case / QUIZ).is_file()]
    kinds = ["solution", "blank", "partial", "partial", "hostile"]
    for i in range(students):
        kind = kinds[i % len(kinds)]
        target = folder / f"{kind}{i:03d}"
        if kind == "hostile" and hostile:
            shutil.copytree(HOSTILE / hostile[(i // len(kinds)) % len(hostile)], target)
            for path in notebooks:
                if not (target / path.name).exists():
                    shutil.copy(path, target)
            continue
        target.mkdir(parents=True)
        for path in notebooks:
            nb = nbformat.read(path, as_version=4)
            for k, cell in enumerate(_answers(nb)):
                if kind == "blank":
                    cell.source = ""
                elif kind == "partial" and (i + k) % 2:
                    grade_id = cell.metadata["nbgrader"]["grade_id"]
                    wrong = sorted((VARIANTS / grade_id).glob("wrong_*.py"))
                    if wrong:
                        cell.source = wrong[(i + k) % len(wrong)].read_text()
            nbformat.write(nb, target / path.name)
    return sorted(p.name for p in folder.iterdir())


def course(*args: str, root: Path, **extra_env: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PEFTLAB_COURSE_ROOT=str(root), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1",
               **extra_env)
    cmd = [sys.executable, "-m", "peftlab.grading", *args]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"peftlab course {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def points(root: Path) -> dict[str, dict[str, float]]:
    """Each student's points per graded cell, from this course root's gradebook."""
    from nbgrader.api import Gradebook

    from peftlab.grading.names import CourseLayout

    with Gradebook(CourseLayout(root).gradebook_url) as gb:
        return {
            sub.student.id: {g.name: g.score for nb in sub.notebooks for g in nb.grades}
            for sub in gb.find_assignment("lab2").submissions
        }


def serial_seconds(root: Path, start: float) -> list[float]:
    """Seconds per student of one nbgrader run: gaps between the hook's graded markers."""
    from peftlab.grading.names import CourseLayout

    marks = sorted(p.stat().st_mtime for p in CourseLayout(root).work("autograded").glob("*/*/.*"))
    times = [start, *marks]
    return [b - a for a, b in zip(times, times[1:])]


def parallel_seconds(root: Path) -> list[float]:
    """Seconds per student of the Dask run, from its ledger."""
    from peftlab.grading.fanout import LEDGER
    from peftlab.grading.names import CourseLayout

    ledger = CourseLayout(root).work("logs") / "autograde" / LEDGER
    rows = [line.split("\t") for line in ledger.read_text().splitlines()]
    return [float(row[4]) for row in rows if row[2] == "graded"]


def row(mode: str, n: int, wall: float, seconds: list[float]) -> str:
    from peftlab.grading.fanout import percentile

    p50, p99 = percentile(sorted(seconds), 50), percentile(sorted(seconds), 99)
    return f"| {mode} | {n} | {wall:.0f} | {60 * n / wall:.2f} | {p50:.1f} | {p99:.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=10, help="seconds per cell")
    parser.add_argument("--whole-lab", action="store_true", help="all six notebooks, not the quiz")
    parser.add_argument("--baseline", type=int, default=0, metavar="N",
                        help="also grade the first N students serially without the zygote")
    args = parser.parse_args()

    notebooks = sorted(SOURCE.glob("*.ipynb"))
    if not args.whole_lab:
        notebooks = [p for p in notebooks if p.name == QUIZ]
    with tempfile.TemporaryDirectory(prefix="peftlab-grading-bench-") as tmp:
        base = Path(tmp)
        serial_root = base / "serial"
        (serial_root / "solutions" / "lab2").mkdir(parents=True)
        shutil.copy(ROOT / "nbgrader_config.py", serial_root)
        for path in notebooks:
            shutil.copy(path, serial_root / "solutions" / "lab2")
        students = build_class(base / "submissions", notebooks, args.students)
        course("generate", root=serial_root)
        parallel_root = base / "parallel"
        shutil.copytree(serial_root, parallel_root)
        baseline_root = base / "baseline"
        shutil.copytree(serial_root, baseline_root)
        graded = ["autograde", "--submissions", str(base / "submissions")]
        graded += ["--timeout", str(args.timeout)]

        serial_start = time.time()
        course(*graded, "--workers", "1", root=serial_root)
        serial_wall = time.time() - serial_start
        start = time.time()
        course(*graded, "--workers", str(args.workers), root=parallel_root)
        parallel_wall = time.time() - start

        if args.baseline:
            few = base / "baseline-submissions"
            few.mkdir()
            for name in students[: args.baseline]:
                shutil.copytree(base / "submissions" / name, few / name)
            baseline_start = time.time()
            course("autograde", "--submissions", str(few), "--timeout", str(args.timeout),
                   "--workers", "1", root=baseline_root, PEFTLAB_ZYGOTE="off")
            baseline_wall = time.time() - baseline_start

        serial, parallel = points(serial_root), points(parallel_root)
        differ = sorted(s for s in students if serial.get(s) != parallel.get(s))
        if args.baseline:
            baseline = points(baseline_root)
            differ += sorted(s for s in baseline if serial.get(s) != baseline[s])
        what = "whole lab" if args.whole_lab else "quiz only"
        print(
            f"\n{len(students)} students ({what}, --timeout {args.timeout}), "
            f"{os.cpu_count()} CPUs\n"
        )
        print("| run | students | wall s | students/min | p50 s/student | p99 s/student |")
        print("|---|---|---|---|---|---|")
        print(
            row(
                "serial (--workers 1)",
                len(students),
                serial_wall,
                serial_seconds(serial_root, serial_start),
            )
        )
        print(
            row(
                f"Dask (--workers {args.workers})",
                len(students),
                parallel_wall,
                parallel_seconds(parallel_root),
            )
        )
        if args.baseline:
            print(
                row(
                    "serial, fresh kernels (PEFTLAB_ZYGOTE=off)",
                    args.baseline,
                    baseline_wall,
                    serial_seconds(baseline_root, baseline_start),
                )
            )
        print(f"\nspeed-up: {serial_wall / parallel_wall:.2f}x")
        cells = sum(len(v) for v in serial.values())
        missing = sorted(set(students) - set(serial) - set(parallel))
        if differ or missing:
            sys.exit(f"grades differ for {differ}; missing {missing}")
        runs = "all three runs" if args.baseline else "both runs"
        print(f"grades identical in {runs}: {len(students)} students, {cells} graded cells")


if __name__ == "__main__":
    main()
