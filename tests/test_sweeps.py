"""Sweeps (peftlab/sweeps.py) and the validation loss they measure (peftlab/training.py)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from peftlab.methods import apply_method
from peftlab.methods.prompt import soft_prompt
from peftlab.profiles import get_profile
from peftlab.sweeps import Sweep, SweepRow, run_sweep
from peftlab.training import train, validation_loss

# the smoke profile's sizes, with two seeds and a few held-out rows: seconds on tiny-t5
TINY = dict(sweep_seeds=(1, 2), sweep_steps=2, sweep_batch_size=2, sweep_max_length=128,
            sweep_val_split="validation", sweep_val_limit=4, sweep_eval_limit=0, train_limit=8)


@pytest.fixture(scope="module")
def lora_sweep(mini):
    """A LoRA sweep of two ranks by two seeds on tiny-t5."""
    profile = get_profile("smoke", **TINY)
    return run_sweep("lora", {1: {"r": 1, "alpha": 1}, 4: {"r": 4, "alpha": 4}}, mini, profile)


def test_rows_cover_every_point_and_seed(lora_sweep):
    """Does a sweep return one finite row per (point, seed), in point order then seed order?"""
    assert [(row.point, row.seed) for row in lora_sweep.rows] == [(1, 1), (1, 2), (4, 1), (4, 2)]
    for row in lora_sweep.rows:
        assert row.val_loss > 0 and row.final_loss > 0 and row.seconds > 0
        assert row.rouge1 is None  # sweep_eval_limit 0: no ROUGE
    records = lora_sweep.records()
    assert set(records[0]) == {f.name for f in dataclasses.fields(SweepRow)}


def test_every_point_has_the_same_budget(lora_sweep):
    """Do all runs take the same steps and examples, while the trained parameters follow the
    point (r=4 trains 4x what r=1 trains) and not the seed?"""
    assert {row.steps for row in lora_sweep.rows} == {2}
    assert {row.examples for row in lora_sweep.rows} == {4}
    params = {row.point: row.trainable_params for row in lora_sweep.rows}
    assert params[4] == 4 * params[1]
    assert len({(row.point, row.trainable_params) for row in lora_sweep.rows}) == 2


def test_seeds_give_different_runs(lora_sweep):
    """Does the seed change the run (LoRA's init and the data order), so the spread is real?"""
    by_point = {}
    for row in lora_sweep.rows:
        by_point.setdefault(row.point, []).append(row.val_loss)
    for losses in by_point.values():
        assert losses[0] != losses[1]


def test_same_seed_repeats_the_run(mini):
    """Does the same (point, seed) give the same validation loss twice?"""
    profile = get_profile("smoke", **{**TINY, "sweep_seeds": (7, 7)})
    rows = run_sweep("lora", {2: {"r": 2}}, mini, profile).rows
    assert rows[0].val_loss == pytest.approx(rows[1].val_loss, abs=1e-6)


def test_prompt_random_init_follows_the_seed(tiny_t5):
    """Does a random soft prompt drawn with init_seed differ between seeds, repeat for one seed,
    and sit at the scale of the token embeddings?"""
    from conftest import build_tiny_t5

    def drawn(seed):
        lab = build_tiny_t5()
        return soft_prompt(apply_method(lab, "prompt", num_virtual_tokens=8, init="random",
                                        init_seed=seed)), lab

    first, lab = drawn(1)
    assert not torch.equal(first, drawn(2)[0])
    assert torch.equal(first, drawn(1)[0])
    scale = lab.model.get_input_embeddings().weight.std().item()
    assert 0.5 * scale < first.std().item() < 2 * scale


def test_summary_reads_the_rows():
    """Are mean, min, max and spread per point those of its seeds' rows?"""
    rows = [SweepRow(point=p, seed=s, val_loss=v, trainable_params=1, final_loss=1.0, steps=1,
                     examples=1, seconds=1.0)
            for p, s, v in [(4, 1, 2.0), (4, 2, 3.0), (16, 1, 1.0), (16, 2, 1.5)]]
    sweep = Sweep(method="lora", rows=rows)
    assert sweep.summary() == [
        {"point": 4, "seeds": 2, "mean": 2.5, "min": 2.0, "max": 3.0, "spread": 1.0},
        {"point": 16, "seeds": 2, "mean": 1.25, "min": 1.0, "max": 1.5, "spread": 0.5}]
    assert sweep.noise_and_trend() == (1.0, 1.25)
    assert sweep.records("r")[0]["r"] == 4 and "point" not in sweep.records("r")[0]


def _sweep(values: dict) -> Sweep:
    return Sweep(method="prompt", rows=[
        SweepRow(point=p, seed=s, val_loss=v, trainable_params=1, final_loss=1.0, steps=1,
                 examples=1, seconds=1.0)
        for p, seeds in values.items() for s, v in enumerate(seeds)])


def test_verdict_reads_the_spread():
    """Does the sentence say the trend exceeds the noise only when it does, and say so honestly
    when there is one seed a point?"""
    clear = _sweep({5: [3.0, 3.1], 100: [2.0, 2.1]}).verdict("length")
    assert "stands out of the noise" in clear and "best: length = 100" in clear
    weak = _sweep({5: [3.0, 3.3], 100: [2.5, 2.8]}).verdict("length")
    assert "weak evidence" in weak and "stands out" not in weak
    noisy = _sweep({5: [3.0, 2.0], 100: [2.9, 2.2]}).verdict("length")
    assert "no more than the seeds do" in noisy and "up to 1.0000" in noisy
    assert "one seed a point" in _sweep({5: [3.0], 100: [2.0]}).verdict("length")


def test_validation_loss_is_deterministic_and_batch_free(tiny_lab, mini):
    """Does the validation loss repeat exactly, and not depend on the batch size (every target
    token counts once; a mean of batch means would change with the batches)?"""
    from peftlab.training import IGNORE, tokenize_split

    first = validation_loss(tiny_lab, mini, "validation", 6, batch_size=4, max_length=256)
    assert first == validation_loss(tiny_lab, mini, "validation", 6, batch_size=4, max_length=256)
    for size in (1, 6):
        again = validation_loss(tiny_lab, mini, "validation", 6, batch_size=size, max_length=256)
        assert again == pytest.approx(first, rel=1e-4)
    # the rows' targets differ in length, so a mean of batch means would not agree above
    rows = mini["validation"].select(range(6))
    targets = {sum(label != IGNORE for label in example["labels"])
               for example in tokenize_split(tiny_lab, rows, max_length=256)}
    assert len(targets) > 1


def test_validation_loss_falls_on_rows_trained_on(tiny_lab, mini):
    """Does training on rows lower the validation loss measured on those same rows?"""
    before = validation_loss(tiny_lab, mini, "validation", 4, batch_size=4, max_length=128)
    result = train(tiny_lab, "lora", mini, split="validation", limit=4, max_steps=8, batch_size=4,
                   max_length=128, lr=1e-2, progress=False, step_memory=False)
    after = validation_loss(result.lab, mini, "validation", 4, batch_size=4, max_length=128)
    assert after < before
    assert result.costs.step_memory is None  # sweeps skip the extra measured step


def test_validation_loss_names_a_missing_split(tiny_t5, mini):
    """Does asking for a split the data lacks give one line naming the splits?"""
    from peftlab.errors import PeftlabError

    with pytest.raises(PeftlabError, match="has no 'dev' split"):
        validation_loss(tiny_t5, mini, "dev", 4)


def test_sweep_plot_draws_every_seed_and_the_means(tmp_path):
    """Does the sweep figure show each seed's point, the line of the means, log-x for ranks?"""
    import matplotlib

    matplotlib.use("Agg")
    from peftlab import plots

    records = _sweep({4: [3.0, 3.2], 16: [2.0, 2.6], 64: [2.5, 2.5]}).records("r")
    fig = plots.sweep_plot(records, x="r", y="val_loss", path=tmp_path / "s.png")
    ax = fig.axes[0]
    dots = ax.collections[0].get_offsets()
    assert sorted(map(tuple, dots.tolist())) == sorted((r["r"], r["val_loss"]) for r in records)
    line = ax.lines[0]
    assert list(line.get_xdata()) == [4, 16, 64]
    assert list(line.get_ydata()) == pytest.approx([3.1, 2.3, 2.5])
    assert ax.get_xscale() == "log"
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
