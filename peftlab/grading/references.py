"""peftlab's answers to earlier exercises, for the test cells of the exercises that build on them.

An exercise whose answer calls an earlier one (exercise 2's ``few_shot_prompt`` calls exercise
1's ``make_prompt``) is graded on its own: its test cells call the student's function with
peftlab's version of the earlier answer in its place (:func:`with_references`) and build the
expected values with peftlab's versions (:func:`reference`), so a blank or wrong earlier answer
costs only its own points. The references are those of :data:`peftlab.exercises.EXERCISES`, the
versions the notebooks' other cells fall back to.

Light, like the rest of what test cells import: a reference's module is imported when the
reference is first asked for, and nothing is written to stderr (nbgrader gives 0 points to a test
cell that writes there).
"""

from __future__ import annotations

from peftlab.exercises import EXERCISES
from peftlab.grading.errors import CourseError


def reference(name: str):
    """peftlab's version of the answer named ``name`` (``"make_prompt"``...)."""
    if name not in EXERCISES:
        raise CourseError(f"no exercise named {name!r} has a reference in peftlab.exercises: "
                          f"choose from {', '.join(EXERCISES)}")
    return EXERCISES[name].reference_object()


def with_references(function, namespace: dict, *names: str):
    """``function``, called each time with peftlab's versions of ``names`` in ``namespace``.

    Args:
        function: the student's answer (``few_shot_prompt``).
        namespace: where it looks those names up: the notebook's ``globals()``.
        names: the earlier answers it calls (``"make_prompt"``).

    Returns:
        A function with ``function``'s arguments and result. While it runs, each of ``names`` is
        bound to peftlab's reference in ``namespace``; when it returns or raises, the student's
        own objects are back (a name that was not defined is unbound again).
    """
    references = {name: reference(name) for name in names}

    def call(*args, **kwargs):
        theirs = {name: namespace[name] for name in names if name in namespace}
        namespace.update(references)
        try:
            return function(*args, **kwargs)
        finally:
            for name in names:
                namespace.pop(name, None)
            namespace.update(theirs)

    return call
