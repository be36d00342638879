"""peftlab.thresholds: the ROUGE floors of the GPU run, and the check that gates it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from peftlab.profiles import PROFILES
from peftlab.results import ComparisonRow, save_results, write_report
from peftlab.thresholds import FLAN_T5_BASE, MARGIN, SOURCE, THRESHOLDS, failures, main

MODEL = "google/flan-t5-base"


def finished_run(folder, model: str = MODEL, **rouge1: float):
    """A run folder written by peftlab.results as the gpu profile's notebooks write it, every
    method at its published figures except the ROUGE-1 values given (``lora=0.3``)."""
    published: dict[str, dict] = {}
    for t in FLAN_T5_BASE:
        published.setdefault(t.method, {})[t.metric] = t.published
    for method, value in rouge1.items():
        published[method]["rouge1"] = value
    profile = dataclasses.replace(PROFILES["gpu"], model=model)
    for method, metrics in published.items():
        save_results(folder, f"run_{method}", profile, [ComparisonRow(method=method, **metrics)])
    write_report(folder, profile.name)
    return folder


def test_every_floor_has_its_published_figure_and_margin():
    """Is every floor a published lab figure minus the metric's stated margin, for the zero-shot,
    fully fine-tuned and LoRA models, with the source written down?"""
    assert THRESHOLDS[MODEL] == FLAN_T5_BASE
    assert {(t.method, t.metric) for t in FLAN_T5_BASE} == {
        (m, k) for m in ("zero-shot", "full", "lora") for k in ("rouge1", "rouge2", "rougeL")}
    for t in FLAN_T5_BASE:
        assert t.floor == pytest.approx(t.published - MARGIN[t.metric])
        assert 0 < t.floor < t.published < 0.5
    assert "Week 2 lab" in SOURCE and "FLAN-T5-base" in SOURCE


def test_a_run_at_the_published_figures_passes(tmp_path, capsys):
    """Does a run scoring the published figures pass, with one line saying so?"""
    assert main([str(finished_run(tmp_path))]) == 0
    assert "9 floors met" in capsys.readouterr().out


def test_a_low_score_fails_in_one_line_naming_metric_method_value_and_threshold(tmp_path):
    """Does LoRA at ROUGE-1 0.30 exit non-zero with one line naming ROUGE-1, lora, 0.3000 and the
    threshold 0.3581?"""
    run = finished_run(tmp_path, lora=0.30)
    proc = subprocess.run([sys.executable, "-m", "peftlab.thresholds", str(run)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert all(word in lines[0] for word in ("ROUGE-1", "'lora'", "0.3000", "0.3581", "0.4081"))


def test_a_missing_method_is_a_failure():
    """Does a run without a full fine-tuning row fail rather than pass unchecked?"""
    results = {"methods": [{"method": "zero-shot", "rouge1": 0.3, "rouge2": 0.1, "rougeL": 0.3}]}
    missing = failures(results, FLAN_T5_BASE)
    assert any("'full'" in line and "missing" in line for line in missing)


def test_another_model_is_not_checked(tmp_path, capsys):
    """Does a run of a model without published floors exit 2 saying nothing was checked?"""
    assert main([str(finished_run(tmp_path, model="smollm2-135m-instruct"))]) == 2
    assert "nothing checked" in capsys.readouterr().err


def test_a_folder_without_results_is_one_line(tmp_path, capsys):
    """Does a folder that no run finished exit 2 with one line?"""
    assert main([str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
