"""Is ``labs/`` exactly the release nbgrader makes from ``solutions/``, with nothing secret in it?"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "lab2"
RELEASE = ROOT / "labs" / "lab2"
REGIONS = (("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"))


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _comparable(nb) -> list:
    """What a student sees and nbgrader checks, without volatile bits (ids, execution)."""
    return [
        nb.metadata.get("kernelspec"),
        [
            (c.cell_type, c.source, c.metadata.get("nbgrader"), c.metadata.get("tags"))
            for c in nb.cells
        ],
    ]


def secret_lines() -> dict[str, set[str]]:
    """Per notebook: stripped lines only found inside solution or hidden-test regions."""
    found = {}
    for path in sorted(SOURCE.glob("*.ipynb")):
        inside, outside = set(), set()
        for cell in _read(path).cells:
            region = None
            for line in cell.source.splitlines():
                begin = next((r for r in REGIONS if r[0] in line), None)
                if begin:
                    region = begin
                elif region and region[1] in line:
                    region = None
                elif line.strip():
                    (inside if region else outside).add(line.strip())
        found[path.name] = inside - outside
    return found


def test_release_has_every_notebook():
    """Does labs/lab2 hold one released notebook per source notebook, and nothing else?"""
    assert sorted(p.name for p in RELEASE.glob("*.ipynb")) == sorted(
        p.name for p in SOURCE.glob("*.ipynb")
    )


@pytest.mark.parametrize("name", sorted(p.name for p in SOURCE.glob("*.ipynb")))
def test_release_has_no_solution_or_hidden_test_line(name):
    """Does any line of a solution or a hidden test leak into the released notebook?"""
    secret = secret_lines()[name]
    assert secret, f"{name}: no solution or hidden-test lines found; is the source graded?"
    released = {
        line.strip() for cell in _read(RELEASE / name).cells for line in cell.source.splitlines()
    }
    assert not secret & released, sorted(secret & released)[:5]


@pytest.mark.parametrize("folder", [SOURCE, RELEASE], ids=["solutions", "labs"])
def test_notebooks_are_committed_without_outputs(folder):
    """Are notebooks stored without outputs or execution counts?"""
    for path in sorted(folder.glob("*.ipynb")):
        for cell in _read(path).cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name


def test_every_notebook_has_one_parameters_cell():
    """Does each source notebook have exactly one cell tagged 'parameters'?"""
    for path in sorted(SOURCE.glob("*.ipynb")):
        tagged = [c for c in _read(path).cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path.name


def test_quiz_needs_no_heavy_import():
    """Can the quiz start fast (no torch, transformers or peft anywhere in it)?"""
    text = "\n".join(c.source for c in _read(SOURCE / "06_quiz.ipynb").cells)
    for heavy in ("torch", "transformers", "peft "):
        assert heavy not in text


def test_labs_match_a_fresh_generate_assignment(tmp_path):
    """Is labs/ exactly what `nbgrader generate_assignment lab2` makes from solutions/ now?"""
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    shutil.copytree(SOURCE, tmp_path / "solutions" / "lab2")
    env = dict(os.environ, PEFTLAB_COURSE_ROOT=str(tmp_path), HF_HUB_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-m", "peftlab.grading", "generate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for path in sorted(SOURCE.glob("*.ipynb")):
        fresh = _read(tmp_path / "labs" / "lab2" / path.name)
        assert _comparable(fresh) == _comparable(_read(RELEASE / path.name)), (
            f"labs/lab2/{path.name} is stale: run `peftlab course generate`"
        )
