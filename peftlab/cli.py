"""The ``peftlab`` command line: train, evaluate, run the course, grade it, check the set-up.

Logs and progress go to stderr; the last line on stdout is a JSON summary. Exit status 0 means
success, 2 a problem the user can fix (one line on stderr says what and how), 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from peftlab.data import MAX_LENGTH
from peftlab.errors import PeftlabError
from peftlab.methods import METHODS, get_method


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="peftlab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model with a PEFT method")
    p.add_argument("--model", required=True, help="model name or folder (see 'peftlab doctor')")
    p.add_argument("--method", required=True, choices=list(METHODS), type=_method_name)
    p.add_argument("--data", default="dialogsum-mini", help="anything load_dialogsum takes")
    p.add_argument("--task", default="summary", choices=("summary", "topic"))
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--max-length", type=int, default=MAX_LENGTH)
    p.add_argument("--limit", type=int, default=None, help="use only the first N training rows")
    p.add_argument("--save-steps", type=int, default=0)
    p.add_argument("--output", default=None, help="folder for checkpoints and the final adapter")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--set", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                   help="a method setting, e.g. --set r 8")

    p = sub.add_parser("evaluate", help="generate and score ROUGE")
    p.add_argument("--model", required=True)
    p.add_argument("--adapter", default=None, help="a 'peftlab train --output' folder")
    p.add_argument("--data", default="dialogsum-mini")
    p.add_argument("--split", default="test")
    p.add_argument("--task", default="summary", choices=("summary", "topic"))
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-new-tokens", type=int, default=60)
    p.add_argument("--output", default=None, help="metrics.json path")

    sub.add_parser("doctor", help="versions, device, cache and which models work offline")
    p = sub.add_parser("setup", help="prepare offline models in the cache (converts SmolLM2 once)")
    p.add_argument("models", nargs="*", default=["smollm2-135m-instruct"])

    p = sub.add_parser("run", help="execute the course notebooks with papermill")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--notebooks", nargs="*", default=None, help="names or numbers, e.g. 01 03")
    p.add_argument("--out", default=None, help="run folder (default runs/<timestamp>)")
    p.add_argument("--dry-run", action="store_true",
                   help="the profile's code path at the smallest size (e.g. gpu on a CPU, minutes)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                   metavar=("KEY", "VALUE"), help="override a notebook parameter")

    p = sub.add_parser("lab", help="JupyterLab for a student, on a working copy of the release")
    p.add_argument("--workdir", default=None,
                   help="the student's folder (default $PEFTLAB_WORKDIR, else student/); "
                        "its lab2/ is copied from labs/lab2 on first use and kept afterwards")
    p.add_argument("--profile", default=None, help="smoke | cpu | gpu for every notebook "
                   "(sets PEFTLAB_PROFILE; default: $PEFTLAB_PROFILE, else cpu)")
    p.add_argument("--port", type=int, default=None, help="default: the first free from 8888")
    p.add_argument("--no-browser", action="store_true", help="only print the URL")

    p = sub.add_parser("instructor", help="JupyterLab at the course root, with Formgrader")
    p.add_argument("--port", type=int, default=None, help="default: the first free from 8888")
    p.add_argument("--no-browser", action="store_true", help="only print the URL")

    sub.add_parser("course", help="nbgrader course: generate, autograde, feedback, export, status",
                   add_help=False)
    return parser


def _method_name(name: str) -> str:
    """``--method``'s value, checked against the registry: an old name (``bitfit``) gets the line
    naming the new one, not only argparse's list of choices."""
    try:
        get_method(name)
    except PeftlabError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return name


def _value(text: str):
    """A CLI value as int, float, bool, list (comma) or string."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text.split(",") if "," in text else text


def cmd_train(args) -> dict:
    from peftlab.training import train

    result = train(args.model, args.method, args.data, task=args.task, max_steps=args.max_steps,
                   num_epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                   max_length=args.max_length, limit=args.limit, save_steps=args.save_steps,
                   output_dir=args.output, resume=args.resume,
                   gradient_checkpointing=args.gradient_checkpointing, seed=args.seed,
                   method_overrides={k: _value(v) for k, v in args.set} or None)
    summary = result.to_json()
    summary.pop("loss_history")
    return summary


def cmd_evaluate(args) -> dict:
    from peftlab.evaluation import evaluate, load_adapter, write_metrics
    from peftlab.models import load_model

    lab = load_model(args.model)
    if args.adapter:
        lab = load_adapter(lab, args.adapter)
    metrics = evaluate(lab, args.data, split=args.split, limit=args.limit, task=args.task,
                       batch_size=args.batch_size, max_new_tokens=args.max_new_tokens)
    if args.output:
        write_metrics(metrics, args.output)
    summary = metrics.to_json()
    summary.pop("predictions")
    return summary


def cmd_doctor(args) -> dict:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    import torch

    from peftlab.models import cache_dir, offline_models

    versions = {}
    for name in ("torch", "transformers", "peft", "datasets", "evaluate", "rouge-score",
                 "accelerate", "gguf", "nbgrader", "papermill", "jupyterlab"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    report = {"python": platform.python_version(), "versions": versions,
              "device": "cuda" if torch.cuda.is_available() else "cpu",
              "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
              "cpu_threads": torch.get_num_threads(), "cache": str(cache_dir()),
              "hf_hub_offline": os.environ.get("HF_HUB_OFFLINE", "0"),
              "offline_models": offline_models()}
    for key, value in report.items():
        print(f"{key:>15}: {value}", file=sys.stderr)
    return report


def cmd_setup(args) -> dict:
    from peftlab.models import SMOLLM2, ensure_smollm2, tiny_tokenizer

    ready = {}
    for name in args.models:
        if name == SMOLLM2:
            ready[name] = str(ensure_smollm2())
        tiny_tokenizer()
    return {"ready": ready}


def cmd_run(args) -> dict:
    from peftlab.run import run_course

    return run_course(profile=args.profile, notebooks=args.notebooks, out=args.out,
                      overrides={k: _value(v) for k, v in args.parameter}, dry_run=args.dry_run)


def cmd_lab(args) -> dict:
    from peftlab.lab import start, student_launch

    start(student_launch(args.workdir, args.profile, args.port, not args.no_browser))
    return {}  # not reached: start() becomes JupyterLab


def cmd_instructor(args) -> dict:
    from peftlab.lab import instructor_launch, start

    start(instructor_launch(port=args.port, open_browser=not args.no_browser))
    return {}  # not reached: start() becomes JupyterLab


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "doctor": cmd_doctor, "setup": cmd_setup,
            "run": cmd_run, "lab": cmd_lab, "instructor": cmd_instructor}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``peftlab`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "course":
        from peftlab.grading.cli import main as course_main

        return course_main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        summary = COMMANDS[args.command](args)
    except PeftlabError as err:
        print(f"peftlab {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"peftlab {args.command}: interrupted", file=sys.stderr)
        return 130
    print(json.dumps(summary, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
