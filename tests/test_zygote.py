"""Do a student's grading kernels come from one pre-imported zygote, each still fresh and locked in?

The kernels are started as the autograder starts them (``SandboxKernelManager``, the sandbox
kernelspec, a submission folder as the working directory) and asked about themselves. Then part of
the hostile corpus is graded with the zygote forced on and must score exactly as
``test_grader_trust`` expects of fresh kernels. All of it needs the sandbox (root and bubblewrap).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from conftest import run_course

from peftlab.grading import sandbox, zygote
from peftlab.grading.kernel_manager import SandboxKernelManager
from peftlab.grading.names import KERNEL_NAME

pytestmark = pytest.mark.skipif(sandbox.unavailable_reason() is not None,
                                reason=f"sandbox off: {sandbox.unavailable_reason()}")

REPORT = """
import json, os, sys
print(json.dumps({"uid": os.getuid(), "preloaded": "torch" in sys.modules, "parent": os.getppid(),
                  "home": os.environ["HOME"], "cwd": os.getcwd(), "files": sorted(os.listdir())}))
"""


def submission(folder: Path, notebooks: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(notebooks):
        nbformat.write(nbformat.v4.new_notebook(), folder / f"0{i}.ipynb")
    return folder


async def _kernel_session(cwd: Path, codes: list[str]) -> list[str]:
    """Start one grading kernel in ``cwd``, run ``codes``, return each one's stdout; shut it down."""
    km = SandboxKernelManager(kernel_name=KERNEL_NAME)
    await km.start_kernel(cwd=str(cwd))
    kc = km.client()
    kc.start_channels()
    outputs = []
    try:
        await kc.wait_for_ready(timeout=180)
        for code in codes:
            text = []

            def hook(msg, text=text):
                if msg["msg_type"] == "stream":
                    text.append(msg["content"]["text"])

            reply = await kc.execute_interactive(code, timeout=60, output_hook=hook)
            assert reply["content"]["status"] == "ok", reply["content"]
            outputs.append("".join(text))
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
    return outputs


def kernel(cwd: Path, *codes: str) -> list[str]:
    return asyncio.run(_kernel_session(cwd, list(codes)))


@pytest.fixture
def auto(monkeypatch):
    monkeypatch.setenv(zygote.SWITCH, "auto")
    monkeypatch.setenv("PEFTLAB_ZYGOTE_IDLE_S", "3")


def test_kernels_of_one_student_fork_from_one_preloaded_zygote(tmp_path, auto):
    """Two kernels in a folder of several notebooks: torch already imported before any cell, the
    same parent (the zygote), user nobody, each with its own home and its own copy of the folder;
    what the first changed in a library is not in the second."""
    alice = submission(tmp_path / "alice", 2)
    first, leak = kernel(alice, REPORT, "import torch; torch.leaked = 1; open('mine', 'w').close()")
    second, seen = kernel(alice, REPORT, "import torch; print(hasattr(torch, 'leaked'))")
    a, b = json.loads(first), json.loads(second)
    assert a["preloaded"] and b["preloaded"]
    assert a["parent"] == b["parent"]
    assert a["uid"] == b["uid"] == zygote.NOBODY
    assert a["home"] != b["home"]
    assert a["files"] == b["files"] == ["00.ipynb", "01.ipynb"]  # 'mine' stayed in the first copy
    assert seen.strip() == "False"
    assert sorted(os.listdir(alice)) == ["00.ipynb", "01.ipynb"]


def test_single_notebook_folder_gets_a_fresh_kernel(tmp_path, auto):
    """A quiz-only submission (one notebook) gains nothing from a zygote: a plain fresh kernel."""
    (report,) = kernel(submission(tmp_path / "bob", 1), REPORT)
    assert json.loads(report)["preloaded"] is False
    assert json.loads(report)["uid"] == zygote.NOBODY


def _zygote_processes() -> dict[int, int]:
    """pid -> uid of every process running the zygote module (the zygote and its kernels)."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            uid = os.stat(f"/proc/{pid}").st_uid
        except OSError:
            continue
        if zygote.__name__.encode() in cmdline and b"serve" in cmdline:
            found[int(pid)] = uid
    return found


def test_killed_launcher_takes_its_kernel_and_idle_zygote_ends(tmp_path, auto):
    """The grader kills a hanging kernel's launcher: the forked kernel goes too; once idle, the
    zygote ends and its folder is removed."""
    carol = submission(tmp_path / "carol", 2)

    async def hang_then_kill():
        km = SandboxKernelManager(kernel_name=KERNEL_NAME)
        await km.start_kernel(cwd=str(carol))
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=180)
        kc.execute("while True: pass")
        await asyncio.sleep(1)
        running = _zygote_processes()
        student_dir = os.path.dirname(km.connection_file)
        kc.stop_channels()
        await km.shutdown_kernel(now=True)  # SIGKILL to the launcher, as for a dead-locked kernel
        return running, os.path.dirname(student_dir)

    running, student_dir = asyncio.run(hang_then_kill())
    assert zygote.NOBODY in running.values() and 0 in running.values()
    deadline = time.monotonic() + 5
    while zygote.NOBODY in _zygote_processes().values() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert zygote.NOBODY not in _zygote_processes().values()
    deadline = time.monotonic() + 30
    while os.path.exists(student_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not os.path.exists(student_dir)
    assert not any(pid in running for pid in _zygote_processes())


def test_hostile_cases_score_the_same_from_the_zygote(tmp_path, monkeypatch):
    """Hangs, deaths, memory bombs, tampering and patched helpers, graded through the zygote
    (forced on for the one-notebook quiz), score what fresh kernels score."""
    import test_grader_trust as trust

    cases = ["correct", "loop_forever", "os_exit", "memory_bomb", "snoop_and_tamper"]
    root = tmp_path / "course"
    (root / "solutions" / "lab2").mkdir(parents=True)
    shutil.copy(trust.ROOT / "nbgrader_config.py", root)
    shutil.copy(trust.QUIZ, root / "solutions" / "lab2")
    subs = tmp_path / "submissions"
    for case in cases:
        shutil.copytree(trust.HOSTILE / case, subs / case)
    monkeypatch.setenv(zygote.SWITCH, "on")
    assert run_course(root, "generate").returncode == 0
    result = run_course(root, "autograde", "--submissions", str(subs), "--timeout", "5",
                        timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    scored = trust.points(root)
    for case in cases:
        assert scored[case] == trust.EXPECTED[case], case
