"""What the nbgrader plug-ins read from executed cells and the notes they write into them."""

from __future__ import annotations

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.utils import is_grade, is_solution

# The grader's own error notes (``ename``); feedback shows them as they are, they quote no test.
TAMPERING = "TamperingDetected"
KERNEL_DIED = "KernelDied"
GRADER_ERRORS = {TAMPERING, KERNEL_DIED, DeadKernelError.__name__, CellTimeoutError.__name__}


def error_output(ename: str, evalue: str) -> NotebookNode:
    """An ``error`` output, which makes nbgrader give the cell 0 points."""
    return NotebookNode(
        output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


def has_error(cell: NotebookNode) -> bool:
    """Did this executed cell fail (error output or stderr, as nbgrader counts it)?"""
    return any(
        out.output_type == "error" or (out.output_type == "stream" and out.get("name") == "stderr")
        for out in cell.get("outputs", [])
    )


def is_test_cell(cell: NotebookNode) -> bool:
    """Is this an autograder test cell (graded, not a student's answer)?"""
    return is_grade(cell) and not is_solution(cell) and cell.cell_type == "code"


def grade_id(cell: NotebookNode) -> str | None:
    """The cell's nbgrader ``grade_id``, or ``None`` for an ordinary (or malformed) cell."""
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None
