"""Run the course: execute the solution notebooks with papermill and write a report.

``run_course(profile)`` executes ``solutions/lab2/0[1-5]*.ipynb`` in order into
``DIR/notebooks/``; each notebook saves its measured results with
:func:`peftlab.results.save_results` into ``DIR/results/``; at the end
:func:`peftlab.results.write_report` writes ``DIR/results.json`` and ``DIR/report.md`` (the
comparison table, the run's times and links to the figures under ``DIR/figures/``).
``runs/latest`` points to the last run.

While a notebook executes, one line at a time on stderr says how many cells are done and, from
the recorded timings of this profile (:mod:`peftlab.timings`), about how long is left. The lines
come from papermill's own per-cell hooks (``NotebookExecutionManager.cell_start`` /
``cell_complete``) through a registered engine, so papermill still executes the notebook. After
each notebook of a full run (no dry run, no parameter overrides) its measured seconds, per cell,
are recorded.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

from peftlab import timings as timing_record
from peftlab.errors import PeftlabError
from peftlab.paths import ASSIGNMENT, CHECKOUT, SOURCE_FOLDER
from peftlab.results import write_report

NOTEBOOK_DIR = CHECKOUT / SOURCE_FOLDER / ASSIGNMENT
LAB_NOTEBOOKS = ("01_data_and_zero_shot", "02_full_fine_tuning", "03_lora", "04_prompt_tuning",
                 "05_comparison")


ENGINE = "peftlab"  # the papermill engine that reports progress
SESSION_VARIABLE = "JPY_SESSION_NAME"  # Jupyter tells a kernel its notebook's path this way
SLOW_CELL_SECONDS = 5.0  # a code cell that ends after this long gets a progress line
EVERY_SECONDS = 30.0  # and a line at least this often while a cell runs


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


class Progress:
    """One progress line at a time on a stream: code cells done of total, time elapsed and, from
    the recorded cell timings of the profile, an ETA for the notebook and for the rest of the run.

    The record is scaled by how this run compares with it so far: the ratio of the measured to the
    recorded seconds of the cells done (once the record of those cells reaches a few seconds).
    Without a record the line gives the elapsed time only.

    Args:
        record: ``{notebook: NotebookTiming}`` of the profile (may be empty).
        notebooks: the run's notebooks in order (for the rest-of-run ETA).
        slow_cell: a cell that took this many seconds or more prints a line when it ends.
        every: while a cell runs, a line at least this often (a background timer).
        clock: seconds, monotonic.
    """

    def __init__(self, record: dict, notebooks, stream=None, slow_cell: float = SLOW_CELL_SECONDS,
                 every: float = EVERY_SECONDS, clock=time.monotonic):
        self.record, self.notebooks = record, list(notebooks)
        self.stream, self.slow_cell, self.every = stream or sys.stderr, slow_cell, every
        self.clock = clock
        self.measured = self.recorded = 0.0  # of the cells done that the record knows
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = None

    def start(self, notebook: str, cells: list[str]) -> None:
        """A notebook begins: ``cells`` are the keys of its code cells in order."""
        self.notebook, self.keys, self.done = notebook, cells, 0
        self.cells = self.record[notebook].cells if notebook in self.record else None
        self.began = self.cell_began = self.clock()
        self.last_line = self.began
        self._stop.clear()
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()

    def cell_start(self) -> None:
        self.cell_began = self.clock()

    def cell_complete(self, key: str) -> None:
        """A code cell ended: count it, learn the run's pace, print a line if it was slow."""
        now = self.clock()
        took = now - self.cell_began
        with self._lock:
            self.done += 1
            self.cell_began = now  # the next cell starts now (markdown cells take no time)
            if self.cells is not None and key in self.cells:
                self.measured += took
                self.recorded += self.cells[key]
        if took >= self.slow_cell:
            self.report(now)

    def finish(self) -> None:
        """The notebook ended (or failed): stop the timer."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()

    def _tick(self) -> None:
        while not self._stop.wait(min(self.every, 5.0)):
            if self.clock() - self.last_line >= self.every:
                self.report(self.clock())

    def scale(self) -> float:
        """How many times longer than the record this run's cells take (1 until the record of the
        cells done sums to a few seconds: tiny cells would make it noise)."""
        return self.measured / self.recorded if self.recorded >= self.slow_cell else 1.0

    def _overrun(self, now: float) -> float | None:
        """The running cell's recorded seconds when it has run longer than that (scaled), else
        None: how much of it is left is then unknown."""
        pending = self.keys[self.done:]
        if not pending or self.cells is None or pending[0] not in self.cells:
            return None
        recorded = self.cells[pending[0]]
        running = now - self.cell_began
        return recorded if running >= self.slow_cell and running > recorded * self.scale() else None

    def left(self, now: float) -> tuple[float, float] | None:
        """Seconds left in this notebook and in the whole run, estimated; None without a record.
        A running cell that has overrun its record counts as about to end."""
        if self.cells is None:
            return None
        scale, pending = self.scale(), self.keys[self.done:]
        here = sum(self.cells.get(k, 0.0) for k in pending[1:]) * scale
        if pending:
            here += max(0.0, self.cells.get(pending[0], 0.0) * scale - (now - self.cell_began))
        run = here + sum(self.record[n].seconds for n in self.later if n in self.record) * scale
        return here, run

    @property
    def later(self) -> list[str]:
        """The notebooks of the run after this one."""
        return self.notebooks[self.notebooks.index(self.notebook) + 1:]

    def line(self, now: float) -> str:
        """``peftlab run: 03_lora 7/17 cells, 2:10 elapsed, ETA ~6 min (run ~14 min)``."""
        text = (f"peftlab run: {self.notebook} {self.done}/{len(self.keys)} cells, "
                f"{_clock(now - self.began)} elapsed")
        left = self.left(now)
        if left is None:
            return f"{text} (no timings recorded for this notebook and profile: no ETA)"
        text += f", ETA {timing_record.coarse(left[0])}"
        overrun = self._overrun(now)
        if overrun is not None:
            text += (f" after this cell (running {_clock(now - self.cell_began)}, recorded "
                     f"{_clock(overrun)})")
        if self.later:
            unknown = [n for n in self.later if n not in self.record]
            text += f" (run {timing_record.coarse(left[1])}{' + unrecorded' if unknown else ''})"
        return text

    def report(self, now: float) -> None:
        with self._lock:
            print(self.line(now), file=self.stream, flush=True)
            self.last_line = now


class _ProgressManager(NotebookExecutionManager):
    """papermill's execution manager, telling a :class:`Progress` about each code cell."""

    def __init__(self, nb, progress: Progress | None, **kwargs):
        super().__init__(nb, **kwargs)
        self.progress = progress

    def notebook_start(self, **kwargs):
        super().notebook_start(**kwargs)
        if self.progress is not None:  # the cells as executed: papermill's parameters included
            name = Path(self.nb.metadata.papermill.get("input_path") or "notebook").stem
            self.progress.start(name, [timing_record.cell_key(c) for c in self.nb.cells
                                       if c.get("cell_type") == "code"])

    def notebook_complete(self, **kwargs):
        if self.progress is not None:
            self.progress.finish()
        super().notebook_complete(**kwargs)

    def cell_start(self, cell, cell_index=None, **kwargs):
        super().cell_start(cell, cell_index, **kwargs)
        if self.progress is not None and cell.get("cell_type") == "code":
            self.progress.cell_start()

    def cell_complete(self, cell, cell_index=None, **kwargs):
        super().cell_complete(cell, cell_index, **kwargs)
        if self.progress is not None and cell.get("cell_type") == "code":
            self.progress.cell_complete(timing_record.cell_key(cell))


class ProgressEngine(NBClientEngine):
    """papermill's nbclient engine with :class:`_ProgressManager` as its execution manager.

    ``papermill.execute_notebook(..., engine_name=ENGINE, progress=Progress(...))``; the rest is
    papermill's ``Engine.execute_notebook``, whose manager class is not a setting.
    """

    @classmethod
    def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=False,
                         log_output=False, autosave_cell_every=30, progress=None, **kwargs):
        manager = _ProgressManager(nb, progress, output_path=output_path, progress_bar=False,
                                   log_output=log_output, autosave_cell_every=autosave_cell_every)
        manager.notebook_start()
        try:
            cls.execute_managed_notebook(manager, kernel_name, log_output=log_output, **kwargs)
        finally:
            manager.notebook_complete()
        return manager.nb


@contextmanager
def _session(path: Path):
    """The kernel learns its notebook's path as under Jupyter (``setup()`` reads it)."""
    before = os.environ.get(SESSION_VARIABLE)
    os.environ[SESSION_VARIABLE] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(SESSION_VARIABLE, None)
        else:
            os.environ[SESSION_VARIABLE] = before


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
    # Only a full run of the profile as it stands says how long the profile takes.
    full = not dry_run and not overrides
    records = full and timing_record.timings_path() is not None
    machine = timing_record.this_machine() if records else None
    papermill_engines.register(ENGINE, ProgressEngine)
    recorded = timing_record.load().get(profile, {}) if full else {}
    progress = Progress(recorded, [p.stem for p in selected])
    started = time.perf_counter()
    timings = {}
    for path in selected:
        print(f"peftlab run: {path.stem} (profile {profile}{', dry run' if dry_run else ''})",
              file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            with _session(path):
                executed = papermill.execute_notebook(
                    str(path), str(out / "notebooks" / path.name), parameters=params,
                    engine_name=ENGINE, progress=progress, kernel_name=kernel,
                    cwd=str(path.parent), execution_timeout=settings.cell_timeout,
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
        if records:
            timing_record.record(profile, path.stem, timing_record.from_executed(executed, machine),
                                 timing_record.timings_path())
    seconds = time.perf_counter() - started
    report = write_report(out, profile, seconds, timings)
    return {"run": str(out), "report": str(report), "seconds": seconds, "notebook_seconds": timings}
