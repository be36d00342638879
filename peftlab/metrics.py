"""ROUGE for the course, offline: an `evaluate` module shipped in peftlab, loaded by path.

``rouge(predictions, references)`` returns the mean F-measures of rouge1/2/L/Lsum (0..1), taking for
each prediction and each ROUGE type its best reference, and optionally a bootstrap 95% interval.
"""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path

ROUGE_DIR = Path(__file__).parent / "resources" / "rouge"
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


@lru_cache(maxsize=1)
def load_rouge():
    """Return the ROUGE ``evaluate.EvaluationModule`` loaded from inside peftlab (no Hub)."""
    import evaluate

    return evaluate.load(str(ROUGE_DIR / "rouge.py"))


def rouge_per_example(predictions: list[str], references: list) -> dict[str, list[float]]:
    """Per-example ROUGE F-measures; ``references[i]`` is a string or a list of strings."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        return {t: [] for t in ROUGE_TYPES}
    refs = [[r] if isinstance(r, str) else list(r) for r in references]
    return load_rouge().compute(predictions=list(predictions), references=refs, use_aggregator=False)


def bootstrap_ci(values: list[float], n_resamples: int = 1000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values``."""
    if not values:
        return (0.0, 0.0)
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(n_resamples))
    lo = means[int((1 - level) / 2 * n_resamples)]
    hi = means[min(n_resamples - 1, int((1 + level) / 2 * n_resamples))]
    return (lo, hi)


def paired_bootstrap_ci(values: list[float], baseline: list[float], n_resamples: int = 1000,
                        seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Mean difference ``values - baseline`` over the same examples, with its bootstrap interval.

    Both lists score the same examples in the same order; each resample draws examples (not the
    two scores independently), so what both methods find hard cancels out, and the interval is
    narrower than two unpaired intervals would suggest.

    Returns:
        ``(mean difference, low, high)``.
    """
    if len(values) != len(baseline):
        raise ValueError(f"paired scores need the same examples: {len(values)} vs {len(baseline)}")
    differences = [a - b for a, b in zip(values, baseline)]
    if not differences:
        return (0.0, 0.0, 0.0)
    low, high = bootstrap_ci(differences, n_resamples, seed, level)
    return (sum(differences) / len(differences), low, high)


def clearly_better(a: dict, b: dict, metric: str = "rouge1") -> bool:
    """True when ``a`` beats ``b`` on ``metric`` and their 95% intervals do not overlap.

    Args:
        a / b: scores as :func:`rouge` returns them with ``bootstrap=True`` (``metric`` and
            ``ci95``), or a comparison row's ``to_json()``.

    (Lab 2's exercise 11; notebook 5 falls back to this while the exercise is blank.)
    """
    return a[metric] > b[metric] and a["ci95"][metric][0] > b["ci95"][metric][1]


def rouge(predictions: list[str], references: list, bootstrap: bool = False,
          n_resamples: int = 1000, seed: int = 0, per_example: bool = False) -> dict:
    """Mean ROUGE F-measures (0..1) over examples, each scored against its best reference.

    Args:
        predictions: generated summaries.
        references: one string or a list of reference strings per prediction.
        bootstrap: also return ``ci95``: ``{rouge_type: (low, high)}`` by percentile bootstrap.
        per_example: also return ``per_example``: ``{rouge_type: [score per prediction]}`` (what
            paired comparisons of two methods on the same examples need).

    Returns:
        ``{"rouge1": .., "rouge2": .., "rougeL": .., "rougeLsum": .., "n": N[, "ci95": {...}]
        [, "per_example": {...}]}``
    """
    per = rouge_per_example(predictions, references)
    out = {t: (sum(v) / len(v) if v else 0.0) for t, v in per.items()}
    out["n"] = len(predictions)
    if bootstrap:
        out["ci95"] = {t: bootstrap_ci(v, n_resamples, seed) for t, v in per.items()}
    if per_example:
        out["per_example"] = per
    return out
