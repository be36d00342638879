"""Can a hostile or broken submission raise its score, read the answers or stop the batch?

One real ``peftlab course autograde`` run (5 s per cell) grades the corpus in
``tests/files/hostile/`` (built by ``tests/files/hostile/build.py`` from the released quiz: ten
questions, each graded part by part) in a scratch course whose only notebook is the quiz. Every case
states its expected points per question below ("all": every point; "Q2 0": every point but Q2's). Cases marked "sandbox" assume the bubblewrap sandbox is on;
without it they are skipped.

| case                    | what the submission does                                   | expected |
|-------------------------|------------------------------------------------------------|----------|
| correct                 | right answers                                              | all      |
| zipped                  | right answers, as ``zipped.zip`` holding ``lab2/``         | all      |
| unanswered              | the release, untouched                                     | 0        |
| loop_forever            | ``while True: pass`` in the Q2 answer                      | Q2 0     |
| loop_ignores_interrupt  | a loop that swallows KeyboardInterrupt in Q2 (restart)     | Q2 0     |
| os_exit                 | ``os._exit(1)`` in Q3 (kernel dies, restarted, replayed)   | Q3 0     |
| os_exit_dependency      | Q2 dies after defining ``base``; Q3 uses ``base``          | Q2, Q3 0 |
| memory_bomb             | allocates 64 GiB in Q4 (memory cap)                        | Q4 0     |
| deleted_test_cell       | Q1 wrong, a Q1 test cell deleted                           | Q1 0     |
| edited_test_cell        | Q1 wrong, a Q1 test cell replaced by ``pass``              | Q1 0     |
| edited_points           | Q1 wrong, points set to 100/50 in metadata                 | Q1 0     |
| repointed_test_cell     | Q1 wrong, real test renamed, fake ``pass`` cell takes id   | Q1 0     |
| always_equal_answers    | answers are str subclasses whose ``==`` is always True     | 0        |
| patched_helpers         | wrong answers, ``peftlab.grading`` helpers replaced        | 0        |
| patched_showtraceback   | wrong answers, IPython's showtraceback silenced            | 0        |
| swallow_errors          | wrong answers, input transformer wraps cells in try/except | 0        |
| system_exit             | wrong answers, helpers raise SystemExit, ``raise SystemExit``| 0      |
| huge_output             | 10 MB on stdout and stderr per answer cell, wrong answers  | 0        |
| wrong_kernelspec        | right answers, kernelspec "ir" (the grader ignores it)     | all      |
| empty_notebook          | a valid notebook with no cells                             | 0        |
| empty_file              | 0 bytes (set aside in course/rejected)                     | 0        |
| corrupted_json          | truncated JSON (set aside in course/rejected)              | 0        |
| snoop_and_tamper        | looks for solutions/hidden tests/gradebook, writes to them | 0 (sandbox) |

Besides the points: the batch grades every case, the gradebook keeps ``correct`` at full marks after
``snoop_and_tamper`` ran, a second run skips everyone (idempotent), and the feedback HTML shows
no hidden test source.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import run_course

from peftlab.grading import sandbox
from peftlab.grading.names import CourseLayout

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).resolve().parent / "files" / "hostile"
QUIZ = ROOT / "solutions" / "lab2" / "06_quiz.ipynb"


def question_points() -> dict[str, float]:
    """Points per question of the quiz (``q1``...), summed over its test cells (``q1-tests-*``)."""
    import nbformat

    totals: dict[str, float] = {}
    for cell in nbformat.read(QUIZ, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            question = meta["grade_id"].split("-tests")[0]
            totals[question] = totals.get(question, 0) + meta["points"]
    return totals


ALL = question_points()
NONE = dict.fromkeys(ALL, 0)


def but(**zeroed) -> dict[str, int]:
    """Full marks except the questions given (as ``q2=0``)."""
    return {**ALL, **zeroed}


EXPECTED = {
    "correct": ALL,
    "zipped": ALL,
    "unanswered": NONE,
    "loop_forever": but(q2=0),
    "loop_ignores_interrupt": but(q2=0),
    "os_exit": but(q3=0),
    "os_exit_dependency": but(q2=0, q3=0),
    "memory_bomb": but(q4=0),
    "deleted_test_cell": but(q1=0),
    "edited_test_cell": but(q1=0),
    "edited_points": but(q1=0),
    "repointed_test_cell": but(q1=0),
    "always_equal_answers": NONE,
    "patched_helpers": NONE,
    "patched_showtraceback": NONE,
    "swallow_errors": NONE,
    "system_exit": NONE,
    "huge_output": NONE,
    "wrong_kernelspec": ALL,
    "empty_notebook": NONE,
    "empty_file": NONE,
    "corrupted_json": NONE,
    "snoop_and_tamper": NONE,
}
NEEDS_SANDBOX = {"snoop_and_tamper"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A scratch course (quiz only) with the whole corpus autograded once; (root, output)."""
    root = tmp_path_factory.mktemp("course")
    (root / "solutions" / "lab2").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copy(QUIZ, root / "solutions" / "lab2")
    subs = tmp_path_factory.mktemp("submissions")
    for case in EXPECTED:
        if (HOSTILE / case).is_dir():
            shutil.copytree(HOSTILE / case, subs / case)
    with zipfile.ZipFile(subs / "zipped.zip", "w") as zf:
        zf.write(HOSTILE / "correct" / "06_quiz.ipynb", "lab2/06_quiz.ipynb")
    assert run_course(root, "generate").returncode == 0
    result = run_course(root, "autograde", "--submissions", str(subs), "--timeout", "5", timeout=600)
    return root, result


def points(root: Path) -> dict[str, dict[str, float]]:
    """Points per student and question (the scores of a question's test cells added up)."""
    from nbgrader.api import Gradebook

    table: dict[str, dict[str, float]] = {}
    with Gradebook(CourseLayout(root).gradebook_url) as gb:
        for sub in gb.find_assignment("lab2").submissions:
            row = table.setdefault(sub.student.id, {})
            for grade in (g for nb in sub.notebooks for g in nb.grades):
                question = grade.name.split("-tests")[0]
                row[question] = row.get(question, 0) + grade.score
    return table


def test_batch_grades_every_case(graded):
    """Does one autograde run get through all cases, broken ones included, without failing?"""
    root, result = graded
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert set(points(root)) == set(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_case_scores_as_expected(graded, case):
    """Does this hostile or broken submission get exactly the points in the table, no more?"""
    if case in NEEDS_SANDBOX and sandbox.unavailable_reason() is not None:
        pytest.skip(f"sandbox off: {sandbox.unavailable_reason()}")
    root, _ = graded
    assert points(root)[case] == EXPECTED[case]


def test_tampering_is_named_in_the_autograded_notebook(graded):
    """Does a kernel that stopped reporting errors get caught by the canary, not by luck?"""
    root, _ = graded
    for case in ("patched_helpers", "swallow_errors"):
        text = (root / "course" / "autograded" / case / "lab2" / "06_quiz.ipynb").read_text()
        assert "TamperingDetected" in text, case


def test_gradebook_and_other_students_untouched(graded):
    """Can student code write the gradebook or another student's files? (sandbox)"""
    if sandbox.unavailable_reason() is not None:
        pytest.skip(f"sandbox off: {sandbox.unavailable_reason()}")
    root, _ = graded
    assert points(root)["correct"] == ALL
    graded_nb = root / "course" / "autograded" / "correct" / "lab2" / "06_quiz.ipynb"
    assert "overwritten" not in graded_nb.read_text()[:100]


def test_broken_files_are_set_aside(graded):
    """Are unreadable notebooks kept in course/rejected with a reason, not silently lost?"""
    root, _ = graded
    for case in ("empty_file", "corrupted_json"):
        folder = root / "course" / "rejected" / case / "lab2"
        assert (folder / "06_quiz.ipynb").exists()
        assert "JSON" in (folder / "06_quiz.ipynb.reason.txt").read_text()


def test_regrading_skips_finished_students(graded):
    """Does a second run find everyone graded and change no score (idempotent, resumable)?"""
    root, _ = graded
    before = points(root)
    again = run_course(root, "autograde", "--timeout", "5")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("already graded") == len(EXPECTED)
    assert points(root) == before


def test_feedback_hides_hidden_tests(graded):
    """Does the feedback HTML a student receives leave out every hidden test line?

    Syntax highlighting splits source lines into tokens, so the check looks for the names that
    only hidden regions use (``_plain``, ``_close``...), which the instructor's autograded copy
    does contain.
    """
    import re

    import nbformat

    root, _ = graded
    assert run_course(root, "feedback").returncode == 0
    cells = nbformat.read(QUIZ, as_version=4).cells
    hidden = {
        name
        for cell in cells
        for line in _hidden_region(cell.source)
        for name in re.findall(r"\b_[a-z]\w*", line)
    }
    visible = {name for cell in cells for name in re.findall(r"\b_[a-z]\w*", _visible(cell.source))}
    secret = hidden - visible
    assert secret, "the quiz's hidden tests should use names of their own"
    autograded = (root / "course" / "autograded" / "correct" / "lab2" / "06_quiz.ipynb").read_text()
    assert all(name in autograded for name in secret)
    pages = list((root / "course" / "feedback").glob("*/lab2/06_quiz.html"))
    assert len(pages) == len(EXPECTED)
    for page in pages:
        text = page.read_text()
        assert "HIDDEN TESTS" not in text, page
        leaked = [name for name in secret if re.search(rf"\b{name}\b", text)]
        assert not leaked, (page, leaked)


def _visible(source: str) -> str:
    hidden = set(_hidden_region(source))
    return "\n".join(line for line in source.splitlines() if line not in hidden)


def _hidden_region(source: str) -> list[str]:
    lines, inside = [], False
    for line in source.splitlines():
        if "BEGIN HIDDEN TESTS" in line:
            inside = True
        elif "END HIDDEN TESTS" in line:
            inside = False
        elif inside:
            lines.append(line)
    return lines
