"""Do the autograder's test cells tell right answers from wrong ones? (in-process, no kernel)

For every graded answer cell of ``solutions/lab2/*.ipynb`` (found by its nbgrader ``grade_id``),
``tests/files/variants/<grade_id>/`` holds plausible wrong answers (``wrong_*.py``), each of which
the test cells that follow the answer must reject, and different correct answers (``alt_*.py``),
each of which they must accept. A variant replaces the whole answer cell. The namespace it runs
in gets ``variants/<notebook>.py`` and ``variants/<grade_id>/preamble.py`` when they exist, then
the original answers of the notebook's earlier exercises.

A wrong answer must fail for the right reason, as a grader would see it: its own cell runs without
error (a variant that cannot even be defined is a broken file, not a caught mistake), and then a
TEST cell raises either an ``AssertionError`` (a check of the test cell, or of the ``check_*``
helpers it calls) or an exception thrown inside the answer's own code while a test cell calls it
(a blank ``NotImplementedError``, a shape error in a wrong ``forward``). A ``NameError``,
``ImportError`` or ``SyntaxError`` never counts: that is a variant or a test cell that is broken.
Anything else raised by the test cell's own code (an ``AttributeError`` or unpacking error on an
answer of the wrong form) means the test cell should say what it expects with an assertion.
"""

from __future__ import annotations

import io
import traceback
from contextlib import redirect_stdout
from dataclasses import dataclass
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


ANSWER_CELL = "answer"  # the label of the answer cell's code in tracebacks
BROKEN = (NameError, ImportError, SyntaxError)  # errors of a broken file, never a caught mistake


@dataclass
class Failure:
    """Where and why a replay of an exercise stopped."""

    cell: str  # "setup", ANSWER_CELL or "test <n>"
    error: BaseException

    def in_answer_code(self) -> bool:
        """Was the error raised inside the answer's own code (called by a test cell)?"""
        frames = traceback.extract_tb(self.error.__traceback__)
        return any(frame.filename.endswith(f" {ANSWER_CELL}>") for frame in frames)

    def is_right_reason(self) -> bool:
        """Did a test cell reject the answer: an assertion, or an error of the answer's code?"""
        if not self.cell.startswith("test") or isinstance(self.error, BROKEN):
            return False
        return isinstance(self.error, AssertionError) or self.in_answer_code()

    def __str__(self) -> str:
        return f"{self.cell}: {type(self.error).__name__}: {self.error}"


def replay(notebook: str, grade_id: str, answer: str) -> Failure | None:
    """Run ``answer`` in place of the answer cell, then its test cells; the first failure, if any."""
    _, _, _, tests, earlier = next(e for e in EXERCISES if e[1] == grade_id)
    namespace: dict = {"__name__": "__main__"}
    setup = [VARIANTS / f"{notebook}.py", VARIANTS / grade_id / "preamble.py"]
    cells = [("setup", p.read_text()) for p in setup if p.exists()]
    cells += [("setup", source) for source in earlier] + [(ANSWER_CELL, answer)]
    cells += [(f"test {number}", source) for number, source in enumerate(tests, 1)]
    with redirect_stdout(io.StringIO()):
        for cell, source in cells:
            try:
                exec(compile(source, f"<{grade_id} {cell}>", "exec"), namespace)
            except Exception as error:  # noqa: BLE001 - the caller judges the failure
                return Failure(cell, error)
    return None


def run_exercise(notebook: str, grade_id: str, answer: str) -> None:
    """Run ``answer`` in place of the answer cell, then its test cells; raise if a test fails."""
    failure = replay(notebook, grade_id, answer)
    if failure is not None:
        raise AssertionError(f"{grade_id} fails at {failure}") from failure.error


MIN_WRONG, MIN_ALT = 5, 2


def test_every_exercise_has_enough_variants():
    """Does every graded answer cell have >= 5 wrong and >= 2 other correct variants?"""
    assert EXERCISES, "no graded answer cells found in solutions/lab2"
    for _, grade_id, *_ in EXERCISES:
        folder = VARIANTS / grade_id
        wrong, alt = list(folder.glob("wrong_*.py")), list(folder.glob("alt_*.py"))
        assert len(wrong) >= MIN_WRONG, f"{grade_id}: {len(wrong)} wrong variants, need {MIN_WRONG}"
        assert len(alt) >= MIN_ALT, f"{grade_id}: {len(alt)} other correct variants, need {MIN_ALT}"


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
    """Does this wrong answer lose the points for the right reason (or this correct one earn them)?"""
    failure = replay(notebook, grade_id, variant.read_text())
    if variant.stem.startswith("alt_"):
        assert failure is None, f"a correct answer loses points at {failure}"
    else:
        assert failure is not None, "its test cells accept this wrong answer: a blind spot"
        assert failure.is_right_reason(), f"fails for the wrong reason, at {failure}"


def test_a_broken_variant_is_not_a_caught_mistake():
    """Is a variant that cannot be defined, or a test cell that breaks, told from a real catch?"""
    grade_id = "ex5-lora-count"
    notebook = next(e[0] for e in EXERCISES if e[1] == grade_id)
    undefined = "def lora_param_count(d_out, d_in, r):\n    return r * d_in + d_out * r\nundefined\n"
    assert replay(notebook, grade_id, undefined).cell == ANSWER_CELL
    assert not replay(notebook, grade_id, undefined).is_right_reason()
    misnamed = "def lora_count(d_out, d_in, r):\n    return r * d_in + d_out * r\n"
    assert isinstance(replay(notebook, grade_id, misnamed).error, NameError)
    assert not replay(notebook, grade_id, misnamed).is_right_reason()
    blank = "def lora_param_count(d_out, d_in, r):\n    raise NotImplementedError()\n"
    assert replay(notebook, grade_id, blank).is_right_reason()
    square = "def lora_param_count(d_out, d_in, r):\n    return 2 * r * d_in\n"
    assert isinstance(replay(notebook, grade_id, square).error, AssertionError)
    assert replay(notebook, grade_id, square).is_right_reason()
