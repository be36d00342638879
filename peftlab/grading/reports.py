"""Grades as the instructor reads them: points per exercise from the gradebook, and a table."""

from __future__ import annotations

import re

from peftlab.grading.names import ASSIGNMENT, layout


def scores(students: list[str]) -> tuple[list[str], dict[str, dict[str, float]]]:
    """Exercise (test cell) ids in notebook order, and each student's points per exercise.

    Students that were never graded are left out; ``"total"`` holds their total score.
    """
    # nbgrader.api pulls in SQLAlchemy: only the commands that read grades pay for it.
    from nbgrader.api import Gradebook, MissingEntry

    exercises, table = [], {}
    with Gradebook(layout().gradebook_url) as gb:
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
