"""Evaluation: batched greedy generation, ROUGE against every reference, throughput.

:func:`evaluate` returns an :class:`Evaluation`; :func:`load_adapter` puts what ``train`` saved back
on a model, as the ``peftlab.json`` written with it says.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

from peftlab.data import TEMPLATES, load_dialogsum
from peftlab.errors import PeftlabError
from peftlab.methods import SavedRun, get_method
from peftlab.metrics import rouge


def load_adapter(lab, adapter_dir, adapter_name: str | None = None):
    """Put the run ``train`` saved in ``adapter_dir`` back on ``lab``: an adapter or a whole model.

    Args:
        lab: the base :class:`~peftlab.models.LabModel` the run was trained from.
        adapter_dir: the run's output folder (it holds ``peftlab.json``).
        adapter_name: the name to give a peft adapter (default: the name it was saved under).

    Returns:
        The LabModel to use: ``lab`` with the adapter attached, or a new one for a saved model.

    Raises:
        PeftlabError: the folder holds no ``peftlab.json`` (one line saying what to give instead).
    """
    folder = Path(adapter_dir)
    saved = SavedRun.read(folder)
    method = get_method(saved.method)
    trained = method.reload(lab, folder, saved, adapter_name)
    trained.inputs = method.INPUTS
    return trained


@dataclass
class Evaluation:
    """What :func:`evaluate` measured on one split.

    Attributes:
        rouge1 / rouge2 / rougeL / rougeLsum: mean ROUGE F-measures (0..1), best reference each.
        ci95: ``{rouge type: (low, high)}`` bootstrap 95% intervals (None without bootstrap).
        n: dialogues scored.
        seconds / examples_per_second / new_tokens_per_second: generation time and throughput.
        predictions: ``{"id", "prediction", "references", "rouge1"}`` per dialogue (its own
            ROUGE-1, for paired comparisons of methods on the same dialogues).
        accuracy: exact-match accuracy of the topic task (None for summaries).
    """

    split: str
    task: str
    n: int
    rouge1: float
    rouge2: float
    rougeL: float
    rougeLsum: float
    ci95: dict[str, tuple[float, float]] | None
    seconds: float
    examples_per_second: float
    new_tokens_per_second: float
    predictions: list[dict]
    accuracy: float | None = None

    def to_json(self) -> dict:
        """The measurements as JSON-ready values (``accuracy`` only for the topic task)."""
        data = dataclasses.asdict(self)
        if self.accuracy is None:
            data.pop("accuracy")
        return data


def evaluate(lab, data, split: str = "test", limit: int | None = None, *, task: str = "summary",
             max_new_tokens: int = 60, batch_size: int = 8, bootstrap: bool = True,
             progress: bool = True) -> Evaluation:
    """Generate for a split and score it with ROUGE against every reference.

    Args:
        lab: a :class:`~peftlab.models.LabModel` (possibly with an adapter).
        data: a ``DatasetDict`` or a source for :func:`~peftlab.data.load_dialogsum`.
        split: which split to use; ``limit``: first N rows only.
        task: ``"summary"`` (references: all of them) or ``"topic"`` (also reports exact-match accuracy).

    Returns:
        An :class:`Evaluation`.
    """
    data = data if hasattr(data, "keys") else load_dialogsum(data)
    if split not in data:
        raise PeftlabError(f"the data has no '{split}' split (it has {', '.join(data.keys())})")
    rows = data[split]
    if limit is not None:
        rows = rows.select(range(min(limit, len(rows))))
    refs = rows["references"] if task == "summary" else [[t] for t in rows[task]]
    started = time.perf_counter()
    preds = lab.summarize(rows["dialogue"], max_new_tokens=max_new_tokens, batch_size=batch_size,
                          template=TEMPLATES[task], progress=progress)
    seconds = time.perf_counter() - started
    new_tokens = sum(len(lab.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in preds)
    scores = rouge(preds, refs, bootstrap=bootstrap, per_example=True)
    accuracy = None
    if task == "topic":
        hits = [p.strip().lower().rstrip(".") == r[0].strip().lower() for p, r in zip(preds, refs)]
        accuracy = sum(hits) / len(hits) if hits else 0.0
    return Evaluation(
        split=split, task=task, n=scores["n"], rouge1=scores["rouge1"], rouge2=scores["rouge2"],
        rougeL=scores["rougeL"], rougeLsum=scores["rougeLsum"], ci95=scores.get("ci95"),
        seconds=seconds, examples_per_second=len(preds) / seconds if seconds else 0.0,
        new_tokens_per_second=new_tokens / seconds if seconds else 0.0,
        predictions=[{"id": i, "prediction": p, "references": r, "rouge1": s}
                     for i, p, r, s in zip(rows["id"], preds, refs,
                                           scores["per_example"]["rouge1"])],
        accuracy=accuracy)


def write_metrics(metrics: Evaluation, path) -> None:
    """Write an evaluation's measurements as JSON."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(metrics.to_json(), indent=2))
