"""Profiles, typed results and the run report, memory accounting, plots and soft-prompt interpretation."""

from __future__ import annotations

import dataclasses
import json

import pytest

from peftlab.errors import PeftlabError
from peftlab.evaluation import Evaluation
from peftlab.profiles import PROFILES, STEP_FIELDS, get_profile
from peftlab.results import (
    ComparisonRow,
    comparison_rows,
    load_results,
    save_results,
    write_report,
)
from peftlab.training import RunCosts, TrainResult


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
    assert p.method_steps == p.topic_steps == p.sweep_steps == 3


def test_dry_run_keeps_the_profiles_code_path_at_the_smallest_size(monkeypatch):
    """Is a dry run of the gpu profile still the gpu profile (name, methods' code path, family),
    with FLAN-T5's offline shape, one step per training run and one point per sweep; and does
    nbgrader's grading profile ignore it?"""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    gpu, dry = PROFILES["gpu"], get_profile("gpu", dry_run=True)
    assert (dry.name, dry.model, dry.data, dry.dry_run) == ("gpu", "flan-t5-base-shape",
                                                           "dialogsum-mini", True)
    assert all(getattr(dry, name) == 1 for name in STEP_FIELDS)
    assert len(dry.sweep_ranks) == len(dry.sweep_lengths) == 1
    assert dry.sweep_ranks[0] in gpu.sweep_ranks and dry.sweep_lengths[0] in gpu.sweep_lengths
    assert "dry run" in dry.notes and not gpu.dry_run
    assert get_profile("gpu", dry_run=True, batch_size=4).batch_size == 4
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert not get_profile("gpu", dry_run=True).dry_run


def test_notes_follow_a_swapped_model_or_data(monkeypatch):
    """Does a run that swaps the profile's model or data stop describing the profile's own (a
    SmolLM2 run in the gpu profile must not be reported as FLAN-T5-base on full DialogSum)?"""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    notes = get_profile("gpu", model="smollm2-135m-instruct", data="/data/ds").notes
    assert "smollm2-135m-instruct" in notes and "/data/ds" in notes and "FLAN" not in notes
    assert get_profile("gpu", model=PROFILES["gpu"].model).notes == PROFILES["gpu"].notes


def test_bad_profile_is_one_line(monkeypatch):
    """Does an unknown profile or field raise a one-line PeftlabError naming it?"""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    with pytest.raises(PeftlabError, match="unknown profile 'huge'"):
        get_profile("huge")
    with pytest.raises(PeftlabError, match="no field"):
        get_profile("cpu", epochs=3)


def test_environment_chooses_the_profile_of_notebooks_that_leave_it_none(monkeypatch):
    """Does `profile = None` follow $PEFTLAB_PROFILE (cpu when unset), while a profile passed
    explicitly (papermill, `peftlab run --profile`) and nbgrader's grade profile still win?"""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("PEFTLAB_PROFILE", raising=False)
    assert get_profile(None).name == "cpu"
    monkeypatch.setenv("PEFTLAB_PROFILE", "smoke")
    assert get_profile(None).name == "smoke"
    assert get_profile("gpu").name == "gpu"
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    assert get_profile(None).name == "grade"


def test_unknown_profile_in_the_environment_is_one_line(monkeypatch):
    """Does a $PEFTLAB_PROFILE that names no profile raise one line naming the variable, the
    value and the choices (and not fall back to cpu silently)?"""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("PEFTLAB_PROFILE", "cuda")
    with pytest.raises(PeftlabError) as err:
        get_profile(None)
    message = str(err.value)
    assert "PEFTLAB_PROFILE='cuda'" in message and "smoke, grade, cpu, gpu" in message
    assert "\n" not in message
    assert get_profile("smoke").name == "smoke", "an explicit profile does not read it"


def test_cpu_profile_trains_the_real_model_one_pass_over_its_examples():
    """Does the cpu profile use the real model, each method one pass over the same examples?"""
    p = PROFILES["cpu"]
    assert p.model == "smollm2-135m-instruct" and p.data == "dialogsum-mini"
    assert p.method_steps * p.batch_size == p.train_limit


def _fake_scores(r1) -> Evaluation:
    return Evaluation(split="test", task="summary", n=10, rouge1=r1, rouge2=r1 / 2, rougeL=r1,
                      rougeLsum=r1, ci95={"rouge1": (r1 - 0.05, r1 + 0.05)}, seconds=2.0,
                      examples_per_second=1.5, new_tokens_per_second=30.0, predictions=[])


def test_report_table_from_saved_results(tmp_path):
    """Does the report list every method the notebooks saved, with its ROUGE and interval?"""
    profile = dataclasses.replace(PROFILES["smoke"], notes="unit test")
    save_results(tmp_path, "01_zero_shot", profile, [ComparisonRow.of("zero-shot", _fake_scores(0.2))])
    save_results(tmp_path, "03_lora", profile,
                 [ComparisonRow.of("lora", _fake_scores(0.35), trainable_params=1000)])
    assert set(load_results(tmp_path)) == {"01_zero_shot", "03_lora"}
    rows = comparison_rows(load_results(tmp_path))
    assert [r.method for r in rows] == ["zero-shot", "lora"]
    report = write_report(tmp_path, "smoke", seconds=12.0).read_text()
    assert "| zero-shot |" in report and "| lora |" in report and "Setting: unit test" in report
    assert "0.350" in report and "[0.300, 0.400]" in report and "0.2 min" in report
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["profile"] == "smoke" and len(data["methods"]) == 2


def test_results_round_trip(tmp_path):
    """Do a notebook's typed results (rows from a training run and an evaluation, and its own
    measurements) read back equal to what was saved?"""
    costs = RunCosts(trainable_params=10, total_params=100, trainable_percent=10.0,
                     train_seconds=3.0, examples_per_second=2.0, real_tokens=50, padded_tokens=60,
                     real_tokens_per_second=16.7, padding_fraction=1 / 6, peak_memory_bytes=2 * 10**9,
                     peak_memory_kind="peak_rss", device="cpu", checkpoint_bytes=4 * 10**6)
    run = TrainResult(method="lora", model_name="tiny-t5", global_step=3, final_loss=1.5,
                      loss_history=[{"step": 3, "loss": 1.5}], costs=costs)
    row = ComparisonRow.of("lora", _fake_scores(0.3), run, settings={"r": 8})
    assert (row.peak_memory_gb, row.checkpoint_mb, row.steps, row.rouge1) == (2.0, 4.0, 3, 0.3)
    save_results(tmp_path, "03_lora", PROFILES["smoke"], [row], sweep=[{"r": 1, "rouge1": 0.2}])
    saved = load_results(tmp_path)["03_lora"]
    assert saved.rows == [row] and saved.extra == {"sweep": [{"r": 1, "rouge1": 0.2}]}
    assert (saved.profile, saved.model) == ("smoke", PROFILES["smoke"].model)
    assert json.loads(json.dumps(run.to_json()))["costs"] == dataclasses.asdict(costs)


def test_memory_estimate_matches_course_rule():
    """Does the estimate give 4+4+8 bytes per trainable fp32 weight plus activations?"""
    from peftlab.memory import training_memory_estimate

    est = training_memory_estimate(1_000_000_000)
    assert est.weights == 4e9 and est.gradients == 4e9 and est.optimizer == 8e9
    lora = training_memory_estimate(1_000_000_000, trainable_params=1_000_000)
    assert lora.weights == 4e9 and lora.gradients == 4e6 and lora.optimizer == 8e6


PEAK_PROBE = """
import json, time
from peftlab.memory import PeakMemory, current_rss
base = current_rss()
with PeakMemory() as peak:
    block = bytearray(200 * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])  # every page touched: resident
    during = current_rss()
    time.sleep(0.3)  # several sampling intervals, also on a busy machine
    del block
print(json.dumps({"base": base, "during": during, "peak": peak.bytes}))
"""


def test_peak_memory_sees_an_allocation():
    """Does PeakMemory catch a 200 MB allocation made and freed inside it?

    In a fresh interpreter: a long-lived one (this test process) may serve the block from memory
    it already holds, so its resident size would not move at all.
    """
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", PEAK_PROBE], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(proc.stdout)
    assert seen["during"] - seen["base"] > 150 * 1024 * 1024, "the allocation never became resident"
    assert seen["peak"] >= seen["during"] - 4 * 1024 * 1024, "the peak missed the block"


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


def test_neighbour_table_says_how_far_each_virtual_token_moved():
    """Does the neighbour table give cosine 1 for a virtual token that did not move, -1 for one
    that flipped, as plain floats (no numpy on the tensors' device: it runs on CUDA too), and name
    only real tokens, never the embedding rows past the tokenizer's vocabulary (FLAN-T5 pads 28)?"""
    import torch

    from peftlab.interpret import neighbour_table

    class Vocab:  # 25 tokens for 30 embedding rows
        def __len__(self):
            return 25

        def convert_ids_to_tokens(self, i):
            assert i < 25, f"row {i} is padding, not a token"
            return f"t{i}"

    torch.manual_seed(0)
    vocab, start = torch.randn(30, 8), torch.randn(2, 8)
    moved = torch.stack([vocab[28], -start[1]])
    table = neighbour_table(moved, vocab, Vocab(), k=2, start=torch.stack([vocab[28], start[1]]))
    assert table["cosine to its start"].tolist() == [1.0, -1.0]
    assert "t28" not in table["nearest tokens"][0]
    assert "cosine to its start" not in neighbour_table(moved, vocab, Vocab(), k=2)


def test_plots_write_png(tmp_path):
    """Do the figure functions save non-empty PNG files?"""
    import matplotlib

    matplotlib.use("Agg")
    from peftlab import plots

    plots.loss_curves({"a": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}]}, path=tmp_path / "l.png")
    rows = [ComparisonRow.of("x", _fake_scores(0.3)), ComparisonRow("y", rouge1=0.2, n=4)]
    plots.rouge_bars(rows, path=tmp_path / "r.png")
    plots.sweep_plot([{"r": 1, "rouge1": 0.2, "p": 10}, {"r": 4, "rouge1": 0.3, "p": 40}], x="r",
                     second="p", path=tmp_path / "s.png")
    plots.memory_breakdown({"full": {"weights": 1.0, "gradients": 1.0}}, path=tmp_path / "m.png")
    plots.tradeoff_scatter([ComparisonRow("lora", trainable_params=10, rouge1=0.3)],
                           "trainable_params", "rouge1", path=tmp_path / "t.png")
    for name in "lrsmt":
        data = (tmp_path / f"{name}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_notebook_setup_resolves_profile_and_folders(tmp_path, monkeypatch, capsys):
    """Does the notebooks' set-up give the profile with the parameters applied, create the figure
    folder, print the profile line, and under nbgrader silence the libraries and grade fast?"""
    import peftlab.notebook
    from peftlab.notebook import setup

    silenced = []
    monkeypatch.setattr(peftlab.notebook, "quiet", lambda: silenced.append(True))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    P, OUT, FIG = setup("smoke", batch_size=3, max_steps=None, out_dir=tmp_path / "run")
    assert (P.name, P.batch_size, P.model) == ("smoke", 3, PROFILES["smoke"].model)
    assert OUT == tmp_path / "run" and FIG == OUT / "figures" and FIG.is_dir()
    assert capsys.readouterr().out.startswith("profile smoke: model tiny-t5")
    assert setup("cpu").out is None, "no out_dir: a notebook that saves nothing (the quiz)"
    assert not silenced
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    graded = setup("cpu", model_name="google/flan-t5-base", out_dir=tmp_path / "student")
    assert graded.profile.name == "grade"
    assert not (tmp_path / "student").exists(), "Validate must not write over the student's run"
    assert graded.figures.is_dir() and graded.out != tmp_path / "student"
    assert silenced == [True]


def test_notebook_setup_hides_only_the_libraries_deprecation_notes(monkeypatch):
    """After the set-up, does a cell's own call into peft print no transformers deprecation note
    (peft reads a renamed attribute), while any other warning still shows?"""
    import warnings

    from conftest import BUILDERS
    from peft import LoraConfig, get_peft_model

    from peftlab.notebook import setup

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    model = BUILDERS["tiny-llama"]().model
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        setup("smoke")
        get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", target_modules=["q_proj"]))
        warnings.warn("a cell's own deprecation", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in caught if w.category is FutureWarning] == [
        "a cell's own deprecation"]
