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
import sys
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest
from chromium_browser import serving
from test_course import scratch_course
from test_validate import _env_without_venv

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
    assert launch.env["HF_HUB_OFFLINE"] == "1"  # the smoke profile never asks the Hub
    assert launch.env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(STUDENT_CONFIG)
    assert "--ServerApp.ip=127.0.0.1" in launch.argv and "--no-browser" in launch.argv
    assert launch.url.startswith("http://127.0.0.1:8999/lab/tree/lab2?token=")
    assert (tmp_path / "w" / "lab2").is_dir()
    with pytest.raises(PeftlabError, match="unknown profile 'fast'"):
        student_launch(tmp_path / "w", profile="fast")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    gpu = student_launch(tmp_path / "w", profile="gpu", port=8999, open_browser=False)
    assert "HF_HUB_OFFLINE" not in gpu.env  # FLAN-T5 and DialogSum come from the Hub


def test_instructor_needs_a_course_root(tmp_path):
    """Is starting the instructor's JupyterLab outside a course root one clear line?"""
    with pytest.raises(PeftlabError, match="no nbgrader_config.py"):
        instructor_launch(tmp_path)


def _status(server, path: str) -> int:
    """The HTTP status of ``path`` on the test's JupyterLab."""
    try:
        with urllib.request.urlopen(server.url(path), timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def _printed_url(server) -> bool:
    """Did the command print the loopback URL it serves, with its token, before starting?"""
    port = server.base.rsplit(":", 1)[1]
    return f"JupyterLab: http://127.0.0.1:{port}/" in server.log.read_text()


def test_student_server_has_no_instructor_tools(tmp_path):
    """Does the student's JupyterLab serve the lab and Validate, but no Formgrader?"""
    argv = [str(BIN / "peftlab"), "lab", "--workdir", str(tmp_path / "w"), "--no-browser"]
    env = _env_without_venv(PEFTLAB_EXCHANGE=str(tmp_path / "exchange"))
    with serving(argv, env, tmp_path, tmp_path / "server.log") as server:
        assert _printed_url(server)
        assert _status(server, "/lab/tree/lab2") == 200
        assert _status(server, "/formgrader") == 404, server.log_tail()
        text = server.log.read_text()
        assert "validate_assignment | extension was successfully loaded" in text
        loaded = re.findall(r"(\S+) \| extension was successfully loaded", text)
        assert "nbgrader.server_extensions.formgrader" not in loaded
        assert "nbgrader.server_extensions.course_list" not in loaded


def test_formgrader_works_on_first_open(tmp_path):
    """Does Formgrader open on a course without a gradebook, started as .venv/bin/peftlab?"""
    root = scratch_course(tmp_path, ["06_quiz.ipynb"])
    env = _env_without_venv(PEFTLAB_COURSE_ROOT=str(root))
    argv = [str(BIN / "peftlab"), "instructor", "--no-browser"]
    with serving(argv, env, tmp_path, tmp_path / "server.log") as server:
        assert _printed_url(server)
        assert _status(server, "/formgrader") == 200, server.log_tail()
        # What the page asks for as it opens: the assignments, from a gradebook made on demand.
        assert _status(server, "/formgrader/api/assignments") == 200, server.log_tail()
        gradebook = root / "course" / "gradebook.db"
        with closing(sqlite3.connect(gradebook)) as db:
            assert db.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
        assert "FileNotFoundError" not in server.log.read_text()
