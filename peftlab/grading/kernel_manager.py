"""The grading kernels' manager: each kernel's connection file and sockets in a private folder.

The sandbox (:mod:`peftlab.grading.sandbox`) hands that folder, and only that folder, to the
kernel; it refuses folders not named with :data:`~peftlab.grading.names.PRIVATE_DIR_PREFIX`.
The sandbox kernelspec lives here, not in a kernel folder: only the autograder can start it, and
JupyterLab's launcher never offers it.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from peftlab.grading import sandbox
from peftlab.grading.names import KERNEL_NAME, PRIVATE_DIR_PREFIX


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

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._private_dir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources
