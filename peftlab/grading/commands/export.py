"""``peftlab course export --csv FILE``: one row per graded student, one column per exercise."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from peftlab.grading.errors import CourseError
from peftlab.grading.gradebook import holds_assignment
from peftlab.grading.intake import submitted_students
from peftlab.grading.names import ASSIGNMENT, layout
from peftlab.grading.reports import scores

HELP = "export grades"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv", type=Path, required=True, help="CSV file to write")


def run(args: argparse.Namespace) -> int:
    export(args.csv)
    return 0


def export(csv_path: Path) -> None:
    """Write one CSV row per graded student: total and points per exercise."""
    if not holds_assignment(layout().gradebook_url, ASSIGNMENT):
        raise CourseError("no gradebook yet: run `peftlab course generate` and `autograde` first")
    exercises, table = scores(submitted_students())
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "total", *exercises])
        for student, row in table.items():
            writer.writerow([student, row["total"], *(row.get(e, 0) for e in exercises)])
    print(f"wrote {len(table)} student(s) to {csv_path}")
