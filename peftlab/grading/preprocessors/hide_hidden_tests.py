"""Feedback plug-in: students see neither hidden test source nor tracebacks quoting it."""

from __future__ import annotations

import re

from nbgrader.preprocessors import NbGraderPreprocessor

from peftlab.grading.cells import GRADER_ERRORS

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_LINE = re.compile(r"Cell In\[\d*\], line (\d+)")


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden test regions from the source and cut every traceback to one line.

    A failure on a visible line keeps its message (the visible tests' messages are the help);
    a failure inside a hidden region says only that a hidden test failed.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        visible, hidden = _hidden_lines(cell.source)
        for out in cell.get("outputs", []):
            if out.output_type != "error":
                continue
            line = _failing_line(out.get("traceback", []))
            ours = out.get("ename") in GRADER_ERRORS  # the grader's own notes quote no test
            if hidden and not ours and (line is None or line in hidden):
                out.ename, out.evalue = "HiddenTestFailed", "a hidden test failed"
            out.traceback = [f"{out.ename}: {out.evalue}"]
        cell.source = visible
        return cell, resources


def _hidden_lines(source: str) -> tuple[str, set[int]]:
    """The source without its hidden test regions, and the 1-based line numbers they held."""
    kept, hidden, inside = [], set(), False
    for number, line in enumerate(source.split("\n"), start=1):
        if "BEGIN HIDDEN TESTS" in line:
            inside = True
        if inside:
            hidden.add(number)
        else:
            kept.append(line)
        if "END HIDDEN TESTS" in line:
            inside = False
    return "\n".join(kept), hidden


def _failing_line(traceback: list[str]) -> int | None:
    """The line of the cell a traceback points at, or ``None`` if it names none."""
    match = _CELL_LINE.search(_ANSI.sub("", "\n".join(traceback)))
    return int(match.group(1)) if match else None
