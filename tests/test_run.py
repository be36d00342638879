"""Profiles, the run report, memory accounting, plots and soft-prompt interpretation."""

from __future__ import annotations

import json

import pytest

from peftlab.errors import PeftlabError
from peftlab.profiles import PROFILES, get_profile
from peftlab.run import comparison_rows, load_results, method_row, save_results, write_report


def test_nbgrader_switches_to_grading_profile(monkeypatch):
    """Under nbgrader, does every requested profile become the fast grading profile?"""
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert get_profile("cpu").name == "grade"
    assert get_profile("gpu", model="google/flan-t5-base").model == "tiny-t5"


def test_profile_overrides(monkeypatch):
    """Do notebook parameters override the profile, with None meaning 'keep the profile's'?"""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    p = get_profile("cpu", model=None, batch_size=4, max_steps=3)
    assert p.model == PROFILES["cpu"].model and p.batch_size == 4
    assert p.lora_max_steps == p.full_steps == p.prompt_steps == p.sweep_steps == 3


def test_bad_profile_is_one_line(monkeypatch):
    """Does an unknown profile or field raise a one-line PeftlabError naming it?"""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    with pytest.raises(PeftlabError, match="unknown profile 'huge'"):
        get_profile("huge")
    with pytest.raises(PeftlabError, match="no field"):
        get_profile("cpu", epochs=3)


def test_cpu_profile_trains_real_model_an_epoch_of_lora():
    """Does the cpu profile use the real model and give LoRA at least one epoch of the sample?"""
    p = PROFILES["cpu"]
    assert p.model == "smollm2-135m-instruct" and p.data == "dialogsum-mini"
    assert p.lora_max_steps is None and p.lora_epochs >= 1.0


def _fake_metrics(r1):
    return {"rouge1": r1, "rouge2": r1 / 2, "rougeL": r1, "rougeLsum": r1, "n": 10,
            "ci95": {"rouge1": (r1 - 0.05, r1 + 0.05)}, "examples_per_second": 1.5}


def test_report_table_from_saved_results(tmp_path):
    """Does the report list every method the notebooks saved, with its ROUGE and interval?"""
    save_results(tmp_path, "01_zero_shot", {"notes": "unit test", "methods": {"zero-shot": method_row(_fake_metrics(0.2))}})
    save_results(tmp_path, "03_lora", {"methods": {"lora": method_row(_fake_metrics(0.35), trainable_params=1000)}})
    assert set(load_results(tmp_path)) == {"01_zero_shot", "03_lora"}
    rows = comparison_rows(load_results(tmp_path))
    assert [r["method"] for r in rows] == ["zero-shot", "lora"]
    report = write_report(tmp_path, "smoke", seconds=12.0).read_text()
    assert "| zero-shot |" in report and "| lora |" in report
    assert "0.350" in report and "[0.300, 0.400]" in report and "0.2 min" in report
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["profile"] == "smoke" and len(data["methods"]) == 2


def test_memory_estimate_matches_course_rule():
    """Does the estimate give 4+4+8 bytes per trainable fp32 weight plus activations?"""
    from peftlab.memory import training_memory_estimate

    est = training_memory_estimate(1_000_000_000)
    assert est.weights == 4e9 and est.gradients == 4e9 and est.optimizer == 8e9
    lora = training_memory_estimate(1_000_000_000, trainable_params=1_000_000)
    assert lora.weights == 4e9 and lora.gradients == 4e6 and lora.optimizer == 8e6


def test_peak_memory_sees_an_allocation():
    """Does PeakMemory catch a 200 MB allocation made and freed inside it?"""
    import time

    from peftlab.memory import PeakMemory, current_rss

    base = current_rss()
    with PeakMemory() as peak:
        block = bytearray(200 * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])
        time.sleep(0.1)
        del block
    assert peak.bytes - base > 150 * 1024 * 1024


def test_nearest_tokens_finds_the_token_itself():
    """Is a vector equal to a token's embedding nearest to that token, with cosine 1?"""
    import torch

    from peftlab.interpret import nearest_tokens

    torch.manual_seed(0)
    table = torch.randn(30, 8)
    rows = nearest_tokens(torch.stack([table[7], 3 * table[2]]), table, k=3)
    assert rows[0][0][0] == 7 and abs(rows[0][0][1] - 1) < 1e-5
    assert rows[1][0][0] == 2, "cosine ignores the scale"
    assert len(rows[0]) == 3 and rows[0][0][1] >= rows[0][1][1] >= rows[0][2][1]


def test_plots_write_png(tmp_path):
    """Do the figure functions save non-empty PNG files?"""
    import matplotlib

    matplotlib.use("Agg")
    from peftlab import plots

    plots.loss_curves({"a": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}]}, path=tmp_path / "l.png")
    plots.rouge_bars({"x": _fake_metrics(0.3), "y": _fake_metrics(0.2)}, path=tmp_path / "r.png")
    plots.sweep_plot([{"r": 1, "rouge1": 0.2, "p": 10}, {"r": 4, "rouge1": 0.3, "p": 40}], x="r",
                     second="p", path=tmp_path / "s.png")
    plots.memory_breakdown({"full": {"weights": 1.0, "gradients": 1.0}}, path=tmp_path / "m.png")
    plots.tradeoff_scatter([{"method": "lora", "p": 10, "rouge1": 0.3}], "p", "rouge1", path=tmp_path / "t.png")
    for name in "lrsmt":
        data = (tmp_path / f"{name}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
