"""Sweeps: one method trained at several settings and several seeds, on one budget each.

A sweep is a set of *points* (``{label: method settings}``, e.g. LoRA ranks or soft-prompt
lengths) crossed with the profile's ``sweep_seeds``. Every (point, seed) run starts from a fresh
model, applies the method with the point's settings, trains ``sweep_steps`` optimizer steps at
``sweep_batch_size`` on the same first ``train_limit`` rows, and is measured by its validation loss
(:func:`~peftlab.training.validation_loss`) on the first ``sweep_val_limit`` rows of
``sweep_val_split``: cheap, and free of generation's noise. ROUGE is added only when the profile
asks (``sweep_eval_limit`` > 0). The seed changes the order of the training data and every random
init (LoRA's A, a soft prompt drawn at random), so the spread across seeds shows how much of a
difference between points is noise.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

from peftlab.evaluation import evaluate
from peftlab.methods import get_method
from peftlab.models import load_model
from peftlab.profiles import Profile
from peftlab.training import train, validation_loss


@dataclass
class SweepRow:
    """One trained (point, seed) run of a sweep.

    Attributes:
        point: the point's label (e.g. the rank 16, or ``"all-linear"``).
        seed: the seed of the run (data order and random init).
        val_loss: mean target-token loss on the held-out rows.
        trainable_params: what the method trained at this point.
        final_loss: the last logged training loss.
        steps / examples: optimizer steps taken and training examples they consumed.
        seconds: wall time of the run (load, train, measure).
        rouge1: ROUGE-1 on ``sweep_eval_limit`` test dialogues, or None when not measured.
    """

    point: object
    seed: int
    val_loss: float
    trainable_params: int
    final_loss: float
    steps: int
    examples: int
    seconds: float
    rouge1: float | None = None


@dataclass
class Sweep:
    """Every run of a sweep, in point order, then seed order."""

    method: str
    rows: list[SweepRow] = field(default_factory=list)

    def records(self, point_name: str = "point") -> list[dict]:
        """The rows as dicts, the point under ``point_name`` (e.g. ``"r"``): ready for
        ``pandas.DataFrame``, JSON and :func:`~peftlab.plots.sweep_plot`."""
        return [{point_name: row.point, **{k: v for k, v in dataclasses.asdict(row).items()
                                           if k != "point"}} for row in self.rows]

    def summary(self, metric: str = "val_loss") -> list[dict]:
        """Per point, in order: its seeds' mean, min, max and spread (max - min) of ``metric``."""
        points = list(dict.fromkeys(row.point for row in self.rows))
        table = []
        for point in points:
            values = [getattr(row, metric) for row in self.rows if row.point == point]
            values = [v for v in values if v is not None]
            if not values:
                continue
            table.append({"point": point, "seeds": len(values), "mean": sum(values) / len(values),
                          "min": min(values), "max": max(values),
                          "spread": max(values) - min(values)})
        return table

    def noise_and_trend(self, metric: str = "val_loss") -> tuple[float, float]:
        """(largest spread across seeds at one point, range of the points' means): when the second
        is not clearly larger than the first, the seeds say the trend may be noise."""
        table = self.summary(metric)
        means = [entry["mean"] for entry in table]
        noise = max((entry["spread"] for entry in table), default=math.nan)
        return noise, (max(means) - min(means)) if means else math.nan

    def verdict(self, point_name: str = "point", metric: str = "val_loss") -> str:
        """One sentence, computed from the rows, saying whether the differences between points
        exceed the spread between seeds (a single seed per point: that there is no spread)."""
        table = self.summary(metric)
        if not table:
            return f"no {metric} measured"
        seeds = min(entry["seeds"] for entry in table)
        means = {entry["point"]: entry["mean"] for entry in table}
        best = min(means, key=means.get) if metric.endswith("loss") else max(means, key=means.get)
        if seeds < 2:
            return (f"one seed a point: no spread between seeds to compare with; the best "
                    f"{metric} is at {point_name} = {best}")
        noise, trend = self.noise_and_trend(metric)
        widest = max(table, key=lambda entry: entry["spread"])
        head = (f"{metric} of {len(table)} points ({point_name} = "
                f"{', '.join(str(entry['point']) for entry in table)}), {seeds} seeds each: the "
                f"means span {trend:.4f}; the seeds of one point differ by up to {noise:.4f} "
                f"({point_name} = {widest['point']}, {widest['spread'] / abs(widest['mean']):.2%} "
                f"of its mean). ")
        if trend > 2 * noise:
            return head + (f"The points differ by more than twice the spread between seeds: the "
                           f"trend stands out of the noise (best: {point_name} = {best}).")
        if trend > noise:
            return head + (f"The points differ by more than the seeds do, but by less than twice: "
                           f"weak evidence (best: {point_name} = {best}).")
        return head + ("The points differ by no more than the seeds do: on this run the seeds' "
                       f"noise is as large as any effect of {point_name}.")


def run_sweep(method: str, points: dict, data, profile: Profile, *, model: str | None = None,
              progress: bool = False) -> Sweep:
    """Train ``method`` at every point and seed on the same budget; measure each run.

    Args:
        method: a method name (:data:`~peftlab.methods.METHODS`).
        points: ``{label: method settings}``, e.g. ``{4: {"r": 4, "alpha": 4}, ...}``.
        data: a ``DatasetDict`` (or a source for :func:`~peftlab.data.load_dialogsum`).
        profile: sizes: ``sweep_seeds``, ``sweep_steps``, ``sweep_batch_size``,
            ``sweep_max_length``, ``train_limit``, ``sweep_val_split``, ``sweep_val_limit``,
            ``sweep_eval_limit`` (0: no ROUGE), ``eval_batch_size``, ``max_new_tokens``.
        model: the model to load for each run (default: the profile's).
        progress: a progress bar over the runs.

    Returns:
        A :class:`Sweep`; its runs differ only by the point's settings and the seed.
    """
    from tqdm.auto import tqdm

    seeded = "init_seed" in {f.name for f in dataclasses.fields(get_method(method).Config)}
    runs = [(label, seed) for label in points for seed in profile.sweep_seeds]
    sweep = Sweep(method=method)
    for label, seed in tqdm(runs, desc=f"{method} sweep", disable=not progress):
        started = time.perf_counter()
        settings = {**points[label], **({"init_seed": seed} if seeded else {})}
        # train() seeds, then applies the method: LoRA's A and the data order follow the seed
        result = train(load_model(model or profile.model), method, data,
                       max_steps=profile.sweep_steps, batch_size=profile.sweep_batch_size,
                       limit=profile.train_limit, max_length=profile.sweep_max_length, seed=seed,
                       method_overrides=settings, progress=False, step_memory=False)
        lab = result.lab
        loss = validation_loss(lab, data, profile.sweep_val_split, profile.sweep_val_limit,
                               batch_size=profile.eval_batch_size,
                               max_length=profile.sweep_max_length)
        rouge1 = None
        if profile.sweep_eval_limit:
            rouge1 = evaluate(lab, data, "test", limit=profile.sweep_eval_limit,
                              max_new_tokens=profile.max_new_tokens,
                              batch_size=profile.eval_batch_size, bootstrap=False,
                              progress=False).rouge1
        sweep.rows.append(SweepRow(
            point=label, seed=seed, val_loss=loss, trainable_params=result.costs.trainable_params,
            final_loss=result.final_loss, steps=result.global_step,
            examples=result.costs.examples_seen, seconds=time.perf_counter() - started,
            rouge1=rouge1))
    return sweep
