"""Do plain nbgrader commands work from any shell, and does Validate work for every student?

nbgrader is started as ``.venv/bin/nbgrader`` from a shell whose ``PATH`` lacks the venv (as
JupyterLab started as ``.venv/bin/jupyter`` runs it); ``nbgrader validate`` runs the notebook's own
kernel (the Validate button runs the same validator), never the autograder's sandbox kernel, which
no launcher lists. Validate times are printed, not asserted (the target is 20 s a notebook here).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import closing
from pathlib import Path

import pytest
from conftest import cli_env
from test_course import scratch_course

from peftlab.grading.names import KERNEL_NAME, CourseLayout

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RELEASE = ROOT / "labs" / "lab2"
SOURCE = ROOT / "solutions" / "lab2"
PASSED = "Success! Your notebook passes all the tests."
FAILED = "VALIDATION FAILED"


def _env_without_venv(**extra) -> dict:
    """The test environment with the venv's ``bin`` taken off ``PATH`` (not activated)."""
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) != BIN]
    env = cli_env(PATH=os.pathsep.join(path) or "/usr/bin:/bin", **extra)
    env.pop("VIRTUAL_ENV", None)
    return env


def _validate(notebook: Path, cwd: Path = ROOT, prefix: tuple = (), **env) -> tuple[str, float]:
    """``.venv/bin/nbgrader validate NOTEBOOK`` from ``cwd``: (its output, seconds)."""
    start = time.monotonic()
    result = subprocess.run(
        [*prefix, str(BIN / "nbgrader"), "validate", str(notebook)],
        cwd=cwd, env=_env_without_venv(**env), capture_output=True, text=True, timeout=300,
    )
    return result.stdout + result.stderr, time.monotonic() - start


def test_nbgrader_runs_without_the_venv_on_path(tmp_path):
    """Do ``.venv/bin/nbgrader`` commands work from a shell without the venv, also on a gradebook
    that an earlier run left half-built when it could not find ``alembic``?"""
    from nbgrader.api import Base
    from sqlalchemy import create_engine

    root = scratch_course(tmp_path, ["06_quiz.ipynb"])
    course = CourseLayout(root)
    course.gradebook.parent.mkdir()
    Base.metadata.create_all(bind=create_engine(course.gradebook_url))  # half-built
    for args in (["generate_assignment", "lab2"], ["db", "assignment", "list"]):
        result = subprocess.run([str(BIN / "nbgrader"), *args], cwd=root,
                                env=_env_without_venv(), capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "alembic" not in result.stderr, result.stderr
    assert "lab2" in result.stdout and (course.release / "06_quiz.ipynb").exists()
    with closing(sqlite3.connect(course.gradebook)) as db:
        assert db.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


@pytest.mark.parametrize("notebook,outcome", [(RELEASE / "03_lora.ipynb", FAILED),
                                              (SOURCE / "03_lora.ipynb", PASSED)],
                         ids=["blank", "solved"])
def test_validate_reports_like_nbgrader(notebook, outcome):
    """Does ``nbgrader validate`` (root, sandbox available or not) list the failing tests of a
    blank lab and pass a solved one?"""
    output, seconds = _validate(notebook)
    print(f"validate {notebook.relative_to(ROOT)}: {seconds:.1f} s")
    assert outcome in output, output[-3000:]
    assert "Kernel died" not in output and "refusing to start" not in output, output[-3000:]
    if outcome == FAILED:
        assert "NotImplementedError" in output


def _readable_interpreter() -> tuple[str, ...]:
    """A bwrap prefix that shows this Python's base installation to every user, as a system-wide
    install is, when it sits in a private folder (pyenv in root's home); else nothing."""
    base = Path(os.path.realpath(sys.base_prefix))
    ancestors = [*reversed(base.parents)]
    hidden = [i for i, p in enumerate(ancestors) if not p.stat().st_mode & 0o001]
    if not hidden:
        return ()
    if shutil.which("bwrap") is None:
        pytest.skip(f"{base} is private to root and there is no bwrap to show it to a user")
    args = ["bwrap", "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--perms", "0755", "--tmpfs", str(ancestors[hidden[0]])]
    for folder in ancestors[hidden[0] + 1:]:
        args += ["--perms", "0755", "--dir", str(folder)]
    return (*args, "--ro-bind", str(base), str(base))


def test_validate_as_a_normal_user():
    """Does a student who is not root validate a blank notebook in a folder of their own?"""
    if os.geteuid() != 0:
        pytest.skip("not root: cannot make a throwaway user (this run is the normal-user case)")
    user = f"peftlab-{uuid.uuid4().hex[:8]}"
    # Not under tmp_path: pytest's folders are private to root.
    home = Path(tempfile.mkdtemp(prefix="peftlab-student-"))
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/false", user], check=True)
    try:
        uid = int(subprocess.check_output(["id", "-u", user]))
        shutil.copy(RELEASE / "03_lora.ipynb", home)
        for path in (home, home / "03_lora.ipynb"):
            os.chown(path, uid, uid)
        as_user = (*_readable_interpreter(), "setpriv", f"--reuid={uid}", f"--regid={uid}",
                   "--init-groups")
        output, seconds = _validate(home / "03_lora.ipynb", cwd=home, prefix=as_user,
                                    HOME=str(home), USER=user)
        print(f"validate as {user}: {seconds:.1f} s")
        assert FAILED in output and "NotImplementedError" in output, output[-3000:]
    finally:
        subprocess.run(["userdel", user], check=False)
        shutil.rmtree(home, ignore_errors=True)


def test_launcher_does_not_list_the_sandbox_kernel(tmp_path):
    """Does ``jupyter kernelspec list`` (what JupyterLab's launcher offers) leave out the grading
    sandbox kernel, also after a plain nbgrader run (autograding still uses it: test_course)?"""
    root = scratch_course(tmp_path, ["06_quiz.ipynb"])
    subprocess.run([str(BIN / "nbgrader"), "db", "assignment", "list"], cwd=root,
                   env=_env_without_venv(), capture_output=True, timeout=300, check=True)
    result = subprocess.run([str(BIN / "jupyter"), "kernelspec", "list", "--json"],
                            env=_env_without_venv(), capture_output=True, text=True,
                            timeout=120, check=True)
    kernels = json.loads(result.stdout)["kernelspecs"]
    assert KERNEL_NAME not in kernels and "python3" in kernels


def test_validate_button_runs_the_notebooks_kernel(monkeypatch):
    """Does the Validate button's code (nbgrader's handler: the config found from the server's
    folder, then ``Validator``) report a blank notebook's failing cells?"""
    from nbgrader.server_extensions.validate_assignment.handlers import ValidateAssignmentHandler
    from nbgrader.validator import Validator

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("PATH", _env_without_venv()["PATH"])
    config = ValidateAssignmentHandler.load_config(None)
    assert "kernel_name" not in config.Execute
    result = Validator(config=config).validate(str(RELEASE / "06_quiz.ipynb"))
    assert result["failed"], result
