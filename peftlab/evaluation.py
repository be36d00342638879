"""Evaluation: batched greedy generation, ROUGE against every reference, throughput."""

from __future__ import annotations

import json
import time
from pathlib import Path

from peftlab.data import TEMPLATES
from peftlab.errors import PeftlabError


def load_adapter(lab, adapter_dir, adapter_name: str = "default"):
    """Attach what ``train`` saved in ``adapter_dir`` to ``lab``: a peft adapter or a whole model.

    Returns the LabModel (a new one for a saved full model).
    """
    from peftlab.models import load_model

    adapter_dir = Path(adapter_dir)
    if (adapter_dir / "adapter_config.json").exists():
        from peft import PeftModel

        if hasattr(lab.model, "load_adapter") and getattr(lab.model, "peft_config", None):
            lab.model.load_adapter(str(adapter_dir), adapter_name=adapter_name)
            lab.model.set_adapter(adapter_name)
        else:
            lab.model = PeftModel.from_pretrained(lab.model, str(adapter_dir), adapter_name=adapter_name)
        lab.model.to(lab.device).eval()
        return lab
    if (adapter_dir / "config.json").exists():
        trained = load_model(str(adapter_dir), device=str(lab.device))
        trained.name = lab.name
        return trained
    raise PeftlabError(f"{adapter_dir} holds no adapter_config.json or config.json; give the "
                       f"--output folder of 'peftlab train'")


def evaluate(lab, data, split: str = "test", limit: int | None = None, *, task: str = "summary",
             max_new_tokens: int = 60, batch_size: int = 8, bootstrap: bool = True,
             progress: bool = True) -> dict:
    """Generate for a split and score it with ROUGE against every reference.

    Args:
        lab: a :class:`~peftlab.models.LabModel` (possibly with an adapter).
        data: a ``DatasetDict`` or a source for :func:`~peftlab.data.load_dialogsum`.
        split: which split to use; ``limit``: first N rows only.
        task: ``"summary"`` (references: all of them) or ``"topic"`` (also reports exact-match accuracy).

    Returns:
        ``{"rouge1", "rouge2", "rougeL", "rougeLsum", "ci95", "n", "predictions",
        "seconds", "examples_per_second", "new_tokens_per_second"}``
    """
    from peftlab.data import load_dialogsum
    from peftlab.metrics import rouge

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
    scores = rouge(preds, refs, bootstrap=bootstrap)
    scores.update({
        "split": split, "task": task, "seconds": seconds,
        "examples_per_second": len(preds) / seconds if seconds else 0.0,
        "new_tokens_per_second": new_tokens / seconds if seconds else 0.0,
        "predictions": [{"id": i, "prediction": p, "references": r}
                        for i, p, r in zip(rows["id"], preds, refs)],
    })
    if task == "topic":
        hits = [p.strip().lower().rstrip(".") == r[0].strip().lower() for p, r in zip(preds, refs)]
        scores["accuracy"] = sum(hits) / len(hits) if hits else 0.0
    return scores


def write_metrics(metrics: dict, path) -> None:
    """Write evaluation metrics as JSON (tuples become lists)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(metrics, indent=2))
