"""ROUGE floors that a GPU course run must reach, each with its source, and the check of a run.

The ``gpu`` profile trains FLAN-T5-base on DialogSum, the setting of the public Week 2 lab of the
course this one follows. That lab publishes the ROUGE of three FLAN-T5-base models on DialogSum's
test dialogues: the original model zero-shot, a fully fine-tuned ("instruct") model and a LoRA
("PEFT") model. Each floor is one of those figures minus a margin, because the runs differ: the
``gpu`` profile trains fewer steps than the lab's checkpoints had and scores its own 500 test
dialogues. A run below a floor is broken (a wrong prompt, a method that does not learn, a
generation bug), not unlucky.

Check a finished run folder (its ``results.json``)::

    python -m peftlab.thresholds runs/latest

Exit status 0: every floor met; 1: one line per metric below its floor (or missing); 2: no results,
or no floors for the run's model (nothing checked).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from peftlab.errors import PeftlabError

SOURCE = ("the public Week 2 lab (FLAN-T5-base on DialogSum): original model zero-shot, "
          "fully fine-tuned ('instruct') model, LoRA ('PEFT') model")
MARGIN = {"rouge1": 0.05, "rouge2": 0.04, "rougeL": 0.05}
METRIC_NAMES = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L"}


@dataclass(frozen=True)
class Threshold:
    """A floor on one metric of one method's row in a run's results.

    Attributes:
        method: the row's method as the report names it (``zero-shot``, ``full``, ``lora``).
        metric: ``rouge1``, ``rouge2`` or ``rougeL``.
        published: the lab's published figure for that model.
        margin: how far below ``published`` a run may land.
    """

    method: str
    metric: str
    published: float
    margin: float

    @property
    def floor(self) -> float:
        return round(self.published - self.margin, 4)

    def describe(self) -> str:
        return f"published {self.published:.4f} - margin {self.margin:.2f}"


def _floors(method: str, rouge1: float, rouge2: float, rougeL: float) -> tuple[Threshold, ...]:
    values = {"rouge1": rouge1, "rouge2": rouge2, "rougeL": rougeL}
    return tuple(Threshold(method, metric, value, MARGIN[metric]) for metric, value in values.items())


FLAN_T5_BASE = (
    *_floors("zero-shot", rouge1=0.2334, rouge2=0.0760, rougeL=0.2015),  # the lab's original model
    *_floors("full", rouge1=0.4216, rouge2=0.1804, rougeL=0.3384),  # its instruct model
    *_floors("lora", rouge1=0.4081, rouge2=0.1633, rougeL=0.3249),  # its PEFT (LoRA) model
)
THRESHOLDS = {"google/flan-t5-base": FLAN_T5_BASE}


def run_model(results: dict) -> str | None:
    """The model a run's notebooks used (from what they saved), or None if none says."""
    models = {saved.get("model") for saved in results.get("notebooks", {}).values()} - {None}
    if len(models) > 1:
        raise PeftlabError(f"the run's notebooks used several models ({', '.join(sorted(models))}); "
                           f"check one model's run")
    return models.pop() if models else None


def failures(results: dict, thresholds) -> list[str]:
    """One line for each threshold the run misses: a metric below its floor, or no such row."""
    rows = {row.get("method"): row for row in results.get("methods", [])}
    lines = []
    for t in thresholds:
        name = METRIC_NAMES[t.metric]
        value = rows.get(t.method, {}).get(t.metric)
        if value is None:
            lines.append(f"{name} of method '{t.method}' is missing from the run; threshold "
                         f"{t.floor:.4f} ({t.describe()})")
        elif value < t.floor:
            lines.append(f"{name} of method '{t.method}' is {value:.4f}, below its threshold "
                         f"{t.floor:.4f} ({t.describe()})")
    return lines


def load_run(run: str | Path) -> dict:
    """The ``results.json`` of a run folder (or the file itself)."""
    path = Path(run)
    path = path / "results.json" if path.is_dir() else path
    if not path.is_file():
        raise PeftlabError(f"no results at {path}: give a folder that 'peftlab run' finished")
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> int:
    """Check a run folder against its model's floors; print one line per miss."""
    parser = argparse.ArgumentParser(prog="python -m peftlab.thresholds",
                                     description="Check a run's ROUGE against published floors.")
    parser.add_argument("run", help="a run folder (or its results.json)")
    args = parser.parse_args(argv)
    try:
        results = load_run(args.run)
        model = run_model(results)
    except PeftlabError as err:
        print(f"thresholds: error: {err}", file=sys.stderr)
        return 2
    if model not in THRESHOLDS:
        print(f"thresholds: no published floors for model {model!r} (floors exist for "
              f"{', '.join(THRESHOLDS)}): nothing checked", file=sys.stderr)
        return 2
    missed = failures(results, THRESHOLDS[model])
    for line in missed:
        print(f"thresholds: FAIL: {line}", file=sys.stderr)
    if not missed:
        print(f"thresholds: {len(THRESHOLDS[model])} floors met for {model} (source: {SOURCE})")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
