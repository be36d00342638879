"""Does the lab travel through nbgrader's exchange, from the instructor to a student and back?

The whole loop runs with nbgrader's own commands (``.venv/bin/nbgrader``, the venv not on
``PATH``), as two real Unix users made for the test, each with a home of their own, so the
exchange's permissions are the real ones: release_assignment, fetch_assignment, submit, collect,
autograde, generate_feedback, release_feedback, fetch_feedback and export. The exchange is a fresh
folder (``PEFTLAB_EXCHANGE``) that the instructor's config creates. Making users needs root;
elsewhere that test skips. Grading the lab takes about 35 s (one student).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from test_course import scratch_course
from test_grader_trust import _hidden_region, _visible
from test_validate import BIN, _env_without_venv, _readable_interpreter
from traitlets.config.loader import PyFileConfigLoader

from peftlab.grading.errors import CourseError
from peftlab.grading.exchange import configured_exchange, ensure_exchange, exchange_root
from peftlab.grading.names import (
    CELL_TIMEOUT_S,
    CONFIG_FILE,
    COURSE_ID,
    DEFAULT_EXCHANGE,
    EXCHANGE_MODE,
    EXCHANGE_VARIABLE,
    CourseLayout,
)
from peftlab.lab import STUDENT_CONFIG

ASSIGNMENT = "lab2"


def test_exchange_root_follows_the_variable(monkeypatch, tmp_path):
    """Is the exchange ``$PEFTLAB_EXCHANGE`` when set, and nbgrader's default folder when not?"""
    monkeypatch.setenv(EXCHANGE_VARIABLE, str(tmp_path / "ex"))
    assert exchange_root() == tmp_path / "ex"
    monkeypatch.delenv(EXCHANGE_VARIABLE)
    assert exchange_root() == Path(DEFAULT_EXCHANGE)


def test_missing_exchange_is_made_shared(tmp_path):
    """Is a missing exchange (and its parents) made writable by all and sticky, whatever the
    umask, and an existing one left as it is?"""
    root = tmp_path / "srv" / "exchange"
    before = os.umask(0o077)
    try:
        assert ensure_exchange(root) == root
    finally:
        os.umask(before)
    assert stat.S_IMODE(root.stat().st_mode) == EXCHANGE_MODE
    root.chmod(0o2775)  # an admin's group-shared exchange
    ensure_exchange(root)
    assert stat.S_IMODE(root.stat().st_mode) == 0o2775


def test_exchange_that_cannot_be_made_is_one_line(monkeypatch, tmp_path):
    """Is an exchange path that is a file, or under a file, one line naming it and the fix, while
    a config file loading it still gets the path instead of an error?"""
    blocker = tmp_path / "file"
    blocker.write_text("")
    for path, message in ((blocker, "is not a folder"), (blocker / "ex", "cannot create")):
        with pytest.raises(CourseError) as caught:
            ensure_exchange(path)
        text = str(caught.value)
        assert message in text and str(path) in text and EXCHANGE_VARIABLE in text
        assert "\n" not in text
    monkeypatch.setenv(EXCHANGE_VARIABLE, str(blocker / "ex"))
    assert configured_exchange() == str(blocker / "ex")


def test_student_config_is_the_students_share(monkeypatch, tmp_path):
    """Does the shipped student config set the course, the exchange and Validate's timeout, make
    the exchange, and set nothing of the instructor's (course root, gradebook, plug-ins)?"""
    monkeypatch.setenv(EXCHANGE_VARIABLE, str(tmp_path / "exchange"))
    config = PyFileConfigLoader(CONFIG_FILE, path=str(STUDENT_CONFIG)).load_config()
    assert config.CourseDirectory.course_id == COURSE_ID
    assert config.Exchange.root == str(tmp_path / "exchange")
    assert (tmp_path / "exchange").is_dir()
    assert config.Execute.timeout == CELL_TIMEOUT_S
    assert "root" not in config.CourseDirectory and "db_url" not in config.CourseDirectory
    assert set(config) == {"CourseDirectory", "Exchange", "Execute"}


@dataclass
class User:
    """A throwaway Unix user with a home of its own, running the venv's nbgrader."""

    name: str
    uid: int
    home: Path

    @classmethod
    def make(cls, role: str) -> User:
        name = f"peftlab-{role}-{uuid.uuid4().hex[:6]}"
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/false", name],
                       check=True)
        uid = int(subprocess.check_output(["id", "-u", name]))
        # Not under pytest's tmp_path: its folders are private to root.
        home = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        os.chown(home, uid, uid)
        return cls(name, uid, home)

    def run(self, *args: str, cwd: Path | None = None, ok: bool = True,
            **env: str) -> subprocess.CompletedProcess:
        """``args`` as this user (a bare ``nbgrader ...`` is the venv's), from ``cwd`` (home)."""
        if args[0] == "nbgrader":
            args = (str(BIN / "nbgrader"), *args[1:])
        as_user = (*_readable_interpreter(), "setpriv", f"--reuid={self.uid}",
                   f"--regid={self.uid}", "--init-groups")
        clean = {k: v for k, v in _env_without_venv().items()
                 if not k.startswith(("JUPYTER", "XDG_", "PEFTLAB_"))}
        clean.update(HOME=str(self.home), USER=self.name, LOGNAME=self.name, **env)
        start = time.monotonic()
        result = subprocess.run([*as_user, *args], cwd=cwd or self.home, env=clean,
                                capture_output=True, text=True, timeout=900)
        print(f"{self.name}: {Path(args[0]).name} {args[1]}: {time.monotonic() - start:.1f} s")
        if ok:
            assert result.returncode == 0, f"{args}\n{result.stdout}{result.stderr[-4000:]}"
        return result

    def remove(self) -> None:
        subprocess.run(["userdel", self.name], check=False)
        shutil.rmtree(self.home, ignore_errors=True)


def _own(path: Path, user: User) -> None:
    for folder, _, files in os.walk(path):
        for name in [folder, *(os.path.join(folder, f) for f in files)]:
            os.chown(name, user.uid, user.uid)


def _secret_names(source: Path) -> set[str]:
    """Names (``_ref``, ``_plain``...) that only the hidden tests in ``source`` use: feedback
    showing one shows hidden test source (syntax highlighting splits lines, not names)."""
    hidden, visible = set(), set()
    for path in sorted(source.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            hidden |= {n for line in _hidden_region(cell.source)
                       for n in re.findall(r"\b_[a-z]\w*", line)}
            visible |= set(re.findall(r"\b_[a-z]\w*", _visible(cell.source)))
    return hidden - visible


def test_lab_travels_through_the_exchange():
    """Does a student who is not the instructor fetch the release into ./lab2, submit solutions,
    get full marks in ``nbgrader export`` and fetch feedback without hidden tests, while another
    student can neither list nor read the submissions in the exchange?"""
    if os.geteuid() != 0:
        pytest.skip("not root: cannot make the instructor and student users (useradd)")
    exchange = Path(tempfile.gettempdir()) / f"peftlab-exchange-{uuid.uuid4().hex[:8]}"
    users: list[User] = []
    try:
        teacher, student, peer = (User.make(role) for role in ("teach", "stud", "peer"))
        users += [teacher, student, peer]
        shared = {EXCHANGE_VARIABLE: str(exchange)}
        as_student = {**shared, "JUPYTER_CONFIG_PATH": str(STUDENT_CONFIG)}

        course = CourseLayout(scratch_course(teacher.home))
        _own(course.root, teacher)
        teacher.run("nbgrader", "generate_assignment", ASSIGNMENT, cwd=course.root, **shared)
        teacher.run("nbgrader", "release_assignment", ASSIGNMENT, cwd=course.root, **shared)
        assert exchange.owner() == teacher.name
        assert stat.S_IMODE(exchange.stat().st_mode) == EXCHANGE_MODE
        released = sorted(p.name for p in course.release.glob("*.ipynb"))

        # The student: the shipped student config gives the course id and the exchange.
        student.run("nbgrader", "fetch_assignment", ASSIGNMENT, **as_student)
        mine = student.home / ASSIGNMENT
        assert sorted(p.name for p in mine.glob("*.ipynb")) == released
        for path in course.source.glob("*.ipynb"):  # the solutions as the student's answers
            shutil.copy(path, mine / path.name)
        _own(mine, student)
        student.run("nbgrader", "submit", ASSIGNMENT, **as_student)

        # Another student, with a plain nbgrader and no config, fetches too, but cannot list the
        # inbound folder, so cannot find the submission (its name holds a random part).
        peer.run("nbgrader", "fetch_assignment", ASSIGNMENT, f"--course={COURSE_ID}",
                 f"--Exchange.root={exchange}")
        assert sorted(p.name for p in (peer.home / ASSIGNMENT).glob("*.ipynb")) == released
        inbound = exchange / COURSE_ID / "inbound"
        assert len(list(inbound.glob(f"{student.name}+{ASSIGNMENT}+*"))) == 1
        snoop = peer.run("ls", str(inbound), ok=False)
        assert snoop.returncode != 0 and "Permission denied" in snoop.stderr

        teacher.run("nbgrader", "collect", ASSIGNMENT, cwd=course.root, **shared)
        assert (course.student("submitted", student.name) / "timestamp.txt").is_file()
        teacher.run("nbgrader", "autograde", ASSIGNMENT, cwd=course.root, **shared)
        teacher.run("nbgrader", "generate_feedback", ASSIGNMENT, cwd=course.root, **shared)
        teacher.run("nbgrader", "release_feedback", ASSIGNMENT, cwd=course.root, **shared)
        teacher.run("nbgrader", "export", cwd=course.root, **shared)
        with open(course.root / "grades.csv", newline="") as table:
            rows = [row for row in csv.DictReader(table) if row["student_id"] == student.name]
        assert len(rows) == 1 and float(rows[0]["max_score"]) > 0, rows
        assert float(rows[0]["score"]) == float(rows[0]["max_score"]), rows

        student.run("nbgrader", "fetch_feedback", ASSIGNMENT, **as_student)
        pages = sorted((mine / "feedback").glob("*/*.html"))
        assert sorted(p.stem for p in pages) == [Path(n).stem for n in released]
        secret = _secret_names(course.source)
        autograded = "".join(p.read_text() for p in
                             course.student("autograded", student.name).glob("*.ipynb"))
        assert secret and all(name in autograded for name in secret)
        for page in pages:
            text = page.read_text()
            assert "HIDDEN TESTS" not in text, page
            leaked = [name for name in secret if re.search(rf"\b{name}\b", text)]
            assert not leaked, (page.name, leaked)
    finally:
        for user in users:
            user.remove()
        shutil.rmtree(exchange, ignore_errors=True)
