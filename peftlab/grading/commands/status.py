"""``peftlab course status``: who submitted, who is graded, with what score."""

from __future__ import annotations

import argparse

from peftlab.grading.gradebook import holds_assignment
from peftlab.grading.hook import is_graded
from peftlab.grading.intake import submitted_students
from peftlab.grading.names import ASSIGNMENT, layout
from peftlab.grading.reports import scores

HELP = "show submitted and graded students"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``status`` takes no options."""


def run(args: argparse.Namespace) -> int:
    """Show each submitted student's notebooks, rejected files and grading state."""
    course = layout()
    students = submitted_students()
    if not students:
        print(f"no submissions in {course.work('submitted')}")
        return 0
    graded = scores(students)[1] if holds_assignment(course.gradebook_url, ASSIGNMENT) else {}
    for student in students:
        count = len(list(course.student("submitted", student).glob("*.ipynb")))
        rejected = len(list(course.student("rejected", student).glob("*.ipynb")))
        state = (
            "graded, up to date"
            if is_graded(student)
            else "graded, outdated"
            if student in graded
            else "not graded"
        )
        total = f", total {graded[student]['total']:.4g}" if student in graded else ""
        extra = f", {rejected} rejected" if rejected else ""
        print(f"{student}: {count} notebook(s){extra}; {state}{total}")
    return 0
