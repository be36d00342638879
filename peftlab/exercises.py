"""A skipped exercise costs only its own points: later cells fall back to peftlab's version.

A lab notebook's non-graded cells use some of the student's answers (notebook 1 prompts the model
with ``make_prompt``, notebook 2 estimates memory with ``training_memory_gb``...). While such an
exercise is blank, those cells would stop with ``NameError`` or ``NotImplementedError``, and so
would every cell after them that needs their results. Instead a cell takes the answer through
:func:`answer`::

    make_prompt_used = answer("make_prompt", globals())

and calls ``make_prompt_used`` where it called ``make_prompt``. What it gets:

* the student's own function or class, called as it is, when it is answered (a wrong answer is
  used as it is: only the graded tests judge it);
* peftlab's reference, with one printed line saying so, when it is blank: not defined at all, or
  its call (for a class: its instantiation) raises ``NotImplementedError``, as nbgrader's
  ``raise NotImplementedError()`` does.

A blank answer is only found by calling it, so no code runs to find out: the first real call tries
the student's version, and the moment it raises ``NotImplementedError`` that same call is answered
by the reference, and so is every later one (a blank answer is never run twice, and a blank body
raises before it changes anything). Nothing in the notebook's namespace is replaced: graded cells
still see the student's own names, so the fallback never turns a blank or wrong answer into points.

The references live with the rest of the engine (:data:`EXERCISES` names them); this module
imports none of them until one is needed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from peftlab.errors import PeftlabError


@dataclass(frozen=True)
class Exercise:
    """A graded exercise whose answer later, non-graded cells use.

    Attributes:
        number: the exercise's number in the lab (as its heading and grade id say).
        name: the function or class the student defines.
        reference: peftlab's version with the same signature and behaviour: an object, or
            ``"module:attribute"`` imported when first needed.
        same_as: other peftlab functions (``"module:attribute"``) that compute the same answer in
            another form; graded cells refuse them as they refuse ``reference``
            (:mod:`peftlab.grading.own_work`).
    """

    number: int
    name: str
    reference: Any
    same_as: tuple[str, ...] = ()

    def reference_object(self):
        """peftlab's version (imported now if named as ``"module:attribute"``)."""
        if not isinstance(self.reference, str):
            return self.reference
        module, _, attribute = self.reference.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def reference_name(self) -> str:
        """``peftlab.data.build_prompt``: where the reference is, for the fallback line."""
        if isinstance(self.reference, str):
            return self.reference.replace(":", ".")
        return f"{self.reference.__module__}.{self.reference.__qualname__}"

    def blank_line(self, why: str = "") -> str:
        """The one line a notebook prints when this exercise falls back."""
        return (f"exercise {self.number} ({self.name}) is not answered yet{why}: the cells below "
                f"use peftlab's version ({self.reference_name()})")

    def resolve(self, namespace: dict):
        """The answer the cells below should call: the student's (guarded) or the reference.

        Args:
            namespace: where the student's answer is defined (a notebook's ``globals()``).
        """
        if self.name not in namespace:
            print(self.blank_line(" (not defined: run its cell)"), flush=True)
            return self.reference_object()
        return Answer(self, namespace[self.name])


class Answer:
    """The student's answer to an :class:`Exercise`, called as it is until it turns out blank.

    ``blank`` is None until the first call, then True (falls back for good) or False.
    """

    def __init__(self, exercise: Exercise, theirs):
        self.exercise, self.theirs, self.blank = exercise, theirs, None
        self.__doc__ = getattr(theirs, "__doc__", None)
        self.__wrapped__ = theirs

    def __call__(self, *args, **kwargs):
        if self.blank:
            return self.exercise.reference_object()(*args, **kwargs)
        try:
            result = self.theirs(*args, **kwargs)
        except NotImplementedError as err:
            self.blank = True
            print(self.exercise.blank_line(_raised_elsewhere(err, self.exercise.name)), flush=True)
            return self.exercise.reference_object()(*args, **kwargs)
        self.blank = False
        return result

    def __repr__(self) -> str:
        state = {None: "not called yet", True: "blank, peftlab's in use", False: "yours"}[self.blank]
        return f"<answer to exercise {self.exercise.number} ({self.exercise.name}): {state}>"


def _raised_elsewhere(err: BaseException, name: str) -> str:
    """`` (make_prompt raised NotImplementedError)`` when the blank that raised is another
    function than the exercise's own (an answer that calls an unanswered one), else ``""``."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return ""
    code = tb.tb_frame.f_code
    where = getattr(code, "co_qualname", code.co_name).rpartition("<locals>.")[2]
    if where == name or where.startswith(f"{name}."):
        return ""
    return f" ({where} raised NotImplementedError)"


# The exercises of lab 2 whose answers later cells use, and peftlab's version of each.
EXERCISES = {exercise.name: exercise for exercise in (
    Exercise(1, "make_prompt", "peftlab.data:build_prompt"),
    Exercise(2, "few_shot_prompt", "peftlab.data:build_few_shot_prompt"),
    Exercise(3, "count_trainable", "peftlab.methods:count_trainable",
             same_as=("peftlab.methods:count_parameters",)),
    Exercise(4, "training_memory_gb", "peftlab.memory:training_memory_gb",
             same_as=("peftlab.memory:training_memory_estimate",)),
    Exercise(5, "lora_param_count", "peftlab.methods.lora:param_count"),
    Exercise(9, "text_init", "peftlab.methods.prompt:text_init"),
    Exercise(11, "clearly_better", "peftlab.metrics:clearly_better"),
    Exercise(12, "lab_lora_config", "peftlab.methods.lora:lab_t5_config",
             same_as=("peftlab.methods.lora:peft_config",)),
    Exercise(14, "BottleneckAdapter", "peftlab.methods.adapter:BottleneckAdapter"),
)}


def answer(name: str, namespace: dict):
    """The student's answer to exercise ``name`` if answered, else peftlab's (saying so in one line).

    Args:
        name: the function or class the exercise asks for (a key of :data:`EXERCISES`).
        namespace: the notebook's ``globals()``.

    Returns:
        A callable to use in place of ``name`` in non-graded cells.
    """
    if name not in EXERCISES:
        raise PeftlabError(f"no exercise named {name!r} has a fallback: choose from "
                           f"{', '.join(EXERCISES)}")
    return EXERCISES[name].resolve(namespace)
