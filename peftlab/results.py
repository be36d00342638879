"""Typed results of a course run, and its one report writer.

Each lab notebook saves what it measured with :func:`save_results` as
``<out>/results/<notebook>.json``: its :class:`ComparisonRow` per method plus measurements of its
own. :func:`load_results` reads them back as :class:`NotebookResults`, :func:`comparison_rows`
gathers the rows in course order, and :func:`write_report` writes ``results.json`` and
``report.md`` of the run folder; notebook 05 and ``peftlab run`` both call it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from peftlab.evaluation import Evaluation
from peftlab.memory import MEASURED_PARTS
from peftlab.profiles import Profile
from peftlab.training import TrainResult


@dataclass
class ComparisonRow:
    """One method's line of the comparison: what training cost and what evaluation measured.

    A row without training (zero-shot) keeps the training fields at 0 / None.

    Memory: ``weights_gb``, ``gradients_gb``, ``optimizer_gb`` and ``activations_gb`` are one
    training step of the run split into parts (:attr:`~peftlab.training.RunCosts.step_memory`:
    this model's tensors, counted and measured), the figures that compare methods;
    ``peak_memory_gb`` is the whole process's peak while training (on CPU it includes every model
    loaded before), kept for the record.

    Budget and sample: ``steps`` optimizer steps on ``examples`` training examples, scored on ``n``
    test dialogues; a fair comparison has the same three for every method.
    ``rouge1_by_id`` keeps each dialogue's ROUGE-1, so :func:`paired_with` can give the difference
    from a baseline on the same dialogues (``delta_rouge1`` and its paired 95% interval).
    """

    method: str
    trainable_params: int = 0
    total_params: int | None = None
    trainable_percent: float = 0.0
    steps: int = 0
    examples: int = 0
    train_seconds: float | None = None
    real_tokens_per_second: float | None = None
    peak_memory_gb: float | None = None
    weights_gb: float | None = None
    gradients_gb: float | None = None
    optimizer_gb: float | None = None
    activations_gb: float | None = None
    checkpoint_mb: float | None = None
    final_loss: float | None = None
    loss_history: list[dict] = field(default_factory=list)
    n: int | None = None
    rouge1: float | None = None
    rouge2: float | None = None
    rougeL: float | None = None
    rougeLsum: float | None = None
    ci95: dict[str, tuple[float, float]] | None = None
    gen_examples_per_second: float | None = None
    gen_tokens_per_second: float | None = None
    rouge1_by_id: dict[str, float] = field(default_factory=dict)
    delta_rouge1: float | None = None
    delta_ci95: tuple[float, float] | None = None
    baseline: str | None = None
    settings: dict = field(default_factory=dict)  # method settings worth naming (e.g. its init)

    @classmethod
    def of(cls, method: str, scores: Evaluation | None = None, run: TrainResult | None = None,
           **fields) -> ComparisonRow:
        """The row of ``method`` from its evaluation and/or training run; ``fields`` override."""
        values: dict = {}
        if run is not None:
            costs = run.costs
            values.update(
                trainable_params=costs.trainable_params, total_params=costs.total_params,
                trainable_percent=costs.trainable_percent, steps=run.global_step,
                examples=costs.examples_seen,
                train_seconds=costs.train_seconds, real_tokens_per_second=costs.real_tokens_per_second,
                peak_memory_gb=costs.peak_memory_bytes / 1e9, final_loss=run.final_loss,
                loss_history=run.loss_history,
                checkpoint_mb=None if costs.checkpoint_bytes is None else costs.checkpoint_bytes / 1e6)
            if costs.step_memory is not None:
                values.update({f"{part}_gb": gb for part, gb in costs.step_memory.as_gb().items()})
        if scores is not None:
            values.update(n=scores.n, rouge1=scores.rouge1, rouge2=scores.rouge2, rougeL=scores.rougeL,
                          rougeLsum=scores.rougeLsum, ci95=scores.ci95,
                          gen_examples_per_second=scores.examples_per_second,
                          gen_tokens_per_second=scores.new_tokens_per_second,
                          rouge1_by_id={str(p["id"]): p["rouge1"] for p in scores.predictions
                                        if "rouge1" in p})
        return cls(method=method, **{**values, **fields})

    @property
    def memory_gb(self) -> dict[str, float]:
        """The measured step's parts in GB (``{}`` for a row without them), for a stacked bar."""
        parts = {part: getattr(self, f"{part}_gb") for part in MEASURED_PARTS}
        return {} if any(gb is None for gb in parts.values()) else parts

    @property
    def step_memory_gb(self) -> float | None:
        """The measured step's parts added up (None for a row without them)."""
        return sum(self.memory_gb.values()) if self.memory_gb else None

    @property
    def rouge1_ci(self) -> str | None:
        """The ROUGE-1 95% interval as ``[low, high]`` text (None without one)."""
        if not self.ci95 or "rouge1" not in self.ci95:
            return None
        low, high = self.ci95["rouge1"]
        return f"[{low:.3f}, {high:.3f}]"

    @property
    def delta_vs_baseline(self) -> str | None:
        """``+0.051 [+0.020, +0.083]``: the paired difference from the baseline (None without)."""
        if self.delta_rouge1 is None or self.delta_ci95 is None:
            return None
        low, high = self.delta_ci95
        return f"{self.delta_rouge1:+.3f} [{low:+.3f}, {high:+.3f}]"

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ComparisonRow:
        row = cls(**data)
        if row.ci95:  # JSON has no tuples
            row.ci95 = {k: tuple(v) for k, v in row.ci95.items()}
        if row.delta_ci95:
            row.delta_ci95 = tuple(row.delta_ci95)
        return row


def paired_with(rows: list[ComparisonRow], baseline: str = "zero-shot") -> list[ComparisonRow]:
    """Fill each row's difference in ROUGE-1 from ``baseline``, paired over the same dialogues.

    A row is compared only when it scored exactly the baseline's dialogues; otherwise its delta
    stays None (an unpaired difference would mix method and sample). The rows are changed in
    place and returned.
    """
    from peftlab.metrics import paired_bootstrap_ci

    base = next((row for row in rows if row.method == baseline), None)
    if base is None or not base.rouge1_by_id:
        return rows
    ids = sorted(base.rouge1_by_id)
    for row in rows:
        if row is base or sorted(row.rouge1_by_id) != ids:
            continue
        mean, low, high = paired_bootstrap_ci([row.rouge1_by_id[i] for i in ids],
                                              [base.rouge1_by_id[i] for i in ids])
        row.delta_rouge1, row.delta_ci95, row.baseline = mean, (low, high), baseline
    return rows


@dataclass
class NotebookResults:
    """What one notebook measured: its comparison rows and measurements of its own (``extra``)."""

    notebook: str
    profile: str
    model: str
    notes: str = ""
    rows: list[ComparisonRow] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "rows": [row.to_json() for row in self.rows]}

    @classmethod
    def from_json(cls, data: dict) -> NotebookResults:
        return cls(**{**data, "rows": [ComparisonRow.from_json(r) for r in data.get("rows", [])]})


def save_results(out_dir, notebook: str, profile: Profile, rows: Iterable[ComparisonRow] = (),
                 **extra) -> Path:
    """Save one notebook's results as ``out_dir/results/<notebook>.json``.

    Args:
        out_dir: the run folder.
        notebook: the name to save under (e.g. ``03_lora``).
        profile: the run's profile (its name, model and notes are recorded).
        rows: one :class:`ComparisonRow` per method the notebook trained or scored.
        **extra: the notebook's own measurements (sweeps, latencies, ...), JSON-ready or arrays.
    """
    results = NotebookResults(notebook=notebook, profile=profile.name, model=profile.model,
                              notes=profile.notes, rows=list(rows), extra=extra)
    path = Path(out_dir) / "results" / f"{notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results.to_json(), indent=2, default=_jsonable))
    return path


def load_results(out_dir) -> dict[str, NotebookResults]:
    """All results saved so far in a run folder, by notebook name, in notebook order."""
    folder = Path(out_dir) / "results"
    return {p.stem: NotebookResults.from_json(json.loads(p.read_text()))
            for p in sorted(folder.glob("*.json"))}


def comparison_rows(results: dict[str, NotebookResults]) -> list[ComparisonRow]:
    """Every notebook's rows, in course order (notebook by notebook, as each saved them), each
    with its paired difference from zero-shot where both scored the same dialogues."""
    return paired_with([row for saved in results.values() for row in saved.rows])


def _jsonable(value):
    return value.tolist() if hasattr(value, "tolist") else str(value)


# -------------------------------------------------------------------------------------- report

REPORT_COLUMNS = [
    ("method", "method", ""), ("trainable_params", "trainable params", ",d"),
    ("trainable_percent", "trainable %", ".3f"), ("steps", "steps", "d"),
    ("examples", "examples", "d"), ("train_seconds", "train s", ".0f"),
    ("real_tokens_per_second", "tokens/s", ".0f"),
    ("step_memory_gb", "step memory GB", ".3f"), ("peak_memory_gb", "process peak GB", ".2f"),
    ("checkpoint_mb", "checkpoint MB", ".2f"), ("n", "n", "d"),
    ("rouge1", "ROUGE-1", ".3f"), ("rouge1_ci", "ROUGE-1 95% CI", ""),
    ("delta_vs_baseline", "ΔROUGE-1 vs zero-shot [paired 95% CI]", ""),
    ("rouge2", "ROUGE-2", ".3f"), ("rougeL", "ROUGE-L", ".3f"),
    ("gen_examples_per_second", "gen dialogues/s", ".2f"),
    ("gen_tokens_per_second", "gen tokens/s", ".1f"),
]


def markdown_table(rows: list, columns: list[tuple[str, str, str]] = REPORT_COLUMNS) -> str:
    """A markdown table of ``rows``; ``columns`` are (attribute, header, format) triples."""
    lines = ["| " + " | ".join(h for _, h, _ in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        cells = []
        for key, _, fmt in columns:
            value = getattr(row, key)
            cells.append("–" if value is None else format(value, fmt) if fmt else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(out_dir, profile: str, seconds: float | None = None,
                 notebook_seconds: dict[str, float] | None = None) -> Path:
    """Write ``results.json`` and ``report.md`` of a run folder from the notebooks' results.

    Returns the path of ``report.md``: the comparison table, the run's times and its figures.
    """
    out_dir = Path(out_dir)
    results = load_results(out_dir)
    rows = comparison_rows(results)
    (out_dir / "results.json").write_text(json.dumps(
        {"profile": profile, "seconds": seconds, "notebook_seconds": notebook_seconds,
         "methods": [row.to_json() for row in rows],
         "notebooks": {name: saved.to_json() for name, saved in results.items()}},
        indent=2, default=_jsonable))
    lines = [f"# peftlab run — profile `{profile}`", ""]
    if seconds is not None:
        lines += [f"Wall time: {seconds / 60:.1f} min ({seconds:.0f} s).", ""]
    if notebook_seconds:
        lines += [", ".join(f"{name} {s:.0f} s" for name, s in notebook_seconds.items()) + ".", ""]
    notes = [saved.notes for saved in results.values() if saved.notes]
    lines += [f"Setting: {notes[0]}" if notes else "", "", "## Comparison", "",
              markdown_table(rows), ""]
    figures = sorted((out_dir / "figures").glob("*.png")) if (out_dir / "figures").exists() else []
    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{f.stem}](figures/{f.name})" for f in figures]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report
