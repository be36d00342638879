"""An answer earns its points only as the student's own code, not as a call to peftlab's version.

Every exercise of :data:`peftlab.exercises.EXERCISES` has a twin in the engine: the reference its
notebook falls back to (``make_prompt`` is :func:`peftlab.data.build_prompt`), and sometimes more
functions that give the same answer in another form (:attr:`Exercise.same_as`). An answer that
only imports, renames, wraps or subclasses a twin would pass every check of its behaviour, so a
test cell calls the answer through :func:`own_work`::

    _make_prompt = own_work(make_prompt, "make_prompt")
    assert _make_prompt("#Person1#: Hi!") == ...

During each such call every twin of the exercise raises an ``AssertionError`` naming the rule
(``exercise 1 (make_prompt) must be your own code, not peftlab.data.build_prompt: ...``), however the
answer reaches it: ``from peftlab.data import build_prompt as make_prompt``, an alias, a wrapper,
a default argument or a ``functools.partial``. For that, a twin that is a function has its code
object swapped for the length of the call (every name bound to the function object sees the
swap); a twin that is a class has each method it defines replaced. Between calls the twins are
whole again (also when the answer raised), so the test cell can build its expected values with
them, and so can :mod:`peftlab.grading.references` and the notebook's later cells.

Light, like the rest of what test cells import: a twin's module is imported at the first call,
and nothing is written to stderr (nbgrader gives 0 points to a test cell that writes there).
"""

from __future__ import annotations

import importlib
import inspect
from contextlib import ExitStack, contextmanager

from peftlab.exercises import EXERCISES
from peftlab.grading.errors import CourseError

# The constant of _refused's code that each twin's own rule replaces. A traceback shows the
# source line below: it should read as the reason too.
_MESSAGE = "peftlab's own version is switched off: write your own"


def _refused(*args, **kwargs):
    raise AssertionError("peftlab's own version is switched off: write your own")


def _refusing_code(message: str):
    """A code object that accepts any arguments and raises ``AssertionError(message)``."""
    code = _refused.__code__
    return code.replace(co_consts=tuple(message if c == _MESSAGE else c for c in code.co_consts))


def twins(name: str) -> dict[str, object]:
    """peftlab's versions of exercise ``name``'s answer: ``{"peftlab.data.build_prompt": obj}``."""
    if name not in EXERCISES:
        raise CourseError(f"no exercise named {name!r} has a twin in peftlab.exercises: choose "
                          f"from {', '.join(EXERCISES)}")
    exercise = EXERCISES[name]
    found = {exercise.reference_name(): exercise.reference_object()}
    for where in exercise.same_as:
        module, _, attribute = where.partition(":")
        found[where.replace(":", ".")] = getattr(importlib.import_module(module), attribute)
    return found


def rule(name: str, twin: str) -> str:
    """The line a refused twin raises: ``exercise 1 (make_prompt) must be your own code, ...``."""
    number = EXERCISES[name].number
    return (f"exercise {number} ({name}) must be your own code, not {twin}: calling peftlab's "
            f"version earns no points")


@contextmanager
def _function_refused(function, message: str):
    target = inspect.unwrap(function)  # a functools.wraps decorator calls the function inside
    if target.__code__.co_freevars:
        raise CourseError(f"{target.__qualname__} is a closure: a twin must be a module-level "
                          f"function or a class")
    code = target.__code__
    target.__code__ = _refusing_code(message)
    try:
        yield
    finally:
        target.__code__ = code


@contextmanager
def _class_refused(cls, message: str):
    own = {key: value for key, value in vars(cls).items() if inspect.isfunction(value)}

    def refuse(*args, **kwargs):
        raise AssertionError(message)

    for key in own:
        setattr(cls, key, refuse)
    try:
        yield
    finally:
        for key, value in own.items():
            setattr(cls, key, value)


@contextmanager
def twins_refused(name: str):
    """Within the block, every twin of exercise ``name`` raises an ``AssertionError``.

    Args:
        name: the exercise's answer (a key of :data:`peftlab.exercises.EXERCISES`).
    """
    with ExitStack() as stack:
        for where, twin in twins(name).items():
            refuse = _class_refused if inspect.isclass(twin) else _function_refused
            if not (inspect.isclass(twin) or inspect.isfunction(inspect.unwrap(twin))):
                raise CourseError(f"the twin {where} of exercise {name!r} is neither a Python "
                                  f"function nor a class: it cannot be refused")
            stack.enter_context(refuse(twin, rule(name, where)))
        yield


def own_work(answer, name: str):
    """``answer``, called each time with every twin of exercise ``name`` refused.

    Args:
        answer: the student's function or class (or a wrapper of it, such as
            :func:`peftlab.grading.references.with_references` returns).
        name: the exercise it answers (``"make_prompt"``).

    Returns:
        A function with ``answer``'s arguments and result.
    """
    twins(name)  # a misspelt name fails here, in the test cell's first line

    def call(*args, **kwargs):
        with twins_refused(name):
            return answer(*args, **kwargs)

    return call
