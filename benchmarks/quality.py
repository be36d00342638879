"""Quality: zero-shot vs LoRA vs prompt tuning vs full fine-tuning within a stated CPU budget.

For each dataset it trains each method from the same pretrained weights on the same training rows and
scores ROUGE (best of the references, 95% bootstrap interval) on the same held-out dialogues:

* ``dialogsum-mini`` — the embedded sample: train split, scored on its test split (3 references);
* real DialogSum from ``../shared/dialogsum`` (benchmarks only; never shipped or tested against): the
  first ``--train-rows`` training dialogues, scored on the first ``--eval-rows`` dev dialogues.

Usage: ``.venv/bin/python benchmarks/quality.py [--datasets mini real] [--model smollm2-135m-instruct]``.
Prints a markdown table and writes ``benchmarks/results/quality.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "dialogsum"


def one_dataset(name: str, source: str, args) -> list[dict]:
    from peftlab.data import load_dialogsum
    from peftlab.evaluation import evaluate
    from peftlab.models import load_model
    from peftlab.training import train

    data = load_dialogsum(source)
    eval_split = "test" if "test" in data else "validation"
    rows = []

    def score(lab, method, result=None, seconds=0.0):
        metrics = evaluate(lab, data, eval_split, limit=args.eval_rows, max_new_tokens=60,
                           progress=False)
        row = {"dataset": name, "method": method, "rouge1": metrics.rouge1,
               "rouge1_ci": metrics.ci95["rouge1"], "rouge2": metrics.rouge2,
               "rougeL": metrics.rougeL, "n": metrics.n, "train_seconds": seconds,
               "steps": result.global_step if result else 0,
               "trainable_params": result.costs.trainable_params if result else 0}
        print(f"  {name:<15}{method:<11}ROUGE-1 {row['rouge1']:.3f} [{row['rouge1_ci'][0]:.3f}, "
              f"{row['rouge1_ci'][1]:.3f}]  train {seconds:.0f} s", flush=True)
        rows.append(row)

    score(load_model(args.model), "zero-shot")
    n_train = min(args.train_rows, len(data["train"]))
    plan = {"lora": {"num_epochs": 1.0}, "prompt": {"max_steps": args.prompt_steps},
            "full": {"max_steps": args.full_steps}}
    for method, length in plan.items():
        lab = load_model(args.model)
        result = train(lab, method, data, limit=n_train, batch_size=8, seed=0, progress=False, **length)
        score(lab, method, result, result.costs.train_seconds)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--datasets", nargs="+", default=["mini", "real"], choices=["mini", "real"])
    parser.add_argument("--train-rows", type=int, default=240)
    parser.add_argument("--eval-rows", type=int, default=60)
    parser.add_argument("--prompt-steps", type=int, default=10)
    parser.add_argument("--full-steps", type=int, default=10)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "quality.json"))
    args = parser.parse_args()
    print(f"budget: LoRA one epoch of {args.train_rows} rows (batch 8), prompt tuning "
          f"{args.prompt_steps} steps, full fine-tuning {args.full_steps} steps; "
          f"{args.eval_rows} held-out dialogues each", flush=True)
    started = time.perf_counter()
    rows = []
    for name in args.datasets:
        if name == "real" and not SHARED.exists():
            print(f"  skipping real DialogSum: {SHARED} not found")
            continue
        rows += one_dataset("dialogsum-mini" if name == "mini" else "DialogSum (real)",
                            "dialogsum-mini" if name == "mini" else str(SHARED), args)
    print("\n| data | method | steps | train s | ROUGE-1 [95% CI] | ROUGE-2 | ROUGE-L |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['dataset']} | {r['method']} | {r['steps']} | {r['train_seconds']:.0f} | "
              f"{r['rouge1']:.3f} [{r['rouge1_ci'][0]:.3f}, {r['rouge1_ci'][1]:.3f}] | "
              f"{r['rouge2']:.3f} | {r['rougeL']:.3f} |")
    for dataset in {r["dataset"] for r in rows}:
        by = {r["method"]: r for r in rows if r["dataset"] == dataset}
        if "lora" in by:
            gain = by["lora"]["rouge1"] - by["zero-shot"]["rouge1"]
            print(f"{dataset}: LoRA - zero-shot = {gain:+.3f} ROUGE-1 (target >= +0.03)")
    total = time.perf_counter() - started
    print(f"total {total / 60:.1f} min")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "rows": rows, "seconds": total}, indent=2))


if __name__ == "__main__":
    main()
