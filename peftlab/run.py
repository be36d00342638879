"""Run the course: execute the solution notebooks with papermill and write a report.

``run_course(profile)`` executes ``solutions/lab2/0[1-5]*.ipynb`` in order into
``DIR/notebooks/``; each notebook saves its measured results with :func:`save_results` into
``DIR/results/``; at the end ``DIR/results.json`` and ``DIR/report.md`` hold the comparison table
and links to the figures (PNG files under ``DIR/figures/``). ``runs/latest`` points to the last run.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path

from peftlab.errors import PeftlabError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "solutions" / "lab2"
LAB_NOTEBOOKS = ("01_data_and_zero_shot", "02_full_fine_tuning", "03_lora", "04_prompt_tuning",
                 "05_comparison")


# ------------------------------------------------------------------- results shared by notebooks


def save_results(out_dir, name: str, results: dict) -> Path:
    """Save one notebook's measured results as ``out_dir/results/<name>.json``."""
    path = Path(out_dir) / "results" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=_jsonable))
    return path


def load_results(out_dir) -> dict[str, dict]:
    """All results saved so far in a run folder: ``{notebook name: results}``."""
    folder = Path(out_dir) / "results"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "to_json"):
        return value.to_json()
    return str(value)


def method_row(metrics: dict | None = None, result=None, **extra) -> dict:
    """One comparison row from evaluation metrics and/or a :class:`~peftlab.training.TrainResult`."""
    row: dict = {"trainable_params": 0, "trainable_percent": 0.0, "steps": 0}
    if result is not None:
        costs = result.costs
        row.update({
            "trainable_params": costs["trainable_params"], "total_params": costs["total_params"],
            "trainable_percent": costs["trainable_percent"], "steps": result.global_step,
            "train_seconds": costs["train_seconds"],
            "real_tokens_per_second": costs["real_tokens_per_second"],
            "peak_memory_gb": costs["peak_memory_bytes"] / 1e9,
            "final_loss": result.final_loss, "loss_history": result.loss_history})
        if "checkpoint_bytes" in costs:
            row["checkpoint_mb"] = costs["checkpoint_bytes"] / 1e6
    if metrics is not None:
        row.update({k: metrics[k] for k in ("rouge1", "rouge2", "rougeL", "rougeLsum", "n")})
        low, high = metrics.get("ci95", {}).get("rouge1", (None, None))
        row["rouge1_ci"] = f"[{low:.3f}, {high:.3f}]" if low is not None else None
        row["ci95"] = metrics.get("ci95")
        row["gen_examples_per_second"] = metrics.get("examples_per_second")
    row.update(extra)
    return row


def comparison_rows(results: dict[str, dict]) -> list[dict]:
    """One row per method from the notebooks' results (the ``methods`` entries they saved)."""
    rows = []
    for saved in results.values():
        for method, row in saved.get("methods", {}).items():
            rows.append({"method": method, **row})
    order = ["zero-shot", "full", "bitfit", "lora", "lora (merged)", "prompt", "prefix"]
    return sorted(rows, key=lambda r: order.index(r["method"]) if r["method"] in order else 99)


def markdown_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """A markdown table; ``columns`` are (key, header, format) triples."""
    lines = ["| " + " | ".join(h for _, h, _ in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        cells = []
        for key, _, fmt in columns:
            value = row.get(key)
            cells.append("–" if value is None else format(value, fmt) if fmt else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


REPORT_COLUMNS = [
    ("method", "method", ""), ("trainable_params", "trainable params", ",d"),
    ("trainable_percent", "trainable %", ".3f"), ("steps", "steps", "d"),
    ("train_seconds", "train s", ".0f"), ("real_tokens_per_second", "tokens/s", ".0f"),
    ("peak_memory_gb", "peak mem GB", ".2f"), ("checkpoint_mb", "checkpoint MB", ".2f"),
    ("rouge1", "ROUGE-1", ".3f"), ("rouge1_ci", "ROUGE-1 95% CI", ""), ("rouge2", "ROUGE-2", ".3f"),
    ("rougeL", "ROUGE-L", ".3f"), ("gen_examples_per_second", "gen ex/s", ".2f"),
]


def write_report(out_dir, profile: str, seconds: float | None = None,
                 notebook_seconds: dict[str, float] | None = None) -> Path:
    """Write ``results.json`` and ``report.md`` of a run folder from the notebooks' results."""
    out_dir = Path(out_dir)
    results = load_results(out_dir)
    rows = comparison_rows(results)
    (out_dir / "results.json").write_text(json.dumps({"profile": profile, "seconds": seconds,
                                                      "notebook_seconds": notebook_seconds,
                                                      "methods": rows, "notebooks": results},
                                                     indent=2, default=_jsonable))
    lines = [f"# peftlab run — profile `{profile}`", ""]
    if seconds is not None:
        lines += [f"Wall time: {seconds / 60:.1f} min ({seconds:.0f} s).", ""]
    if notebook_seconds:
        lines += [", ".join(f"{name} {s:.0f} s" for name, s in notebook_seconds.items()) + ".", ""]
    notes = [r.get("notes") for r in results.values() if r.get("notes")]
    lines += [f"Setting: {notes[0]}" if notes else "", "", "## Comparison", "",
              markdown_table(rows, REPORT_COLUMNS), ""]
    figures = sorted((out_dir / "figures").glob("*.png")) if (out_dir / "figures").exists() else []
    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{f.stem}](figures/{f.name})" for f in figures]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report


# ----------------------------------------------------------------------------------- execution


def _select(notebooks) -> list[Path]:
    paths = [NOTEBOOK_DIR / f"{n}.ipynb" for n in LAB_NOTEBOOKS]
    if not notebooks:
        return paths
    chosen = []
    for want in notebooks:
        match = [p for p in paths if p.stem == want or p.stem.startswith(want)]
        if not match:
            raise PeftlabError(f"no notebook '{want}': choose from {', '.join(LAB_NOTEBOOKS)}")
        chosen.extend(m for m in match if m not in chosen)
    return chosen


def run_course(profile: str = "cpu", notebooks=None, out=None, overrides: dict | None = None,
               kernel: str = "python3") -> dict:
    """Execute the solution notebooks with papermill and write the run's report.

    Args:
        profile: ``smoke``, ``cpu`` or ``gpu``.
        notebooks: names or prefixes (``"03"``) of notebooks to run (default: all five).
        out: run folder (default ``runs/<timestamp>``); ``runs/latest`` then points to it.
        overrides: notebook parameters to set (e.g. ``{"model_name": "tiny-t5"}``).

    Raises:
        PeftlabError: naming the notebook and cell that failed; what ran is kept.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from peftlab.profiles import get_profile

    settings = get_profile(profile)
    selected = _select(notebooks)
    if out is None:
        out = ROOT / "runs" / datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(out).resolve()
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    latest = out.parent / "latest"
    if out.parent.name == "runs":
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(out.name)
    params = {"profile": profile, "out_dir": str(out), **(overrides or {})}
    started = time.perf_counter()
    timings = {}
    for path in selected:
        print(f"peftlab run: {path.stem} (profile {profile})", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(path), str(out / "notebooks" / path.name), parameters=params,
                kernel_name=kernel, cwd=str(path.parent), execution_timeout=settings.cell_timeout,
                progress_bar=False, stdout_file=None, stderr_file=None)
        except PapermillExecutionError as err:
            write_report(out, profile, time.perf_counter() - started, timings)
            raise PeftlabError(f"{path.name} failed in cell {err.exec_count} ({err.ename}: "
                               f"{str(err.evalue).splitlines()[0][:200] if err.evalue else ''}); "
                               f"executed copy: {out / 'notebooks' / path.name}") from None
        except Exception as err:  # timeouts and dead kernels come as several types
            write_report(out, profile, time.perf_counter() - started, timings)
            raise PeftlabError(f"{path.name} stopped: {type(err).__name__}: "
                               f"{str(err).splitlines()[0][:200] if str(err) else ''}; "
                               f"executed copy: {out / 'notebooks' / path.name}") from None
        timings[path.stem] = time.perf_counter() - t0
        print(f"peftlab run: {path.stem} done in {timings[path.stem]:.0f} s", file=sys.stderr)
    seconds = time.perf_counter() - started
    report = write_report(out, profile, seconds, timings)
    return {"run": str(out), "report": str(report), "seconds": seconds, "notebook_seconds": timings}
