"""Autograding plug-in: nbgrader's ``Execute``, hardened against dying, hanging and tampered kernels."""

from __future__ import annotations

import time

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer, default

from peftlab.grading.canary import new_canary
from peftlab.grading.cells import KERNEL_DIED, TAMPERING, error_output, has_error, is_test_cell
from peftlab.grading.kernel_manager import SandboxKernelManager
from peftlab.grading.names import KERNEL_NAME

# Run in every fresh kernel before the first cell: the test helpers capture the built-ins before
# student code could replace them, and nothing writes warnings to stderr (which costs points).
PREAMBLE = "import peftlab.grading as _peftlab_grading\n_peftlab_grading.quiet()"


class GuardedExecute(Execute):
    """nbgrader's ``Execute``, hardened against dying, hanging and tampered kernels.

    * It restarts a kernel that died (``os._exit``, memory cap) or ignores the timeout interrupt,
      replays the cells that had run cleanly before, and goes on with the next cell, so only the
      offending cell and the cells that need it lose points.
    * After every test cell that passed, it runs the canary (:mod:`peftlab.grading.canary`); a
      kernel that no longer reports errors has been tampered with, and every test cell from then
      on scores 0.
    * It caps what one cell may print, so a flood of output cannot exhaust the grader.

    It runs every notebook in the sandbox kernel, whatever kernel the notebook names; nbgrader's
    ``Execute`` (``nbgrader validate``, the Validate button) keeps the notebook's own kernel.
    """

    @default("kernel_name")
    def _kernel_name_default(self) -> str:
        return KERNEL_NAME

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
            cell.outputs = [error_output(KERNEL_DIED, "not run: the kernel kept dying")]
            return cell, resources
        if not self._started:
            self._started = True
            self._run_quietly(PREAMBLE)
        try:
            cell = self.execute_cell(cell, index, store_history=True)
            timed_out = any(out.get("ename") == CellTimeoutError.__name__ for out in cell.outputs)
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
                error_output(TAMPERING, "the kernel stopped reporting errors; test cells score 0")
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
        """Do the kernel and the test helpers still fail on wrong answers, as honest ones must?"""
        canary = new_canary()
        reply = self._reply(canary.source, self.canary_timeout, silent=False)
        content = (reply or {}).get("content", {})
        return (
            content.get("status") == "error"
            and content.get("ename") == AssertionError.__name__
            and content.get("evalue") == canary.nonce
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
