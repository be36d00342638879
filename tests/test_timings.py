"""The timings record: what `peftlab run` measures and records, what the notebooks say about it,
and the progress lines with their ETA while a notebook executes."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from peftlab import timings
from peftlab.run import ENGINE, Progress, ProgressEngine

TWO_CORES = timings.Machine(cores=2, torch_threads=2, device="cpu")


def _timing(seconds: float, cells: dict | None = None) -> timings.NotebookTiming:
    return timings.NotebookTiming(seconds=seconds, cells=cells or {}, machine=TWO_CORES,
                                  measured="2026-01-01T00:00:00+00:00")


def test_coarse_durations():
    """Does the coarse format round to tens of seconds under a minute and whole minutes above, so
    that a few seconds of noise rarely change it?"""
    cases = {2.2: "<10 s", 14: "~10 s", 15: "~20 s", 54: "~50 s", 56: "~1 min", 82: "~1 min",
             235: "~4 min", 559.3: "~9 min", 797.5: "~13 min"}
    assert {s: timings.coarse(s) for s in cases} == cases


def test_committed_record_has_real_measurements():
    """Does the committed record hold the cpu and smoke runs of all five lab notebooks, each with
    its code cells' seconds adding up to about the notebook's (kernel start aside)?"""
    entries = timings.load(timings.TIMINGS_FILE)
    for profile in ("cpu", "smoke"):
        assert set(entries[profile]) == {"01_data_and_zero_shot", "02_full_fine_tuning",
                                         "03_lora", "04_prompt_tuning", "05_comparison"}
        for timing in entries[profile].values():
            assert timings.INJECTED in timing.cells
            assert sum(timing.cells.values()) <= timing.seconds + 1
    assert entries["cpu"]["03_lora"].machine.describe() == "2 CPU cores"


def test_notebooks_say_what_the_record_says():
    """Does every solution notebook carry, right under its title, a `timings` cell that says
    exactly what the committed record says (`python -m peftlab.timings --sync` rewrites them)?"""
    entries = timings.load(timings.TIMINGS_FILE)
    assert timings.stale(entries=entries) == []
    for path in sorted(timings.NOTEBOOK_DIR.glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        assert cells[0]["cell_type"] == "markdown" and cells[0]["source"][0].startswith("# ")
        assert timings.TAG in cells[1]["metadata"].get("tags", []), path.name
    line = timings.timings_line("03_lora", entries)
    assert f"cpu {timings.coarse(entries['cpu']['03_lora'].seconds)} (2 CPU cores)" in line
    assert ("gpu not measured yet" in line) == ("gpu" not in entries)
    assert "trains nothing" in timings.timings_line(timings.QUIZ, entries)


def test_a_cell_that_disagrees_is_caught_and_synced(tmp_path):
    """Is a timings cell that says something the record does not (edited by hand, or left behind
    by a new measurement) reported, and does --sync put it and a missing one right, leaving every
    other cell alone?"""
    for path in timings.NOTEBOOK_DIR.glob("0[35]*.ipynb"):
        shutil.copy(path, tmp_path)
    entries = timings.load(timings.TIMINGS_FILE)
    lora = tmp_path / "03_lora.ipynb"
    notebook = json.loads(lora.read_text(encoding="utf-8"))
    cell = next(c for c in notebook["cells"] if timings.TAG in c["metadata"].get("tags", []))
    said = re.sub(r"cpu ~\d+ min", "cpu ~2 min", cell["source"][0])
    assert said != cell["source"][0], "the timings line should state the cpu run's minutes"
    cell["source"] = [said]
    comparison = tmp_path / "05_comparison.ipynb"
    other = json.loads(comparison.read_text(encoding="utf-8"))
    other["cells"] = [c for c in other["cells"] if c.get("id") != timings.TAG]
    lora.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    comparison.write_text(json.dumps(other, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert timings.stale(tmp_path, entries) == ["03_lora", "05_comparison"]

    slower = {**entries, "cpu": {**entries["cpu"], "03_lora": _timing(900.0)}}
    assert timings.sync(tmp_path, slower) == ["03_lora", "05_comparison"]
    assert timings.stale(tmp_path, slower) == []
    assert timings.stale(tmp_path, entries) == ["03_lora"], "a new measurement shows"
    synced = json.loads(comparison.read_text(encoding="utf-8"))["cells"]
    assert [c.get("id") for c in synced[1:]] == [timings.TAG] + [c.get("id") for c in other["cells"][1:]]
    assert main_check(tmp_path, slower) == 0 and main_check(tmp_path, entries) == 1


def main_check(folder, entries) -> int:
    """``python -m peftlab.timings --check`` on ``folder`` against ``entries`` (a record file)."""
    record = folder / "record.json"
    record.unlink(missing_ok=True)
    for profile, notebooks in entries.items():
        for name, timing in notebooks.items():
            timings.record(profile, name, timing, record)
    proc = subprocess.run([sys.executable, "-m", "peftlab.timings", "--check", "--folder",
                           str(folder)], env=dict(os.environ, PEFTLAB_TIMINGS=str(record)),
                          capture_output=True, text=True, timeout=60)
    return proc.returncode


def test_record_keeps_other_entries_and_leaves_no_temporary_file(tmp_path):
    """Does recording one notebook keep every other profile's and notebook's entry, replace the
    file whole (no temporary file left), and read back equal?"""
    path = tmp_path / "timings.json"
    timings.record("cpu", "03_lora", _timing(559.3, {"c01": 0.0, "c16": 312.2}), path)
    timings.record("smoke", "03_lora", _timing(9.0), path)
    timings.record("cpu", "01_data_and_zero_shot", _timing(82.0), path)
    timings.record("smoke", "03_lora", _timing(8.0), path)
    entries = timings.load(path)
    assert entries["cpu"]["03_lora"] == _timing(559.3)
    assert entries["cpu"]["03_lora"].cells == {"c01": 0.0, "c16": 312.2}
    assert entries["smoke"]["03_lora"].seconds == 8.0 and "01_data_and_zero_shot" in entries["cpu"]
    assert [p.name for p in tmp_path.iterdir()] == ["timings.json"]
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(timings.PeftlabError, match="not a timings record"):
        timings.load(path)


def test_setup_says_how_long_this_notebook_takes(tmp_path, monkeypatch, capsys):
    """Does the notebook set-up add this notebook's measured duration to its one profile line, and
    say nothing of it when the run is not the profile as measured (a parameter changed)?"""
    from peftlab.notebook import setup

    record = tmp_path / "timings.json"
    timings.record("cpu", "03_lora", _timing(559.3), record)
    monkeypatch.setenv("PEFTLAB_TIMINGS", str(record))
    monkeypatch.setenv("JPY_SESSION_NAME", "lab2/03_lora.ipynb")
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    setup("cpu")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("profile cpu:")
    assert "this notebook takes ~9 min on 2 CPU cores" in out
    setup("cpu", max_steps=1)
    assert "takes" not in capsys.readouterr().out
    setup("smoke")
    assert "takes" not in capsys.readouterr().out, "no smoke entry in this record"


TINY = {"cells": [
    {"cell_type": "markdown", "id": "title", "metadata": {}, "source": ["# tiny"]},
    {"cell_type": "code", "id": "params", "metadata": {"tags": ["parameters"]}, "outputs": [],
     "execution_count": None, "source": ["pause = 1.2"]},
    {"cell_type": "code", "id": "fast", "metadata": {}, "outputs": [], "execution_count": None,
     "source": ["import time"]},
    {"cell_type": "code", "id": "slow1", "metadata": {}, "outputs": [], "execution_count": None,
     "source": ["time.sleep(pause)"]},
    {"cell_type": "code", "id": "slow2", "metadata": {}, "outputs": [], "execution_count": None,
     "source": ["time.sleep(2 * pause)"]}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5}


def _execute_tiny(tmp_path, progress: Progress):
    import papermill
    from papermill.engines import papermill_engines

    path = tmp_path / "tiny.ipynb"
    path.write_text(json.dumps(TINY), encoding="utf-8")
    papermill_engines.register(ENGINE, ProgressEngine)
    return papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"),
                                      parameters={"pause": 1.2}, engine_name=ENGINE,
                                      progress=progress, kernel_name="python3",
                                      progress_bar=False)


@pytest.mark.slow
def test_progress_lines_with_eta_from_papermills_hooks(tmp_path):
    """While papermill executes a notebook, does the engine print one line per slow cell (not one
    per cell) with cells done of total and an ETA from the record, a timer line during a long
    cell, and the elapsed time only when nothing is recorded?"""
    record = {"tiny": _timing(4.0, {"params": 0.0, timings.INJECTED: 0.0, "fast": 0.0,
                                    "slow1": 1.2, "slow2": 2.4})}
    stream = io.StringIO()
    executed = _execute_tiny(tmp_path, Progress(record, ["tiny"], stream=stream, slow_cell=1.0,
                                                every=3600))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("peftlab run: tiny 4/5 cells, 0:0") and "ETA <10 s" in lines[0]
    assert lines[1].startswith("peftlab run: tiny 5/5 cells") and "ETA <10 s" in lines[1]
    measured = timings.from_executed(executed, TWO_CORES)
    assert list(measured.cells) == ["params", timings.INJECTED, "fast", "slow1", "slow2"]
    assert measured.cells["slow2"] >= 2.3 and measured.seconds >= sum(measured.cells.values())

    stream = io.StringIO()  # no slow-cell lines: only the timer speaks
    _execute_tiny(tmp_path, Progress({}, ["tiny"], stream=stream, slow_cell=60.0, every=1.0))
    lines = stream.getvalue().splitlines()
    assert any(line.startswith("peftlab run: tiny 4/5 cells") for line in lines), lines
    assert all("cells" in line and "elapsed (no timings" in line for line in lines)


def test_eta_scales_the_record_by_this_runs_pace():
    """Is the ETA the record of the cells still to run (and of the later notebooks), scaled by how
    much slower or faster this run's cells were than their record?"""
    now = [0.0]
    record = {"a": _timing(30.0, {"x": 10.0, "y": 10.0, "z": 10.0}), "b": _timing(60.0)}
    progress = Progress(record, ["a", "b", "c"], stream=io.StringIO(), every=3600,
                        clock=lambda: now[0])
    progress.start("a", ["x", "y", "z"])
    progress.cell_start()
    now[0] = 20.0  # x took twice its record
    progress.cell_complete("x")
    progress.cell_start()
    assert progress.scale() == 2.0
    assert progress.left(now[0]) == (40.0, 40.0 + 120.0)
    now[0] = 30.0  # 10 s into y, which should take 20 s at this pace
    assert progress.left(now[0])[0] == 30.0
    line = progress.line(now[0])
    now[0] = 60.0  # y has run 40 s: over its record even at this pace, its end is unknown
    overrun = progress.line(now[0])
    progress.finish()
    assert line == "peftlab run: a 1/3 cells, 0:30 elapsed, ETA ~30 s (run ~3 min + unrecorded)"
    assert overrun == ("peftlab run: a 1/3 cells, 1:00 elapsed, ETA ~20 s after this cell "
                       "(running 0:40, recorded 0:10) (run ~2 min + unrecorded)")


@pytest.mark.slow
def test_a_smoke_run_records_its_timings(tmp_path):
    """Does `peftlab run --profile smoke --notebooks 05` record the notebook's seconds and each
    code cell's into $PEFTLAB_TIMINGS, keeping the entries already there; does a run with a
    parameter override record nothing; and is the committed record left untouched?"""
    committed = timings.TIMINGS_FILE.read_bytes()
    record = tmp_path / "timings.json"
    timings.record("cpu", "05_comparison", _timing(2.2), record)
    env = dict(os.environ, PEFTLAB_TIMINGS=str(record), HF_HUB_OFFLINE="1")
    command = [sys.executable, "-m", "peftlab.cli", "run", "--profile", "smoke", "--notebooks",
               "05", "--out", str(tmp_path / "run")]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    entries = timings.load(record)
    assert entries["cpu"]["05_comparison"] == _timing(2.2)
    smoke = entries["smoke"]["05_comparison"]
    source = json.loads((timings.NOTEBOOK_DIR / "05_comparison.ipynb").read_text("utf-8"))
    code = [c["id"] for c in source["cells"] if c["cell_type"] == "code"]
    assert list(smoke.cells) == [code[0], timings.INJECTED, *code[1:]]
    assert 0 < sum(smoke.cells.values()) <= smoke.seconds < 300
    assert smoke.machine.cores >= 1 and smoke.machine.device
    before = record.read_bytes()
    proc = subprocess.run([*command, "-p", "seed", "7"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert record.read_bytes() == before, "a run with an override is not the profile's"
    assert timings.TIMINGS_FILE.read_bytes() == committed
