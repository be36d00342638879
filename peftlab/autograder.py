"""nbgrader plug-ins that make autograding survive hostile notebooks; wired in ``nbgrader_config.py``.

* :class:`SandboxKernelManager` starts each grading kernel with its own private directory for
  the connection file and Unix sockets, which :mod:`peftlab.sandbox` shares with the kernel.
* :class:`GuardedExecute` replaces nbgrader's ``Execute``. On top of it, it
    - restarts a kernel that died (``os._exit``, memory cap) or ignores the timeout interrupt,
      replays the cells that had run cleanly before, and goes on with the next cell, so only
      the offending cell and the cells that need it lose points;
    - after every test cell that passed, runs a random failing canary; a kernel that no longer
      reports errors (patched IPython, an input transformer that swallows exceptions...) has
      been tampered with, and every test cell from then on scores 0;
    - caps what one cell may print, so a flood of output cannot exhaust the grader.
* :class:`RestoreGradedCells` runs first when a submission is sanitised: it rebuilds the
  graded skeleton from the gradebook (deleted test or answer cells put back, duplicated or
  re-labelled ones demoted to plain cells, grade metadata and points reset), so that nbgrader's
  own steps never meet a notebook they would crash on and no edit can raise the score.
* :class:`HideHiddenTests` is a feedback preprocessor: it removes hidden test regions from the
  source and replaces tracebacks (which quote source lines) by one line each.

This module imports nbgrader and nbclient, so only the grader imports it, never a notebook.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import time

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution
from traitlets import Integer

PREAMBLE = "import peftlab.grading as _peftlab_grading\n_peftlab_grading.quiet()"
CANARY = """\
def _canary_{tag}():
    import peftlab.grading as g

    class Yes:
        def __eq__(self, other):
            return True

        __hash__ = object.__hash__

    wrong = [lambda: g.plain(Yes()), lambda: g.check_choice(Yes(), "x"),
             lambda: g.check_number("{number}", "x"), lambda: g.check_choices([], "x", ["k"])]
    rejected = 0
    for attempt in wrong:
        try:
            attempt()
        except AssertionError:
            rejected += 1
    assert g.close({number}, 2 * {number} + 1) is False and g.close(1.0, 1.0) is True
    return rejected == len(wrong)


if _canary_{tag}():
    del _canary_{tag}
    raise AssertionError("{nonce}")
"""
GRADER_ERRORS = {"TamperingDetected", "KernelDied", "DeadKernelError", "CellTimeoutError"}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_LINE = re.compile(r"Cell In\[\d*\], line (\d+)")


def error_output(ename: str, evalue: str) -> NotebookNode:
    """An ``error`` output, which makes nbgrader give the cell 0 points."""
    return NotebookNode(
        output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


def has_error(cell: NotebookNode) -> bool:
    """Did this executed cell fail (error output or stderr, as nbgrader counts it)?"""
    return any(
        out.output_type == "error" or (out.output_type == "stream" and out.get("name") == "stderr")
        for out in cell.get("outputs", [])
    )


def is_test_cell(cell: NotebookNode) -> bool:
    """Is this an autograder test cell (graded, not a student's answer)?"""
    return is_grade(cell) and not is_solution(cell) and cell.cell_type == "code"


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose connection file and IPC sockets live in a private directory."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"
        self._private_dir = tempfile.mkdtemp(prefix="peftlab-kernel-")
        self.connection_file = os.path.join(self._private_dir, "kernel.json")

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._private_dir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


class RestoreGradedCells(NbGraderPreprocessor):
    """Make the submission's graded cells exactly the gradebook's: one each, in place, unedited."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_notebook(info["notebook"], info["assignment"])
            points = {cell.name: cell.max_score for cell in notebook.grade_cells}
            solutions = {cell.name for cell in notebook.solution_cells}
            skeleton = [
                (c.name, c.cell_type, c.locked, c.source, c.checksum) for c in notebook.source_cells
            ]
        known = {name for name, *_ in skeleton}
        cells, seen = [], set()
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader")
            grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
            if grade_id in known and grade_id not in seen:
                seen.add(grade_id)
            elif meta is not None:
                del cell.metadata["nbgrader"]  # unknown or duplicate: an ordinary cell now
            cells.append(cell)
        for position, (name, cell_type, locked, source, checksum) in enumerate(skeleton):
            meta = {
                "grade": name in points,
                "grade_id": name,
                "locked": locked,
                "solution": name in solutions,
                "schema_version": 3,
                "task": False,
                "checksum": checksum,
            }
            if name in points:
                meta["points"] = points[name]
            if name not in seen:
                cells.insert(
                    self._after(cells, [s[0] for s in skeleton[:position]]),
                    self._new_cell(name, cell_type, source),
                )
            cell = next(c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == name)
            cell.metadata["nbgrader"] = meta
        nb.cells = cells
        return nb, resources

    @staticmethod
    def _cell_id(name: str) -> str:
        return "restored-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)[:50]

    @staticmethod
    def _after(cells, earlier: list[str]) -> int:
        """Index just after the last cell among ``earlier`` grade ids (0 when none is there)."""
        for index in range(len(cells) - 1, -1, -1):
            if cells[index].get("metadata", {}).get("nbgrader", {}).get("grade_id") in earlier:
                return index + 1
        return 0

    def _new_cell(self, name, cell_type, source):
        import nbformat

        new = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
        cell = new(source)
        cell["id"] = self._cell_id(name)
        cell.metadata["nbgrader"] = {"grade_id": name}
        return cell


class GuardedExecute(Execute):
    """nbgrader's ``Execute``, hardened against dying, hanging and tampered kernels."""

    max_restarts = Integer(3, help="kernel restarts per notebook before giving up on it").tag(
        config=True
    )
    max_output_bytes = Integer(1_000_000, help="output kept per cell; the rest is dropped").tag(
        config=True
    )
    canary_timeout = Integer(10, help="seconds a kernel has to answer the canary").tag(config=True)

    def __init__(self, *args, **kwargs):
        # nbgrader's Execute passes its own kernel manager class as a keyword, which beats config.
        kwargs["kernel_manager_class"] = SandboxKernelManager
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._replay: list[str] = []
        self._restarts = 0
        self._tampered = False
        self._gave_up = False
        self._output_bytes: dict[int, int] = {}
        self._started = False
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        if self._gave_up:
            cell.outputs = [error_output("KernelDied", "not run: the kernel kept dying")]
            return cell, resources
        if not self._started:
            self._started = True
            self._run_quietly(PREAMBLE)
        try:
            cell = self.execute_cell(cell, index, store_history=True)
            timed_out = any(out.get("ename") == "CellTimeoutError" for out in cell.outputs)
            if timed_out and not self._responsive():
                self._restart()
        except (DeadKernelError, CellTimeoutError) as err:
            cell.outputs = [
                *cell.get("outputs", []),
                error_output(type(err).__name__, "the kernel died or hung here"),
            ]
            self._restart()
        else:
            if not has_error(cell) and not is_test_cell(cell):
                self._replay.append(cell.source)
        if is_test_cell(cell) and not has_error(cell) and not self._canary_fails():
            self._tampered = True
        if self._tampered and is_test_cell(cell):
            cell.outputs.append(
                error_output(
                    "TamperingDetected", "the kernel stopped reporting errors; test cells score 0"
                )
            )
        return cell, resources

    def output(self, outs, msg, display_id, cell_index):
        size = len(repr(msg.get("content", "")))
        used = self._output_bytes.get(cell_index, 0)
        self._output_bytes[cell_index] = used + size
        if used + size <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if used <= self.max_output_bytes:
            outs.append(
                NotebookNode(
                    output_type="stream",
                    name="stdout",
                    text="\n[output truncated by the autograder]\n",
                )
            )
        return None

    def _reply(self, source: str, timeout: float, silent: bool = True) -> dict | None:
        """Execute ``source`` unrecorded; the execute reply, or ``None`` if none in ``timeout``."""
        try:
            msg_id = self.kc.execute(
                source, store_history=False, silent=silent, stop_on_error=False
            )
            deadline = time.monotonic() + timeout
            while (remaining := deadline - time.monotonic()) > 0:
                msg = run_sync(self.kc.get_shell_msg)(timeout=remaining)
                if msg["parent_header"].get("msg_id") == msg_id:
                    return msg
        except Exception:  # noqa: BLE001 - no reply, a dead kernel or closed channels: no reply
            return None
        return None

    def _run_quietly(self, source: str) -> dict | None:
        return self._reply(source, self.timeout)

    def _responsive(self) -> bool:
        reply = self._run_quietly("pass")
        return reply is not None and reply["content"].get("status") == "ok"

    def _canary_fails(self) -> bool:
        """Do the kernel and the test helpers still fail on wrong answers, as honest ones must?

        The canary feeds the helpers of :mod:`peftlab.grading` answers they must reject and
        raises an AssertionError carrying a fresh nonce only if they all did; names and nonce
        are random, so a kernel cannot tell the canary from a test cell by its text alone.
        """
        nonce, tag = secrets.token_hex(8), secrets.token_hex(4)
        source = CANARY.format(tag=tag, nonce=nonce, number=secrets.randbelow(10**6))
        reply = self._reply(source, self.canary_timeout, silent=False)
        content = (reply or {}).get("content", {})
        return (
            content.get("status") == "error"
            and content.get("ename") == "AssertionError"
            and content.get("evalue") == nonce
        )

    def _restart(self) -> None:
        """Replace a dead or stuck kernel and rebuild its state from the cells that ran."""
        self._restarts += 1
        if self._restarts > self.max_restarts:
            self._gave_up = True
            return
        self.shutdown_kernel = "immediate"
        try:
            self._cleanup_kernel()
        except Exception:  # noqa: BLE001 - the old kernel is gone either way
            self.km = self.kc = None
        self.km = self.create_kernel_manager()
        self.start_new_kernel()
        self.start_new_kernel_client()
        self._run_quietly(PREAMBLE)
        for source in self._replay:
            reply = self._run_quietly(source)
            if reply is None:
                self._gave_up = True
                return


def _hidden_lines(source: str) -> tuple[str, set[int]]:
    """The source without its hidden test regions, and the 1-based line numbers they held."""
    kept, hidden, inside = [], set(), False
    for number, line in enumerate(source.split("\n"), start=1):
        if "BEGIN HIDDEN TESTS" in line:
            inside = True
        if inside:
            hidden.add(number)
        else:
            kept.append(line)
        if "END HIDDEN TESTS" in line:
            inside = False
    return "\n".join(kept), hidden


def _failing_line(traceback: list[str]) -> int | None:
    match = _CELL_LINE.search(_ANSI.sub("", "\n".join(traceback)))
    return int(match.group(1)) if match else None


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback preprocessor: students see neither hidden test source nor tracebacks quoting it.

    A failure on a visible line keeps its message (the visible tests' messages are the help);
    a failure inside a hidden region says only that a hidden test failed.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        visible, hidden = _hidden_lines(cell.source)
        for out in cell.get("outputs", []):
            if out.output_type != "error":
                continue
            line = _failing_line(out.get("traceback", []))
            ours = out.get("ename") in GRADER_ERRORS  # the grader's own notes quote no test
            if hidden and not ours and (line is None or line in hidden):
                out.ename, out.evalue = "HiddenTestFailed", "a hidden test failed"
            out.traceback = [f"{out.ename}: {out.evalue}"]
        cell.source = visible
        return cell, resources
