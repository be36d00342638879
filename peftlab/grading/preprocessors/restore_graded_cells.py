"""Sanitising plug-in: the submission's graded cells become exactly the gradebook's."""

from __future__ import annotations

import re

import nbformat
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor

from peftlab.grading.cells import grade_id


class RestoreGradedCells(NbGraderPreprocessor):
    """Make the submission's graded cells exactly the gradebook's: one each, in place, unedited.

    It runs first when a submission is sanitised: deleted test or answer cells are put back,
    duplicated or re-labelled ones demoted to plain cells, grade metadata and points reset, so
    that nbgrader's own steps never meet a notebook they would crash on and no edit can raise
    the score.
    """

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_notebook(info["notebook"], info["assignment"])
            points = {cell.name: cell.max_score for cell in notebook.grade_cells}
            solutions = {cell.name for cell in notebook.solution_cells}
            skeleton = [
                (c.name, c.cell_type, c.locked, c.source, c.checksum) for c in notebook.source_cells
            ]
        known = {name for name, *_ in skeleton}
        cells, seen = [], set()
        for cell in nb.cells:
            name = grade_id(cell)
            if name in known and name not in seen:
                seen.add(name)
            elif cell.get("metadata", {}).get("nbgrader") is not None:
                del cell.metadata["nbgrader"]  # unknown or duplicate: an ordinary cell now
            cells.append(cell)
        for position, (name, cell_type, locked, source, checksum) in enumerate(skeleton):
            meta = {
                "grade": name in points,
                "grade_id": name,
                "locked": locked,
                "solution": name in solutions,
                "schema_version": 3,
                "task": False,
                "checksum": checksum,
            }
            if name in points:
                meta["points"] = points[name]
            if name not in seen:
                cells.insert(
                    _after(cells, [s[0] for s in skeleton[:position]]),
                    _new_cell(name, cell_type, source),
                )
            cell = next(c for c in cells if grade_id(c) == name)
            cell.metadata["nbgrader"] = meta
        nb.cells = cells
        return nb, resources


def _after(cells, earlier: list[str]) -> int:
    """Index just after the last cell among ``earlier`` grade ids (0 when none is there)."""
    for index in range(len(cells) - 1, -1, -1):
        if grade_id(cells[index]) in earlier:
            return index + 1
    return 0


def _new_cell(name: str, cell_type: str, source: str):
    new = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    cell = new(source)
    cell["id"] = "restored-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)[:50]
    cell.metadata["nbgrader"] = {"grade_id": name}
    return cell
