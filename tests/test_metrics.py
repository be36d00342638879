"""peftlab.metrics: ROUGE from the shipped `evaluate` module, equal to rouge_score itself."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import cli_env
from rouge_score import rouge_scorer

from peftlab.metrics import ROUGE_TYPES, bootstrap_ci, rouge, rouge_per_example

PREDICTIONS = [
    "The cat sat on the mat.",
    "#Person1# asks about the library's Sunday opening hours.",
    "They are running to the platform.",
    "Nothing in common here.",
]
REFERENCES = [
    "The cat was sitting on the mat.",
    ["The library opens on Sunday afternoons.", "#Person1# asks when the library opens on Sunday.",
     "Opening hours."],
    ["Two friends run to catch a train.", "They run to the platform without coffee."],
    "A completely different sentence.",
]


def _direct(prediction: str, references) -> dict[str, float]:
    refs = [references] if isinstance(references, str) else references
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    return {t: s.fmeasure for t, s in scorer.score_multi(refs, prediction).items()}


def test_per_example_equals_rouge_score():
    """Are per-example scores rouge_score's score_multi F-measures (best reference per type)?"""
    per = rouge_per_example(PREDICTIONS, REFERENCES)
    for i, (pred, refs) in enumerate(zip(PREDICTIONS, REFERENCES)):
        direct = _direct(pred, refs)
        for t in ROUGE_TYPES:
            assert per[t][i] == pytest.approx(direct[t], abs=1e-9), (i, t)


def test_best_reference_counts():
    """With several references, does the best one count, not the mean or the first?"""
    pred, refs = PREDICTIONS[1], REFERENCES[1]
    alone = [rouge([pred], [r])["rouge1"] for r in refs]
    assert rouge([pred], [refs])["rouge1"] == pytest.approx(max(alone))
    assert max(alone) > alone[0]


def test_mean_and_range():
    """Is the corpus score the mean of per-example scores, every value within 0..1?"""
    per = rouge_per_example(PREDICTIONS, REFERENCES)
    scores = rouge(PREDICTIONS, REFERENCES)
    assert scores["n"] == len(PREDICTIONS)
    for t in ROUGE_TYPES:
        assert all(0.0 <= v <= 1.0 for v in per[t])
        assert scores[t] == pytest.approx(sum(per[t]) / len(per[t]))
    assert rouge(["same words here"], ["same words here"])["rougeL"] == pytest.approx(1.0)
    assert per["rouge1"][3] == 0.0


def test_bootstrap_interval_contains_the_mean():
    """Does the bootstrap 95% interval satisfy lo ≤ mean ≤ hi for every ROUGE type?"""
    scores = rouge(PREDICTIONS, REFERENCES, bootstrap=True, n_resamples=300)
    for t in ROUGE_TYPES:
        lo, hi = scores["ci95"][t]
        assert 0.0 <= lo <= scores[t] <= hi <= 1.0
    assert bootstrap_ci([0.2] * 5) == (0.2, 0.2)


def test_mismatched_lengths_are_refused():
    """Does a predictions/references length mismatch raise instead of scoring silently?"""
    with pytest.raises(ValueError):
        rouge(["a", "b"], ["a"])


def test_loads_offline(tmp_path):
    """Does the ROUGE module load and score with HF_HUB_OFFLINE=1 and an empty HF cache?"""
    code = "from peftlab.metrics import rouge; print(rouge(['a cat'], ['a cat'])['rouge1'])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=cli_env(HF_HOME=str(tmp_path / "hf")))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "1.0"
