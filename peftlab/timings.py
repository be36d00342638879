"""How long each course notebook takes in each profile: the measured record and what it says.

``peftlab run`` measures every notebook it executes (papermill records each cell's duration in the
executed copy) and records the figures in ``peftlab/resources/timings.json``, per profile and
notebook: the whole notebook's seconds, each code cell's seconds, when, and on what machine.
Only full runs of a profile record (no ``--dry-run``, no parameter overrides). The record serves
three readers: the ``timings`` cell at the top of every notebook (one coarse line, kept in step
with the file by ``python -m peftlab.timings --sync``), ``setup()``'s line in a running notebook,
and the ETA of ``peftlab run``.

``$PEFTLAB_TIMINGS`` puts the record elsewhere (tests use it). Under pytest without it, nothing is
recorded: a test's run never rewrites the committed file.

Bottom layer: the standard library and ``peftlab.paths`` / ``peftlab.errors`` only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from peftlab.errors import PeftlabError
from peftlab.paths import ASSIGNMENT, CHECKOUT, PACKAGE_DIR, SOURCE_FOLDER

TIMINGS_VARIABLE = "PEFTLAB_TIMINGS"
TIMINGS_FILE = PACKAGE_DIR / "resources" / "timings.json"
NOTEBOOK_DIR = CHECKOUT / SOURCE_FOLDER / ASSIGNMENT
# The profiles a notebook's timings cell speaks of, in this order (grade is nbgrader's own).
SHOWN_PROFILES = ("smoke", "cpu", "gpu")
TAG = "timings"  # tag and cell id of the markdown cell under each notebook's title
INJECTED = "injected-parameters"  # papermill's tag for the cell it adds (its id is random)
QUIZ = "06_quiz"  # not executed by `peftlab run`: it trains nothing
QUIZ_LINE = ("**Time:** seconds in every profile: the quiz trains nothing (`peftlab run` does not "
             "execute it).")


@dataclass(frozen=True)
class Machine:
    """Where a notebook was measured."""

    cores: int  # CPU cores the run could use
    torch_threads: int
    device: str  # the CUDA device's name, or "cpu"

    def describe(self) -> str:
        """``"2 CPU cores"`` or the GPU's name."""
        return f"{self.cores} CPU cores" if self.device == "cpu" else self.device


@dataclass(frozen=True)
class NotebookTiming:
    """One notebook's measured run: whole seconds, code cells' seconds in order, when, where."""

    seconds: float
    cells: dict[str, float] = field(compare=False)  # cell id -> seconds, notebook order
    measured: str  # ISO time the notebook started
    machine: Machine

    @classmethod
    def from_json(cls, data: dict) -> NotebookTiming:
        return cls(seconds=data["seconds"], cells=dict(data["cells"]), measured=data["measured"],
                   machine=Machine(**data["machine"]))


def cell_key(cell: dict) -> str:
    """The key of a code cell in the record: its id (papermill's injected cell: its tag)."""
    if INJECTED in cell.get("metadata", {}).get("tags", []):
        return INJECTED
    return cell.get("id") or ""


def from_executed(notebook: dict, machine: Machine) -> NotebookTiming:
    """The timing papermill left in an executed notebook (``metadata.papermill`` of it and its
    cells).

    Raises:
        PeftlabError: when the notebook has no papermill duration (not executed by papermill).
    """
    meta = notebook.get("metadata", {}).get("papermill", {})
    if not meta.get("duration"):
        raise PeftlabError("the notebook has no papermill duration: pass a notebook executed by "
                           "`peftlab run` (its copy under RUN/notebooks/)")
    cells = {}
    for cell in notebook["cells"]:
        if cell.get("cell_type") == "code":
            seconds = cell.get("metadata", {}).get("papermill", {}).get("duration")
            cells[cell_key(cell)] = round(seconds or 0.0, 1)
    return NotebookTiming(seconds=round(meta["duration"], 1), cells=cells,
                          measured=meta["start_time"], machine=machine)


def this_machine() -> Machine:
    """The machine this process runs on (cores it may use, torch's threads, the CUDA device)."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return Machine(cores=cores or 1, torch_threads=torch.get_num_threads(), device=device)


def timings_path() -> Path | None:
    """Where the record is written: ``$PEFTLAB_TIMINGS``, else the committed file; None under
    pytest without ``$PEFTLAB_TIMINGS`` (a test's run must not rewrite the committed file)."""
    if os.environ.get(TIMINGS_VARIABLE):
        return Path(os.environ[TIMINGS_VARIABLE])
    return None if os.environ.get("PYTEST_CURRENT_TEST") else TIMINGS_FILE


def load(path: str | os.PathLike | None = None) -> dict[str, dict[str, NotebookTiming]]:
    """The record as ``{profile: {notebook: NotebookTiming}}`` (empty when there is none).

    Args:
        path: the file (default ``$PEFTLAB_TIMINGS``, else the committed one).
    """
    path = Path(path or os.environ.get(TIMINGS_VARIABLE) or TIMINGS_FILE)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {profile: {name: NotebookTiming.from_json(entry) for name, entry in notebooks.items()}
                for profile, notebooks in data["profiles"].items()}
    except (ValueError, KeyError, TypeError) as err:
        raise PeftlabError(f"{path} is not a timings record ({type(err).__name__}: {err}): "
                           f"restore it with git or delete it") from None


def record(profile: str, notebook: str, timing: NotebookTiming,
           path: str | os.PathLike | None = None) -> Path:
    """Record one notebook's timing, keeping every other entry; the file is replaced atomically.

    Args:
        path: the file (default :func:`timings_path`).

    Returns:
        The file written.
    """
    path = Path(path or timings_path() or TIMINGS_FILE)
    entries = load(path)
    entries.setdefault(profile, {})[notebook] = timing
    data = {"about": "Measured by `peftlab run` (peftlab/timings.py): seconds of each notebook "
                     "and of each code cell, by cell id, per profile.",
            "profiles": {p: {n: asdict(t) for n, t in sorted(nbs.items())}
                         for p, nbs in sorted(entries.items())}}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=1)
            stream.write("\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def coarse(seconds: float) -> str:
    """A duration that noise does not change: ``<10 s``, ``~20 s`` (tens), ``~9 min`` (minutes)."""
    if seconds < 10:
        return "<10 s"
    tens = int(seconds / 10 + 0.5) * 10
    if tens < 60:
        return f"~{tens} s"
    return f"~{max(1, int(seconds / 60 + 0.5))} min"


def expected(notebook: str, profile: str, entries: dict | None = None) -> str | None:
    """``"~9 min on 2 CPU cores"`` for a measured notebook and profile, else None."""
    entries = load() if entries is None else entries
    timing = entries.get(profile, {}).get(notebook)
    return f"{coarse(timing.seconds)} on {timing.machine.describe()}" if timing else None


def timings_line(notebook: str, entries: dict | None = None) -> str:
    """The text of a notebook's ``timings`` cell, from the record."""
    if notebook == QUIZ:
        return QUIZ_LINE
    entries = load() if entries is None else entries
    parts = []
    for profile in SHOWN_PROFILES:
        timing = entries.get(profile, {}).get(notebook)
        parts.append(f"{profile} {coarse(timing.seconds)} ({timing.machine.describe()})" if timing
                     else f"{profile} not measured yet")
    return (f"**Time:** {' · '.join(parts)} — measured by `peftlab run`, see "
            f"peftlab/resources/timings.json.")


def _timings_cell(notebook: dict) -> dict | None:
    return next((c for c in notebook["cells"] if TAG in c.get("metadata", {}).get("tags", [])),
                None)


def stale(folder: str | os.PathLike = NOTEBOOK_DIR, entries: dict | None = None) -> list[str]:
    """The notebooks of ``folder`` whose ``timings`` cell is missing or says other than the record."""
    entries = load() if entries is None else entries
    wrong = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        cell = _timings_cell(json.loads(path.read_text(encoding="utf-8")))
        if cell is None or "".join(cell["source"]) != timings_line(path.stem, entries):
            wrong.append(path.stem)
    return wrong


def sync(folder: str | os.PathLike = NOTEBOOK_DIR, entries: dict | None = None) -> list[str]:
    """Rewrite the ``timings`` cell of every notebook in ``folder`` from the record, adding it
    right after the title cell where it is missing. Each notebook is read and written back at
    once (other cells are left as they are).

    Returns:
        The notebooks changed.
    """
    entries = load() if entries is None else entries
    changed = []
    for stem in stale(folder, entries):
        path = Path(folder) / f"{stem}.ipynb"
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cell = _timings_cell(notebook)
        if cell is None:
            cell = {"cell_type": "markdown", "id": TAG, "metadata": {"tags": [TAG]}, "source": []}
            notebook["cells"].insert(1, cell)
        cell["source"] = [timings_line(stem, entries)]
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        changed.append(stem)
    return changed


def main(argv: list[str] | None = None) -> int:
    """``python -m peftlab.timings --sync | --check``: the notebooks' timings cells vs the record."""
    parser = argparse.ArgumentParser(prog="python -m peftlab.timings", description=main.__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--sync", action="store_true",
                        help="rewrite the timings cells of solutions/lab2 from the record")
    action.add_argument("--check", action="store_true",
                        help="exit 1 when a timings cell says other than the record")
    parser.add_argument("--folder", default=str(NOTEBOOK_DIR))
    args = parser.parse_args(argv)
    if args.sync:
        changed = sync(args.folder)
        print(f"timings cells rewritten: {', '.join(changed) or 'none (already in step)'}")
        return 0
    wrong = stale(args.folder)
    if wrong:
        print(f"timings cells out of step with the record: {', '.join(wrong)}; run "
              f"`python -m peftlab.timings --sync`", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
