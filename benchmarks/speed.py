"""Training speed: the lab's recipe vs peftlab, side by side in one run, same work.

Both runs train the same model from the same weights on the same training examples, for the same
number of steps (one pass), with the same learning rate, LoRA configuration and max length (512).

* recipe: every example padded to 512 tokens (prompt + summary for a causal model, loss on the summary
  only), random batches — what the course's lab does with ``padding="max_length"``;
* peftlab: dynamic padding, length-grouped batches, and for causal models left padding with logits
  computed only where labels are (``peftlab.training``).

It prints real tokens/s of both, the wall-time ratio, and the mean loss of both trained models on the
same fixed validation examples (the gain must not cost quality). Usage:

    .venv/bin/python benchmarks/speed.py [--model smollm2-135m-instruct] [--data DIR] [--examples 48]

``--data`` defaults to ../shared/dialogsum when present (real DialogSum, benchmarks only), else the
embedded sample.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "dialogsum"


def validation_loss(lab, rows, max_length: int = 512) -> float:
    """Mean per-example loss (summary tokens) over ``rows``, one example at a time, no padding."""
    import torch

    from peftlab.data import PROMPT_TEMPLATE
    from peftlab.training import encode_causal, encode_seq2seq

    encode = encode_causal if lab.family == "causal" else encode_seq2seq
    losses = []
    lab.model.eval()
    with torch.no_grad():
        for row in rows:
            ex = encode(lab, row["dialogue"], row["summary"], max_length, PROMPT_TEMPLATE)
            ids = torch.tensor([ex["input_ids"]], device=lab.device)
            labels = torch.tensor([ex["labels"]], device=lab.device)
            losses.append(float(lab.model(input_ids=ids, labels=labels).loss))
    return sum(losses) / len(losses)


def run_once(model: str, data, n_examples: int, batch_size: int, recipe: bool, val_rows) -> dict:
    from peftlab.models import load_model
    from peftlab.training import train

    lab = load_model(model)
    result = train(lab, "lora", data, max_steps=n_examples // batch_size, batch_size=batch_size,
                   limit=n_examples, max_length=512, lr=1e-3, seed=0, progress=False,
                   recipe_padding=recipe)
    costs = result.costs
    return {"setting": "recipe (pad to 512)" if recipe else "peftlab", "steps": result.global_step,
            "seconds": costs.train_seconds, "real_tokens": costs.real_tokens,
            "padded_tokens": costs.padded_tokens, "padding_fraction": costs.padding_fraction,
            "real_tokens_per_second": costs.real_tokens_per_second,
            "peak_memory_gb": costs.peak_memory_bytes / 1e9,
            "validation_loss": validation_loss(lab, val_rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--data", default=str(SHARED) if SHARED.exists() else "dialogsum-mini")
    parser.add_argument("--examples", type=int, default=48, help="training examples (one pass)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--validation", type=int, default=64)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "speed.json"))
    args = parser.parse_args()

    from peftlab.data import load_dialogsum

    data = load_dialogsum(args.data)
    val_split = "validation" if "validation" in data else "test"
    val_rows = data[val_split].select(range(min(args.validation, len(data[val_split]))))
    started = time.perf_counter()
    runs = [run_once(args.model, data, args.examples, args.batch_size, recipe, val_rows)
            for recipe in (True, False)]
    recipe, ours = runs
    print(f"model {args.model}, data {args.data}: {args.examples} training examples, batch "
          f"{args.batch_size}, max length 512, LoRA r=32 on q/v, lr 1e-3; validation: "
          f"{len(val_rows)} {val_split} examples")
    print(f"{'setting':<22}{'steps':>6}{'seconds':>9}{'real tok/s':>12}{'padding':>9}"
          f"{'peak GB':>9}{'val loss':>10}")
    for r in runs:
        print(f"{r['setting']:<22}{r['steps']:>6}{r['seconds']:>9.1f}{r['real_tokens_per_second']:>12.1f}"
              f"{r['padding_fraction']:>9.0%}{r['peak_memory_gb']:>9.2f}{r['validation_loss']:>10.4f}")
    ratio = recipe["seconds"] / ours["seconds"]
    loss_change = ours["validation_loss"] / recipe["validation_loss"] - 1
    assert recipe["real_tokens"] == ours["real_tokens"], "both runs must see the same tokens"
    print(f"speed-up (wall time recipe / peftlab): {ratio:.2f}x; validation loss peftlab vs recipe: "
          f"{loss_change:+.1%} (target: >= 2x at +-2%)")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "runs": runs, "speedup": ratio,
                               "validation_loss_change": loss_change,
                               "total_seconds": time.perf_counter() - started}, indent=2))


if __name__ == "__main__":
    main()
