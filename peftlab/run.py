"""Run the course: execute the solution notebooks with papermill and write a report.

``run_course(profile)`` executes ``solutions/lab2/0[1-5]*.ipynb`` in order into
``DIR/notebooks/``; each notebook saves its measured results with
:func:`peftlab.results.save_results` into ``DIR/results/``; at the end
:func:`peftlab.results.write_report` writes ``DIR/results.json`` and ``DIR/report.md`` (the
comparison table, the run's times and links to the figures under ``DIR/figures/``).
``runs/latest`` points to the last run.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

from peftlab.errors import PeftlabError
from peftlab.paths import ASSIGNMENT, CHECKOUT, SOURCE_FOLDER
from peftlab.results import write_report

NOTEBOOK_DIR = CHECKOUT / SOURCE_FOLDER / ASSIGNMENT
LAB_NOTEBOOKS = ("01_data_and_zero_shot", "02_full_fine_tuning", "03_lora", "04_prompt_tuning",
                 "05_comparison")


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
               kernel: str = "python3", dry_run: bool = False) -> dict:
    """Execute the solution notebooks with papermill and write the run's report.

    Args:
        profile: ``smoke``, ``cpu`` or ``gpu``.
        notebooks: names or prefixes (``"03"``) of notebooks to run (default: all five).
        out: run folder (default ``runs/<timestamp>``); ``runs/latest`` then points to it.
        overrides: notebook parameters to set (e.g. ``{"model_name": "tiny-t5"}``).
        dry_run: the profile's code path at the smallest size (:meth:`Profile.dry`), e.g. the
            ``gpu`` profile on a CPU in a few minutes.

    Raises:
        PeftlabError: naming the notebook and cell that failed; what ran is kept.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from peftlab.profiles import get_profile

    settings = get_profile(profile, dry_run=dry_run)
    selected = _select(notebooks)
    if out is None:
        out = CHECKOUT / "runs" / datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(out).resolve()
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    latest = out.parent / "latest"
    if out.parent.name == "runs":
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(out.name)
    params = {"profile": profile, "out_dir": str(out), "dry_run": dry_run, **(overrides or {})}
    started = time.perf_counter()
    timings = {}
    for path in selected:
        print(f"peftlab run: {path.stem} (profile {profile}{', dry run' if dry_run else ''})",
              file=sys.stderr, flush=True)
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
