"""The grading kernels' manager: each kernel's connection file and sockets in a private folder.

The sandbox (:mod:`peftlab.grading.sandbox`) hands that folder, and only that folder, to the
kernel; it refuses folders not named with :data:`~peftlab.grading.names.PRIVATE_DIR_PREFIX`.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from jupyter_client.manager import AsyncKernelManager

from peftlab.grading.names import PRIVATE_DIR_PREFIX


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose connection file and IPC sockets live in a private directory."""

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
