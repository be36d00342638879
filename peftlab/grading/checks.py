"""The checks that the notebooks' test cells call; imports nothing heavy.

* :func:`check_choice`, :func:`check_choices`, :func:`check_number` are the visible format checks:
  they fail with a message that says what to fix.
* :func:`plain` and :func:`close` are for hidden checks: :func:`plain` accepts only built-in
  values (no objects whose ``__eq__`` always says yes) and returns them unchanged.

The grading kernel imports this module before any student cell runs, so the built-ins below are
captured before student code could replace them.
"""

from __future__ import annotations

import builtins
import math

_type, _len, _sorted = builtins.type, builtins.len, builtins.sorted
_PLAIN_SCALARS = (str, int, float, bool, type(None))


def plain(value):
    """``value`` itself if it is built from plain built-in types only; else an AssertionError.

    Hidden tests compare ``plain(answer) == expected`` so that an answer object whose ``__eq__``
    always returns True cannot pass.
    """
    kind = _type(value)
    if kind in _PLAIN_SCALARS:
        return value
    if kind in (list, tuple):
        return kind(plain(item) for item in value)
    if kind is dict:
        return {plain(key): plain(item) for key, item in value.items()}
    raise AssertionError(
        f"answers must be plain str, int, float, list or dict values, not {kind.__name__}"
    )


def check_choice(value, name: str, options: str = "abcd") -> None:
    """Fail unless ``value`` is one of the single-letter ``options``, as a str.

    Args:
        value: the student's answer.
        name: the variable it is stored in, for the message (``"q3"``).
        options: the allowed letters.
    """
    letters = ", ".join(repr(letter) for letter in options)
    if _type(value) is not str or _len(value) != 1 or value not in options:
        raise AssertionError(
            f"{name} should be one letter among {letters}, as a string "
            f"(e.g. {name} = {options[0]!r}); got {value!r}"
        )


def check_choices(value, name: str, keys: list[str], options: str = "abcd") -> None:
    """Fail unless ``value`` is a dict mapping exactly ``keys`` to letters among ``options``."""
    if _type(value) is not dict:
        raise AssertionError(
            f"{name} should be a dict like {{{keys[0]!r}: 'a', ...}}; got {_type(value).__name__}"
        )
    if _sorted(value) != _sorted(keys):
        raise AssertionError(f"{name} should have exactly the keys {keys}; got {list(value)}")
    for key in keys:
        check_choice(value[key], f"{name}[{key!r}]", options)


def check_number(value, name: str) -> None:
    """Fail unless ``value`` is a finite int or float (not a bool, a string or a tensor)."""
    if _type(value) not in (int, float) or not math.isfinite(value):
        raise AssertionError(
            f"{name} should be a number (int or float), e.g. {name} = 42; "
            f"got {value!r} of type {_type(value).__name__}"
        )


def close(value, expected: float, rel: float = 1e-6) -> bool:
    """Is ``value`` a plain number within relative tolerance ``rel`` of ``expected``?"""
    return _type(value) in (int, float) and math.isclose(
        value, expected, rel_tol=rel, abs_tol=1e-12
    )
