"""The canary: a check that the grading kernel still reports errors, run after each passing test.

:func:`helpers_reject_wrong_answers` is ordinary code here, linted and tested like the rest; the
grader sends its *source* (under a random name) to the kernel rather than importing it there, so
student code that patched the kernel's modules cannot have replaced it. The program raises an
``AssertionError`` carrying a fresh nonce only if the helpers rejected every wrong answer; a kernel
that no longer reports errors (patched IPython, an input transformer that swallows exceptions,
patched helpers...) cannot produce it. Names and nonce are random, so a kernel cannot tell the
canary from a test cell by its text alone.
"""

from __future__ import annotations

import inspect
import secrets
from dataclasses import dataclass


def helpers_reject_wrong_answers(number: int, numeral: str) -> bool:
    """Do the test helpers of :mod:`peftlab.grading` reject answers they must reject?

    Args:
        number: a random number (so a patched helper cannot recognise the canary's values).
        numeral: ``str(number)``, which ``check_number`` must refuse as not a number.

    Returns:
        True when every wrong answer raised an AssertionError and ``close`` tells numbers apart.
    """
    # Imported here: this function's source runs in the grading kernel, on its own.
    import peftlab.grading as g

    class Yes:
        def __eq__(self, other):
            return True

        __hash__ = object.__hash__

    wrong = [
        lambda: g.plain(Yes()),
        lambda: g.check_choice(Yes(), "x"),
        lambda: g.check_number(numeral, "x"),
        lambda: g.check_choices([], "x", ["k"]),
    ]
    rejected = 0
    for attempt in wrong:
        try:
            attempt()
        except AssertionError:
            rejected += 1
    assert g.close(number, 2 * number + 1) is False and g.close(1.0, 1.0) is True
    return rejected == len(wrong)


@dataclass(frozen=True)
class Canary:
    """One canary program and the nonce an honest kernel answers it with."""

    source: str
    nonce: str


def new_canary() -> Canary:
    """A canary with a fresh function name, number and nonce."""
    name = f"_canary_{secrets.token_hex(4)}"
    nonce = secrets.token_hex(8)
    number = secrets.randbelow(10**6)
    function = inspect.getsource(helpers_reject_wrong_answers).replace(
        helpers_reject_wrong_answers.__name__, name, 1
    )
    call = (
        f"if {name}({number}, {str(number)!r}):\n"
        f"    del {name}\n"
        f"    raise AssertionError({nonce!r})\n"
    )
    return Canary(f"{function}\n\n{call}", nonce)
