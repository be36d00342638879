"""The grading kernels' manager: each kernel's connection file and sockets in a private folder.

The sandbox (:mod:`peftlab.grading.sandbox`) hands that folder, and only that folder, to the
kernel; it refuses folders not named with :data:`~peftlab.grading.names.PRIVATE_DIR_PREFIX`.
The sandbox kernelspec lives here, not in a kernel folder: only the autograder can start it, and
JupyterLab's launcher never offers it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from peftlab.grading import sandbox
from peftlab.grading.names import KERNEL_NAME, PRIVATE_DIR_PREFIX, STUDENT_DIR_PREFIX


def student_dir(cwd: str) -> str:
    """The folder (made if missing) holding the private folders of the kernels run in ``cwd``.

    One per working folder and grader process: ``cwd`` is one student's submission, so the
    notebooks of one student meet there and no other student's do.
    """
    key = hashlib.sha256(os.path.abspath(cwd).encode()).hexdigest()[:16]
    folder = os.path.join(tempfile.gettempdir(), f"{STUDENT_DIR_PREFIX}{key}-{os.getpid()}")
    os.makedirs(folder, exist_ok=True)
    # Kernels (user nobody) pass through to their own folder; only root lists or writes it.
    os.chmod(folder, 0o711)
    return folder


class SandboxKernelSpecManager(KernelSpecManager):
    """Jupyter's kernelspecs plus the sandbox's, which no kernel folder holds."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        if kernel_name == KERNEL_NAME:
            return KernelSpec(**sandbox.kernelspec())
        return super().get_kernel_spec(kernel_name)


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose connection file and IPC sockets live in a private directory."""

    @default("kernel_spec_manager")
    def _kernel_spec_manager_default(self) -> KernelSpecManager:
        return SandboxKernelSpecManager(data_dir=self.data_dir)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"
        self._private_dir = tempfile.mkdtemp(prefix=PRIVATE_DIR_PREFIX)
        self.connection_file = os.path.join(self._private_dir, "kernel.json")

    async def _async_pre_start_kernel(self, **kw):
        cwd = kw.get("cwd")
        if cwd and os.path.dirname(self._private_dir) != student_dir(cwd):
            # Every kernel of the notebooks in ``cwd`` (one student's) in one folder, so they can
            # share that student's zygote (peftlab.grading.zygote).
            os.rmdir(self._private_dir)
            self._private_dir = tempfile.mkdtemp(prefix=PRIVATE_DIR_PREFIX, dir=student_dir(cwd))
            self.connection_file = os.path.join(self._private_dir, "kernel.json")
        return await super()._async_pre_start_kernel(**kw)

    pre_start_kernel = _async_pre_start_kernel

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._private_dir, ignore_errors=True)
            try:  # the student's folder, once its zygote (if any) has removed its own
                os.rmdir(os.path.dirname(self._private_dir))
            except OSError:
                pass

    cleanup_resources = _async_cleanup_resources
