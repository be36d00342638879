"""Does an answer that only hands back peftlab's own version lose its points? (in-process, no kernel)

Every exercise of :data:`peftlab.exercises.EXERCISES` has a twin in the package: the reference its
notebook falls back to, and the functions of :attr:`Exercise.same_as`. Submitted as the answer
(re-exported under the exercise's name, aliased, wrapped, bound as a default argument or in a
``functools.partial``), each must fail a test cell of its exercise, for the right reason as
``tests/test_discrimination.py`` judges it, with the line that names the rule. Without the guard of
:mod:`peftlab.grading.own_work` the same answers pass (so it is the guard that catches them), and
outside the guarded calls the twins work as before.
"""

from __future__ import annotations

import ast
import io
import re
from contextlib import redirect_stderr

import nbformat
import pytest
from test_discrimination import EXERCISES as CELLS
from test_discrimination import SOURCE, replay

from peftlab.exercises import EXERCISES
from peftlab.grading import own_work as guard
from peftlab.grading.errors import CourseError
from peftlab.grading.own_work import own_work, twins, twins_refused


def _answer_cell(name: str) -> tuple[str, str]:
    """(notebook, grade_id) of the graded answer cell that defines ``name``."""
    for notebook, grade_id, answer, *_ in CELLS:
        defined = {node.name for node in ast.parse(answer).body
                   if isinstance(node, ast.FunctionDef | ast.ClassDef)}
        if name in defined:
            return notebook, grade_id
    raise AssertionError(f"no graded answer cell of solutions/lab2 defines {name}")


def _forms(name: str, where: str) -> dict[str, str]:
    """Answer cells that hand back the twin ``where`` (``"module:attribute"``) as ``name``."""
    module, _, attribute = where.partition(":")
    return {
        "import-as": f"from {module} import {attribute} as {name}\n",
        "alias": f"import {module}\n\n{name} = {module}.{attribute}\n",
        "wrapper": (f"def {name}(*args, **kwargs):\n    import {module}\n\n"
                    f"    return {module}.{attribute}(*args, **kwargs)\n"),
        "default-argument": (f"from {module} import {attribute} as _twin\n\n\n"
                             f"def {name}(*args, _use=_twin, **kwargs):\n"
                             f"    return _use(*args, **kwargs)\n"),
        "partial": f"import functools\n\nfrom {module} import {attribute}\n\n"
                   f"{name} = functools.partial({attribute})\n",
    }


def _reference(exercise) -> str:
    """``"module:attribute"`` of an exercise's reference."""
    if isinstance(exercise.reference, str):
        return exercise.reference
    return f"{exercise.reference.__module__}:{exercise.reference.__qualname__}"


FORMS = list(_forms("name", "module:attribute"))
CASES = [(name, form) for name in sorted(EXERCISES) for form in FORMS]


@pytest.mark.parametrize("name,form", CASES, ids=[f"{n}/{f}" for n, f in CASES])
def test_the_reference_as_the_answer_loses_the_points(name, form):
    """Does the exercise's reference, handed back as its answer, fail a test cell with the rule?"""
    exercise = EXERCISES[name]
    notebook, grade_id = _answer_cell(name)
    failure = replay(notebook, grade_id, _forms(name, _reference(exercise))[form])
    assert failure is not None, f"{grade_id}: peftlab's {exercise.reference_name()} earns the points"
    assert failure.is_right_reason(), f"{grade_id}: fails for the wrong reason, at {failure}"
    assert exercise.reference_name() in str(failure.error), failure


def test_the_guard_is_what_catches_them(monkeypatch):
    """Without own_work's guard, would the references pass as answers? (else the test above proves
    nothing about the guard)"""
    monkeypatch.setattr(guard, "own_work", lambda answer, name: answer)
    checked = []
    for name, exercise in sorted(EXERCISES.items()):
        notebook, grade_id = _answer_cell(name)
        tests = next(cell[3] for cell in CELLS if cell[1] == grade_id)
        if not any("own_work(" in source for source in tests):
            continue  # an exercise guarded another way (its own test cells say how)
        answer = _forms(name, _reference(exercise))["import-as"]
        assert replay(notebook, grade_id, answer) is None, f"{grade_id}: its twin fails unguarded"
        checked.append(name)
    assert {"make_prompt", "lab_lora_config"} <= set(checked), checked


def test_every_twin_of_every_exercise_is_refused():
    """Is each twin (the reference and every same_as function) refused inside the guard, and whole
    again after it, also when the call raised?"""
    for name in EXERCISES:
        for where, twin in twins(name).items():
            with pytest.raises(AssertionError, match=re.escape(where)):
                own_work(twin, name)()
            with twins_refused(name), pytest.raises(AssertionError, match="must be your own code"):
                twin()
            try:  # outside the guard: the twin's own result, or its own error on no arguments
                twin()
            except AssertionError as err:
                pytest.fail(f"{where} is still refused after the guard: {err}")
            except Exception:  # noqa: BLE001 - any error of the twin's own is fine here
                pass


def test_a_correct_answer_runs_as_is_and_writes_no_stderr():
    """Does an answer of one's own give its own result, with nothing on stderr?"""
    from peftlab.data import build_prompt

    calls = []

    def make_prompt(dialogue):
        calls.append(dialogue)
        return f"Summarize the following conversation.\n\n{dialogue.strip()}\n\nSummary: "

    stderr = io.StringIO()
    with redirect_stderr(stderr):
        assert own_work(make_prompt, "make_prompt")(" hi ") == build_prompt(" hi ")
    assert calls == [" hi "] and stderr.getvalue() == ""


def test_an_answer_may_use_other_exercises_references():
    """Is only this exercise's twin refused (few_shot_prompt may still call make_prompt's)?"""
    from peftlab.data import build_prompt

    def few_shot_prompt(examples, dialogue):
        return "\n\n\n".join([*(build_prompt(e["dialogue"]) + e["summary"] for e in examples),
                              build_prompt(dialogue)])

    assert own_work(few_shot_prompt, "few_shot_prompt")([], "d") == build_prompt("d")


class _Layer:
    def __init__(self, size):
        self.size = size

    def grow(self):
        return self.size + 1


def test_a_class_twin_is_refused_and_restored(monkeypatch):
    """Is a twin class refused (instantiated directly or through a subclass) and whole after?"""
    from peftlab.exercises import Exercise

    monkeypatch.setitem(EXERCISES, "Layer", Exercise(99, "Layer", _Layer))

    class Layer(_Layer):  # an answer that only subclasses the twin
        pass

    with pytest.raises(AssertionError, match="exercise 99 \\(Layer\\) must be your own code"):
        own_work(Layer, "Layer")(3)
    assert _Layer(3).grow() == 4 and "__init__" in vars(_Layer)


def test_a_misnamed_exercise_or_a_closure_twin_is_one_line(monkeypatch):
    """Does a guard on an unknown exercise, or on a twin it cannot swap, end in one clear line?"""
    from peftlab.exercises import Exercise

    with pytest.raises(CourseError, match="no exercise named 'make_promt'.*make_prompt") as err:
        own_work(print, "make_promt")
    assert "\n" not in str(err.value)
    scale = 2

    def doubled(x):
        return scale * x

    monkeypatch.setitem(EXERCISES, "doubled", Exercise(98, "doubled", doubled))
    with pytest.raises(CourseError, match="closure"):
        own_work(doubled, "doubled")(1)


def test_every_task_text_says_the_rule():
    """Does each exercise's task text say that peftlab's version, named, is switched off?"""
    for name in EXERCISES:
        notebook, grade_id = _answer_cell(name)
        cells = nbformat.read(SOURCE / f"{notebook}.ipynb", as_version=4).cells
        index = next(i for i, c in enumerate(cells)
                     if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
        task = next(c.source for c in reversed(cells[:index]) if c.cell_type == "markdown")
        words = " ".join(task.split())
        twin = EXERCISES[name].reference_name()
        assert "switched off" in words and f"`{twin}`" in words, (grade_id, words[-300:])
