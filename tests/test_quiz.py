"""Does the Week 2 quiz cover its ten topics and grade every part of a question on its own?

The quiz (``solutions/lab2/06_quiz.ipynb``) has one answer cell per question (nbgrader
``grade_id`` ``q1``...) and one graded test cell per part (``q1-tests``, ``q1-tests-selective``...).
Most checks grade in process, as nbgrader does it: every cell runs in one namespace, in order, and a
test cell that raises scores 0 without stopping the rest. One test grades the quiz for real
(``peftlab course autograde`` in a scratch course; the quiz imports no torch, so it is quick).

Wrong and alternative answers per question live in ``tests/files/variants/<grade_id>/`` (shared
with ``tests/test_discrimination.py``).
"""

from __future__ import annotations

import io
import re
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import pytest
from conftest import run_course

from peftlab.grading.names import CourseLayout

ROOT = Path(__file__).resolve().parents[1]
QUIZ = ROOT / "solutions" / "lab2" / "06_quiz.ipynb"
VARIANTS = Path(__file__).resolve().parent / "files" / "variants"
PRELUDE = (VARIANTS / "06_quiz.py").read_text()
SOLUTION = re.compile(r"### BEGIN SOLUTION.*?### END SOLUTION", re.S)
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)

# The Week 2 quiz's ten topics: the question that asks about each, and a phrase its text must use.
TOPICS = {
    "instruction fine-tuning vs in-context learning": ("q6", "in-context learning"),
    "catastrophic forgetting": ("q4", "catastrophic forgetting"),
    "ROUGE vs BLEU": ("q5", "BLEU"),
    "multi-task instruction fine-tuning and FLAN": ("q7", "multi-task instruction fine-tuning"),
    "small models and few-shot": ("q8", "few-shot"),
    "the three PEFT classes": ("q1", "reparameterization"),
    "how LoRA works": ("q2", "frozen"),
    "soft prompts": ("q9", "embedding space"),
    "what prompt tuning trains": ("q3", "Lester et al. 2021"),
    "PEFT memory": ("q4", "Adam states"),
}

# One wrong variant per question and the parts (test cells) it must lose; every other part of that
# question must still earn its point.
HALF_RIGHT = {
    "q1": ("wrong_lora_additive", {"q1-tests"}),
    "q2": ("wrong_scaling_r_over_alpha", {"q2-tests-scaling"}),
    "q3": ("wrong_scale_1b", {"q3-tests-scale"}),
    "q4": ("wrong_fp32_no_activations", {"q4-tests-fp32"}),
    "q5": ("wrong_swapped", {"q5-tests"}),
    "q6": ("wrong_examples_free", {"q6-tests-cost"}),
    "q7": ("wrong_flan_is_peft", {"q7-tests"}),
    "q8": ("wrong_more_examples", {"q8-tests-fix"}),
    "q9": ("wrong_param_count", {"q9-tests-tokens"}),
    "q10": ("wrong_biases", {"q10-tests"}),
}
# Variants that are not even well-formed (the visible format checks must reject these).
MALFORMED = {"wrong_missing_key", "wrong_words", "wrong_string"}


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def questions() -> dict[str, tuple[str, str, dict]]:
    """grade_id -> (question text, answer source, {test grade_id: test cell}) in quiz order."""
    cells = nbformat.read(QUIZ, as_version=4).cells
    found, text = {}, ""
    for cell in cells:
        meta = _meta(cell)
        if cell.cell_type == "markdown" and meta.get("grade_id", "").endswith("-text"):
            text = cell.source
        elif meta.get("solution") and not meta.get("grade"):
            current = meta["grade_id"]
            found[current] = (text, cell.source, {})
        elif meta.get("grade") and cell.cell_type == "code":
            found[current][2][meta["grade_id"]] = cell
    return found


QUESTIONS = questions()
POINTS = {gid: _meta(cell)["points"] for _, _, tests in QUESTIONS.values()
          for gid, cell in tests.items()}


def blank(answer: str) -> str:
    """The answer cell as the release has it (nbgrader's default replacement of the solution)."""
    return SOLUTION.sub("raise NotImplementedError()", answer)


def variant(question: str, name: str) -> str:
    return (VARIANTS / question / f"{name}.py").read_text()


def grade(answers: dict[str, str] | None = None, hidden: bool = True) -> dict[str, float]:
    """Points per test cell when the quiz runs with ``answers`` (grade_id -> source) in place of
    its answer cells (the solution elsewhere); with ``hidden=False`` only the visible checks run."""
    answers = answers or {}
    namespace: dict = {"__name__": "__main__"}
    scores = {}
    with redirect_stdout(io.StringIO()):
        exec(PRELUDE, namespace)
        for question, (_, solution, tests) in QUESTIONS.items():
            _run(answers.get(question, solution), namespace)
            for grade_id, cell in tests.items():
                source = cell.source if hidden else HIDDEN.sub("", cell.source)
                scores[grade_id] = POINTS[grade_id] if _run(source, namespace) else 0
    return scores


def _run(source: str, namespace: dict) -> bool:
    try:
        exec(compile(source, "<quiz cell>", "exec"), namespace)
    except Exception:  # noqa: BLE001 - a failing cell scores 0, as under nbgrader
        return False
    return True


def test_quiz_has_ten_questions_on_the_ten_topics():
    """Does every topic of the Week 2 quiz have a question that talks about it?"""
    assert len(QUESTIONS) >= 10
    for topic, (question, phrase) in TOPICS.items():
        assert phrase in QUESTIONS[question][0], f"{topic}: {question} does not mention {phrase!r}"


def test_points_are_stated_and_add_up():
    """Do the header's total and each question's "(N points)" match the test cells' points?"""
    header = nbformat.read(QUIZ, as_version=4).cells[0].source
    total = int(re.search(r"\*\*(\d+) points\*\* in all", header).group(1))
    assert total == sum(POINTS.values())
    for question, (text, _, tests) in QUESTIONS.items():
        stated = int(re.search(r"\((\d+) points?\)", text.splitlines()[0]).group(1))
        assert stated == sum(POINTS[g] for g in tests), question
        assert len(tests) >= 2, f"{question}: every question has parts graded on their own"


def test_solution_earns_every_point():
    """Does the instructor's quiz pass every test cell, hidden tests included?"""
    assert grade() == POINTS


def test_blank_release_earns_nothing():
    """Does the untouched release (every answer cell raising NotImplementedError) score 0?"""
    scores = grade({q: blank(answer) for q, (_, answer, _) in QUESTIONS.items()})
    assert scores == dict.fromkeys(POINTS, 0)


@pytest.mark.parametrize("question", sorted(HALF_RIGHT))
def test_half_right_answer_earns_the_parts_it_got_right(question):
    """Does an answer wrong in one part lose exactly that part's points, and keep the others?"""
    name, lost = HALF_RIGHT[question]
    scores = grade({question: variant(question, name)})
    expected = {g: 0 if g in lost else POINTS[g] for g in POINTS}
    assert scores == expected


def test_half_right_quiz_gets_partial_credit():
    """Does a whole quiz with one part wrong in every question score the total minus those parts?"""
    scores = grade({q: variant(q, name) for q, (name, _) in HALF_RIGHT.items()})
    lost = set().union(*(parts for _, parts in HALF_RIGHT.values()))
    assert {g for g, s in scores.items() if s == 0} == lost
    assert 0 < sum(scores.values()) < sum(POINTS.values())


@pytest.mark.parametrize(
    "path",
    sorted(p for q in QUESTIONS for p in (VARIANTS / q).glob("wrong_*.py")),
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_visible_checks_do_not_give_the_answer_away(path):
    """Does a well-formed wrong answer pass every visible check (only hidden tests know the
    answer), while a malformed one fails them?"""
    visible = grade({path.parent.name: path.read_text()}, hidden=False)
    parts = QUESTIONS[path.parent.name][2]
    passed = all(visible[g] for g in parts)
    assert passed is (path.stem not in MALFORMED)


def test_every_question_has_two_wrong_answers_that_lose_points():
    """Does every question have at least two plausible wrong answers, each costing points?"""
    for question in QUESTIONS:
        wrong = sorted((VARIANTS / question).glob("wrong_*.py"))
        assert len(wrong) >= 2, question
        for path in wrong:
            assert sum(grade({question: path.read_text()}).values()) < sum(POINTS.values()), path


@pytest.mark.slow
def test_autograde_scores_each_part(tmp_path):
    """Does a real ``peftlab course autograde`` give the solution every point, the release none,
    and a half-right submission exactly the parts it got right?"""
    root = tmp_path / "root"
    (root / "solutions" / "lab2").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copy(QUIZ, root / "solutions" / "lab2")
    assert run_course(root, "generate").returncode == 0
    release = root / "labs" / "lab2" / "06_quiz.ipynb"
    subs = tmp_path / "subs"
    for student, answers in {
        "solution": None,
        "release": {},
        "half": {q: variant(q, name) for q, (name, _) in HALF_RIGHT.items()},
    }.items():
        (subs / student).mkdir(parents=True)
        if answers is None:
            shutil.copy(QUIZ, subs / student / "06_quiz.ipynb")
            continue
        nb = nbformat.read(release, as_version=4)
        for cell in nb.cells:
            if _meta(cell).get("grade_id") in answers:
                cell.source = answers[_meta(cell)["grade_id"]]
        nbformat.write(nb, subs / student / "06_quiz.ipynb")
    result = run_course(root, "autograde", "--submissions", str(subs), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    from nbgrader.api import Gradebook

    with Gradebook(CourseLayout(root).gradebook_url) as gb:
        scores = {
            s.student.id: {g.name: g.score for nb in s.notebooks for g in nb.grades}
            for s in gb.find_assignment("lab2").submissions
        }
    lost = set().union(*(parts for _, parts in HALF_RIGHT.values()))
    assert scores["solution"] == POINTS
    assert scores["release"] == dict.fromkeys(POINTS, 0)
    assert scores["half"] == {g: 0 if g in lost else POINTS[g] for g in POINTS}
