"""Do ``peftlab lab`` and ``peftlab instructor`` give each person their own place?

The student's working copy is made once from the release and then never overwritten; the
student's JupyterLab serves nbgrader's student tools only; the instructor's serves Formgrader,
which works on its first open of a course that has no gradebook yet (nbgrader creates it with
``alembic``, run by name, while the venv is not on ``PATH``). Servers run on loopback.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest
from test_course import scratch_course

from peftlab.errors import PeftlabError
from peftlab.lab import STUDENT_CONFIG, instructor_launch, student_launch, working_copy

BIN = Path(sys.executable).parent


def test_working_copy_is_made_once_and_kept(tmp_path):
    """Is the student's lab2 copied from the release once, and left as the student edited it?"""
    release = tmp_path / "labs" / "lab2"
    release.mkdir(parents=True)
    (release / "01.ipynb").write_text("release v1")
    copy, note = working_copy(tmp_path / "student", release)
    assert (copy / "01.ipynb").read_text() == "release v1" and "copied" in note
    (copy / "01.ipynb").write_text("my answers")
    (release / "01.ipynb").write_text("release v2")  # the instructor regenerates
    copy, note = working_copy(tmp_path / "student", release)
    assert (copy / "01.ipynb").read_text() == "my answers" and "kept" in note


def test_no_copy_where_the_exchange_holds_the_release(tmp_path, monkeypatch):
    """Where lab2 is released in the exchange, is the student sent to fetch it instead?"""
    outbound = tmp_path / "exchange" / "peftlab" / "outbound" / "lab2"
    outbound.mkdir(parents=True)
    monkeypatch.setenv("PEFTLAB_EXCHANGE", str(tmp_path / "exchange"))
    launch = student_launch(tmp_path / "w", port=8999, open_browser=False)
    assert not (tmp_path / "w" / "lab2").exists()
    assert "Assignment List" in launch.notes[0]


def test_student_launch_is_student_only(tmp_path, monkeypatch):
    """Does the student's JupyterLab get the profile, loopback and the student-only settings?"""
    monkeypatch.delenv("PEFTLAB_PROFILE", raising=False)
    monkeypatch.setenv("PEFTLAB_EXCHANGE", str(tmp_path / "no-exchange"))
    launch = student_launch(tmp_path / "w", profile="smoke", port=8999, open_browser=False)
    assert launch.env["PEFTLAB_PROFILE"] == "smoke"
    assert launch.env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(STUDENT_CONFIG)
    assert "--ServerApp.ip=127.0.0.1" in launch.argv and "--no-browser" in launch.argv
    assert launch.url.startswith("http://127.0.0.1:8999/lab/tree/lab2?token=")
    assert (tmp_path / "w" / "lab2").is_dir()
    with pytest.raises(PeftlabError, match="unknown profile 'fast'"):
        student_launch(tmp_path / "w", profile="fast")


def test_instructor_needs_a_course_root(tmp_path):
    """Is starting the instructor's JupyterLab outside a course root one clear line?"""
    with pytest.raises(PeftlabError, match="no nbgrader_config.py"):
        instructor_launch(tmp_path)


def _serve(argv: list[str], env: dict, cwd: Path) -> tuple[subprocess.Popen, str, Path]:
    """Start ``peftlab lab|instructor`` and wait until its JupyterLab answers; (process, URL, log)."""
    log = cwd / "server.log"
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=open(log, "w"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = re.search(r"JupyterLab: (http://127\.0\.0\.1:\d+)/\S*token=(\w+)", log.read_text())
        if found:
            base, token = found.groups()
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                return process, f"{base}?token={token}", log
            except (urllib.error.URLError, ConnectionError):
                pass
        if process.poll() is not None:
            break
        time.sleep(0.5)
    process.kill()
    pytest.fail(f"JupyterLab did not start; its log: {log.read_text()[-2000:]}")


def _status(url: str, path: str) -> int:
    base, token = url.split("?")
    try:
        with urllib.request.urlopen(f"{base}{path}?{token}", timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 15)
    process.wait(timeout=30)


def _env_without_venv() -> dict:
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) != BIN]
    env = dict(os.environ, PATH=os.pathsep.join(path) or "/usr/bin:/bin", HF_HUB_OFFLINE="1")
    env.pop("VIRTUAL_ENV", None)
    env.pop("JUPYTER_TOKEN", None)
    return env


def test_student_server_has_no_instructor_tools(tmp_path):
    """Does the student's JupyterLab serve the lab and Validate, but no Formgrader?"""
    argv = [str(BIN / "peftlab"), "lab", "--workdir", str(tmp_path / "w"), "--no-browser"]
    env = dict(_env_without_venv(), PEFTLAB_EXCHANGE=str(tmp_path / "exchange"))
    process, url, log = _serve(argv, env, tmp_path)
    try:
        assert _status(url, "/lab/tree/lab2") == 200
        assert _status(url, "/formgrader") == 404, log.read_text()[-1000:]
        text = log.read_text()
        assert "validate_assignment | extension was successfully loaded" in text
        loaded = re.findall(r"(\S+) \| extension was successfully loaded", text)
        assert "nbgrader.server_extensions.formgrader" not in loaded
        assert "nbgrader.server_extensions.course_list" not in loaded
    finally:
        _stop(process)


def test_formgrader_works_on_first_open(tmp_path):
    """Does Formgrader open on a course without a gradebook, started as .venv/bin/peftlab?"""
    root = scratch_course(tmp_path, ["06_quiz.ipynb"])
    env = dict(_env_without_venv(), PEFTLAB_COURSE_ROOT=str(root))
    argv = [str(BIN / "peftlab"), "instructor", "--no-browser"]
    process, url, log = _serve(argv, env, tmp_path)
    try:
        assert _status(url, "/formgrader") == 200, log.read_text()[-2000:]
        # What the page asks for as it opens: the assignments, from a gradebook made on demand.
        assert _status(url, "/formgrader/api/assignments") == 200, log.read_text()[-2000:]
        gradebook = root / "course" / "gradebook.db"
        with closing(sqlite3.connect(gradebook)) as db:
            assert db.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
        assert "FileNotFoundError" not in log.read_text()
    finally:
        _stop(process)
