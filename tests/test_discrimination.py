"""Do the autograder's test cells tell right answers from wrong ones? (in-process, no kernel)

For every graded answer cell of ``solutions/lab2/*.ipynb`` (found by its nbgrader ``grade_id``),
``tests/files/variants/<grade_id>/`` holds plausible wrong answers (``wrong_*.py``), each of which
the test cells that follow the answer must reject, and different correct answers (``alt_*.py``),
each of which they must accept. A variant replaces the whole answer cell. The namespace it runs
in gets ``variants/<notebook>.py`` and ``variants/<grade_id>/preamble.py`` when they exist, then
the original answers of the notebook's earlier exercises.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "lab2"
VARIANTS = Path(__file__).resolve().parent / "files" / "variants"


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def exercises() -> list[tuple[str, str, str, list[str], list[str]]]:
    """(notebook, grade_id, answer source, test sources, earlier answers) per answer cell."""
    found = []
    for path in sorted(SOURCE.glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        earlier = []
        for index, cell in enumerate(cells):
            meta = _meta(cell)
            if not (meta.get("solution") and not meta.get("grade")) or cell.cell_type != "code":
                continue
            tests = []
            for later in cells[index + 1 :]:
                if _meta(later).get("solution"):
                    break
                if _meta(later).get("grade") and later.cell_type == "code":
                    tests.append(later.source)
            found.append((path.stem, meta["grade_id"], cell.source, tests, list(earlier)))
            earlier.append(cell.source)
    return found


EXERCISES = exercises()
CASES = [
    (nb, gid, variant)
    for nb, gid, *_ in EXERCISES
    for variant in sorted((VARIANTS / gid).glob("*.py"))
    if variant.stem != "preamble"
]


def run_exercise(notebook: str, grade_id: str, answer: str) -> None:
    """Run ``answer`` in place of the answer cell, then its test cells; raise if a test fails."""
    _, _, _, tests, earlier = next(e for e in EXERCISES if e[1] == grade_id)
    namespace: dict = {"__name__": "__main__"}
    setup = [VARIANTS / f"{notebook}.py", VARIANTS / grade_id / "preamble.py"]
    sources = [p.read_text() for p in setup if p.exists()] + earlier + [answer] + tests
    with redirect_stdout(io.StringIO()):
        for number, source in enumerate(sources):
            exec(compile(source, f"<{grade_id} cell {number}>", "exec"), namespace)


def test_every_exercise_has_enough_variants():
    """Does every graded answer cell have >= 3 wrong and >= 1 alternative correct variant?"""
    assert EXERCISES, "no graded answer cells found in solutions/lab2"
    for _, grade_id, *_ in EXERCISES:
        folder = VARIANTS / grade_id
        assert len(list(folder.glob("wrong_*.py"))) >= 3, f"{grade_id}: fewer than 3 wrong variants"
        assert list(folder.glob("alt_*.py")), f"{grade_id}: no alternative correct variant"


@pytest.mark.parametrize(
    "notebook,grade_id", [(e[0], e[1]) for e in EXERCISES], ids=[e[1] for e in EXERCISES]
)
def test_reference_solution_passes(notebook, grade_id):
    """Does the instructor's own answer pass its test cells (visible and hidden)?"""
    answer = next(e[2] for e in EXERCISES if e[1] == grade_id)
    run_exercise(notebook, grade_id, answer)


@pytest.mark.parametrize(
    "notebook,grade_id,variant", CASES, ids=[f"{gid}/{v.stem}" for _, gid, v in CASES]
)
def test_variant_is_graded_as_expected(notebook, grade_id, variant):
    """Does this wrong answer lose the points (or this other correct answer earn them)?"""
    if variant.stem.startswith("alt_"):
        run_exercise(notebook, grade_id, variant.read_text())
    else:
        with pytest.raises(Exception):  # noqa: B017 - any failure in a test cell costs the points
            run_exercise(notebook, grade_id, variant.read_text())
