"""The lab notebooks: committed clean, parameterised once, set up by one helper with no copied
cells, and executable end to end (smoke profile)."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions" / "lab2").glob("*.ipynb"))
LABS = sorted((ROOT / "labs" / "lab2").glob("*.ipynb"))
ALL = SOLUTIONS + LABS


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_without_outputs(path):
    """Is every notebook committed without outputs or execution counts?"""
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_exactly_one_parameters_cell(path):
    """Does every notebook have exactly one cell tagged `parameters`?"""
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name} has {len(tagged)} parameters cells"


def test_solutions_cover_the_five_labs():
    """Are the five lab notebooks of the course there, in order?"""
    names = [p.stem for p in SOLUTIONS]
    for expected in ("01_data_and_zero_shot", "02_full_fine_tuning", "03_lora", "04_prompt_tuning",
                     "05_comparison"):
        assert expected in names


LAB_NOTEBOOKS = [p for p in SOLUTIONS if not p.stem.endswith("quiz")]
SHARED_LINES = 4  # a run of this many identical code lines in two notebooks is a copied cell


def _code_runs(path: Path) -> dict[tuple[str, ...], int]:
    """Every run of SHARED_LINES non-blank code lines, outside the parameters cell: its cell."""
    runs = {}
    for index, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] != "code" or "parameters" in cell["metadata"].get("tags", []):
            continue
        lines = [line.strip() for line in "".join(cell["source"]).splitlines() if line.strip()]
        for start in range(len(lines) - SHARED_LINES + 1):
            runs.setdefault(tuple(lines[start:start + SHARED_LINES]), index)
    return runs


@pytest.mark.parametrize("first, second", list(combinations(LAB_NOTEBOOKS, 2)),
                         ids=lambda p: p.stem[:2])
def test_lab_notebooks_share_no_code(first, second):
    """Do two lab notebooks share no run of more than three code lines (set-up goes through
    peftlab.notebook.setup, not a copied cell)?"""
    theirs = _code_runs(second)
    shared = [f"{first.name} cell {cell} ~ {second.name} cell {theirs[run]}: {run[0]} ..."
              for run, cell in _code_runs(first).items() if run in theirs]
    assert not shared, "\n".join(shared)


def test_every_notebook_calls_the_setup_helper():
    """Does every notebook (the quiz too) set itself up with peftlab.notebook.setup?"""
    for path in SOLUTIONS:
        code = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                       if c["cell_type"] == "code")
        assert "from peftlab.notebook import setup" in code and "setup(profile" in code, path.name


def _run_and_check(out: Path, *args: str) -> dict:
    """`peftlab run ARGS --out OUT`: all five notebooks ran without an error output, and the
    report, results and figures are there; returns the run's results.json."""
    proc = subprocess.run([sys.executable, "-m", "peftlab.cli", "run", *args, "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summary["notebook_seconds"]) == {p.stem for p in LAB_NOTEBOOKS}
    results = json.loads((out / "results.json").read_text())
    methods = {row["method"] for row in results["methods"]}
    assert {"zero-shot", "full", "ln_tuning", "lora", "prompt", "prefix"} <= methods
    report = (out / "report.md").read_text()
    assert "| lora |" in report and "ROUGE-1" in report
    assert any((out / "figures").glob("*.png"))
    for path in (out / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{path.name}: {errors[0].get('ename')}"
    return results


@pytest.mark.slow
def test_smoke_profile_runs_every_notebook(tmp_path):
    """Does `peftlab run --profile smoke` execute all five notebooks and write the report?"""
    _run_and_check(tmp_path / "run", "--profile", "smoke")


@pytest.mark.slow
def test_gpu_profile_dry_run_on_cpu(tmp_path):
    """Does `peftlab run --profile gpu --dry-run` run the gpu profile's code path (FLAN-T5's
    architecture, every method, evaluation and report) on a CPU, one step per training run?"""
    results = _run_and_check(tmp_path / "run", "--profile", "gpu", "--dry-run")
    saved = results["notebooks"].values()
    assert {r["profile"] for r in saved} == {"gpu"}
    assert {r["model"] for r in saved} == {"flan-t5-base-shape"}
    trained = [row for row in results["methods"] if row["method"] != "zero-shot"]
    assert trained and all(row["steps"] == 1 for row in trained), trained
    print(f"gpu dry run: {results['seconds']:.0f} s")


def test_failed_notebook_is_named(tmp_path):
    """Does a failing notebook end in one line naming it and its cell, keeping what ran?"""
    proc = subprocess.run([sys.executable, "-m", "peftlab.cli", "run", "--profile", "smoke",
                           "--notebooks", "01", "--out", str(tmp_path / "bad"),
                           "-p", "model_name", "no-such-model"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert "01_data_and_zero_shot.ipynb failed in cell" in last and "no-such-model" in last
    assert (tmp_path / "bad" / "notebooks" / "01_data_and_zero_shot.ipynb").exists()
    assert "Traceback" not in last


def test_unknown_profile_is_one_line():
    """Does a bad profile name end in one line listing the profiles?"""
    proc = subprocess.run([sys.executable, "-m", "peftlab.cli", "run", "--profile", "huge"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown profile 'huge'" in proc.stderr and "smoke" in proc.stderr
    assert "Traceback" not in proc.stderr
