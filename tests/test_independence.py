"""Does a blank or wrong answer cost only its own points? (in-process, no kernel)

nbgrader runs every cell of a notebook in order and scores each test cell on its own: an error
stops that cell, not the cells after it. These tests replay the graded cells of each
``solutions/lab2`` notebook that way in one namespace (answers and their test cells, in order;
``variants/<notebook>.py`` first and ``variants/<grade_id>/preamble.py`` before its answer stand
in for the non-graded cells, as in ``tests/test_discrimination.py``), with one exercise's answer
replaced by the release's blank body (``raise NotImplementedError()``, made by nbgrader's own
ClearSolutions) or by one of its wrong variants, and check that every later exercise of the
notebook keeps its full points: each of its test cells runs through without an error and writes
nothing to stderr.
"""

from __future__ import annotations

import ast
import io
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from nbgrader.preprocessors import ClearSolutions
from test_discrimination import SOURCE, VARIANTS, _meta


@dataclass
class Exercise:
    """One graded answer cell of a notebook and the test cells that follow it."""

    grade_id: str
    answer: str
    tests: list[tuple[str, str]] = field(default_factory=list)  # (grade_id, source)


def notebook_exercises(path: Path) -> list[Exercise]:
    """The graded exercises of one notebook, in order."""
    found: list[Exercise] = []
    for cell in nbformat.read(path, as_version=4).cells:
        meta = _meta(cell)
        if cell.cell_type != "code":
            continue
        if meta.get("solution") and not meta.get("grade"):
            found.append(Exercise(meta["grade_id"], cell.source))
        elif meta.get("grade") and found:
            found[-1].tests.append((meta["grade_id"], cell.source))
    return found


def blank(answer: str) -> str:
    """The answer cell as the release has it: each solution region replaced by nbgrader's stub."""
    cell = nbformat.v4.new_code_cell(answer, metadata={"nbgrader": {"solution": True}})
    notebook = nbformat.v4.new_notebook(cells=[cell])
    released, _ = ClearSolutions().preprocess(notebook, {})
    return released.cells[0].source


def failing_tests(notebook: str, exercises: list[Exercise], answers: dict[str, str]) -> dict:
    """Replay the notebook's graded cells with ``answers`` in place of some answer cells.

    Returns:
        ``{test grade_id: why}`` for every test cell that would lose its points: it raised (why:
        the exception) or wrote to stderr (why: what it wrote).
    """
    namespace: dict = {"__name__": "__main__"}
    failed = {}
    setup = VARIANTS / f"{notebook}.py"
    if setup.exists():
        exec(compile(setup.read_text(), str(setup), "exec"), namespace)
    for exercise in exercises:
        preamble = VARIANTS / exercise.grade_id / "preamble.py"
        cells = [(exercise.grade_id, exercise.answer)] + exercise.tests
        if preamble.exists():
            cells.insert(0, (f"{exercise.grade_id} preamble", preamble.read_text()))
        source_of = {exercise.grade_id: answers.get(exercise.grade_id, exercise.answer)}
        for grade_id, source in cells:
            stderr = io.StringIO()
            try:
                with redirect_stdout(io.StringIO()), redirect_stderr(stderr):
                    code = compile(source_of.get(grade_id, source), f"<{grade_id}>", "exec")
                    exec(code, namespace)
            except Exception as err:  # noqa: BLE001 - a kernel reports any error and goes on
                failed[grade_id] = f"{type(err).__name__}: {err}"
            else:
                if stderr.getvalue():
                    failed[grade_id] = f"wrote to stderr: {stderr.getvalue()[:200]!r}"
    return failed


NOTEBOOKS = {path.stem: notebook_exercises(path) for path in sorted(SOURCE.glob("*.ipynb"))}
CASES = [
    (notebook, index, variant)
    for notebook, exercises in NOTEBOOKS.items()
    for index, exercise in enumerate(exercises[:-1])  # the last one has no later exercise
    for variant in ["blank", *sorted(VARIANTS.glob(f"{exercise.grade_id}/wrong_*.py"))]
]


def _case_id(case) -> str:
    notebook, index, variant = case
    name = variant if variant == "blank" else variant.stem
    return f"{NOTEBOOKS[notebook][index].grade_id}/{name}"


def later_tests(exercises: list[Exercise], index: int) -> list[str]:
    """The grade ids of the test cells of the exercises after ``exercises[index]``."""
    return [grade_id for later in exercises[index + 1 :] for grade_id, _ in later.tests]


def test_every_notebook_passes_with_its_own_answers():
    """With the instructor's answers, does every test cell of every notebook pass in one replay?"""
    assert CASES, "no notebook of solutions/lab2 has two graded exercises"
    for notebook, exercises in NOTEBOOKS.items():
        assert failing_tests(notebook, exercises, {}) == {}, notebook


@pytest.mark.parametrize("notebook,index,variant", CASES, ids=[_case_id(c) for c in CASES])
def test_later_exercises_keep_their_points(notebook, index, variant):
    """With this exercise blank (or wrong), do the notebook's later exercises keep all points?"""
    exercises = NOTEBOOKS[notebook]
    exercise = exercises[index]
    answer = blank(exercise.answer) if variant == "blank" else variant.read_text()
    failed = failing_tests(notebook, exercises, {exercise.grade_id: answer})
    assert any(grade_id in failed for grade_id, _ in exercise.tests), (
        f"{exercise.grade_id}: its own tests accept this answer, so the case proves nothing"
    )
    lost = {gid: why for gid, why in failed.items() if gid in later_tests(exercises, index)}
    assert lost == {}, f"{exercise.grade_id} {_case_id((notebook, index, variant))} costs {lost}"


def _defined(source: str) -> set[str]:
    """The names a cell binds at its top level (functions, classes, assignments, imports)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    return names


def test_no_preamble_stands_in_for_an_answer():
    """Does every preamble stand in for non-graded cells only, never for an exercise's answer?

    A preamble that defined an earlier answer would hide a test cell's use of it from the replay.
    """
    for notebook, exercises in NOTEBOOKS.items():
        answered = set().union(*(_defined(exercise.answer) for exercise in exercises))
        for exercise in exercises:
            preamble = VARIANTS / exercise.grade_id / "preamble.py"
            if preamble.exists():
                shared = _defined(preamble.read_text()) & answered
                assert not shared, f"{preamble} defines answers of {notebook}: {sorted(shared)}"


def test_a_test_cell_that_uses_an_earlier_answer_is_caught():
    """Does the replay see a later test cell that calls an earlier exercise's (blank) answer?"""
    first = Exercise("first", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n"
                              "    ### END SOLUTION\n", [("first-tests", "assert double(2) == 4")])
    second = Exercise("second", "def half(x):\n    return x / 2\n",
                      [("second-tests", "assert half(double(3)) == 3")])
    failed = failing_tests("no-such-notebook", [first, second], {"first": blank(first.answer)})
    assert set(failed) == {"first-tests", "second-tests"}
    assert "NotImplementedError" in failed["second-tests"]
