"""Does ``peftlab course autograde --workers N`` grade a class in parallel, each student once?

The graded runs use a fresh scratch course (no release, no gradebook yet) whose assignment holds
only the quiz (solutions/lab2/06_quiz.ipynb: no torch, seconds a student), with ``--timeout 5``
so that a hanging submission costs seconds. Submissions are built from the quiz's source: the
solution (full marks), a blank copy (answer cells emptied), a hanging one (``while True: pass``
before the first answer) and a corrupt file (truncated JSON). Counts come from the gradebook and
from the batch ledger (``course/logs/autograde/ledger.tsv``: one ``started`` and one ``graded``
line per grading run).
"""

from __future__ import annotations

import csv
import logging
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import nbformat
import psutil
import pytest
from conftest import run_course

from peftlab.grading import fanout
from peftlab.grading.names import (
    GRADEBOOK_URL_VARIABLE,
    ROOT_VARIABLE,
    SQLITE_BUSY_TIMEOUT_S,
    SQLITE_URL_PREFIX,
    CourseLayout,
    sqlite_file,
)
from peftlab.paths import path_with_interpreter

ROOT = Path(__file__).resolve().parents[1]
QUIZ = ROOT / "solutions" / "lab2" / "06_quiz.ipynb"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "peftlab-pg"  # initdb and postgres refuse to run as root


def quiz_course(tmp_path: Path) -> Path:
    """A fresh course root: the real config and the quiz as its only source notebook."""
    root = tmp_path / "root"
    (root / "solutions" / "lab2").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copy(QUIZ, root / "solutions" / "lab2")
    return root


def _write(folder: Path, nb) -> None:
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / QUIZ.name)


def _answer_cells(nb) -> list:
    return [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]


def make_submissions(folder: Path, **counts: int) -> list[str]:
    """``counts`` students of each kind (solution, blank, hanging, corrupt); their names."""
    for kind, count in counts.items():
        for i in range(count):
            nb = nbformat.read(QUIZ, as_version=4)
            target = folder / f"{kind}{i}"
            if kind == "blank":
                for cell in _answer_cells(nb):
                    cell.source = ""
            elif kind == "hanging":
                cell = _answer_cells(nb)[0]
                cell.source = "while True:\n    pass\n" + cell.source
            elif kind == "corrupt":
                target.mkdir(parents=True)
                (target / QUIZ.name).write_text(QUIZ.read_text()[:500])
                continue
            _write(target, nb)
    return sorted(p.name for p in folder.iterdir())


def submissions_in(url: str) -> tuple[Counter, dict[str, float], float]:
    """Submissions per student, each student's total and the assignment's maximum score."""
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        subs = gb.find_assignment("lab2").submissions
        count = Counter(sub.student.id for sub in subs)
        totals = {sub.student.id: sub.score for sub in subs}
        return count, totals, gb.find_assignment("lab2").max_score


def ledger(root: Path) -> Counter:
    """(student, event) counts over every batch in the course's ledger."""
    path = CourseLayout(root).work("logs") / "autograde" / fanout.LEDGER
    return Counter(tuple(line.split("\t")[1:3]) for line in path.read_text().splitlines())


def exported_students(root: Path, env: dict) -> list[str]:
    """Students in plain ``nbgrader export`` (its CSV), run from the course root."""
    out = root / "grades.csv"
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", f"--to={out}"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with open(out) as f:
        return sorted({row["student_id"] for row in csv.DictReader(f)})


def course_env(root: Path, **extra: str) -> dict:
    return dict(os.environ, HF_HUB_OFFLINE="1", **{ROOT_VARIABLE: str(root)}, **extra)


def graded_lines(stdout: str, students: list[str]) -> dict[str, str]:
    """Each student's one line (``name: ...``) in the command's output."""
    lines = {}
    for student in students:
        found = [ln for ln in stdout.splitlines() if ln.startswith(f"{student}: ")]
        assert len(found) == 1, (student, found)
        lines[student] = found[0]
    return lines


def test_two_workers_sqlite_fresh_course(tmp_path):
    """On a fresh course root, do 2 workers grade every student once into the SQLite gradebook,
    exit 0 with a hanging and a corrupt submission, list everyone in ``nbgrader export``, and
    skip everyone on a second run?"""
    root = quiz_course(tmp_path)
    subs = tmp_path / "subs"
    students = make_submissions(subs, solution=2, blank=1, hanging=1, corrupt=1)
    args = ["autograde", "--submissions", str(subs), "--workers", "2", "--timeout", "5"]
    result = run_course(root, *args, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = graded_lines(result.stdout, students)
    assert (
        "local Dask cluster of 2 workers" in result.stdout and "/student" in result.stderr
    )  # the bar and its ETA

    url = CourseLayout(root).gradebook_url
    count, totals, full = submissions_in(url)
    assert count == Counter(dict.fromkeys(students, 1))
    assert totals["solution0"] == totals["solution1"] == full > 0
    assert totals["blank0"] == totals["corrupt0"] == 0
    assert 0 < totals["hanging0"] < full  # the loop costs its question, nothing else
    assert "unreadable notebook" in lines["corrupt0"]
    assert ledger(root) == Counter({(s, e): 1 for s in students for e in ("started", "graded")})
    logs = list((CourseLayout(root).work("logs") / "autograde").glob("*.log"))
    assert len(logs) == len(students)
    assert not [p for p in logs if "database is locked" in p.read_text()]
    assert exported_students(root, course_env(root)) == students

    again = run_course(root, *args, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    lines = graded_lines(again.stdout, students)
    # Filing the corrupt file again replaces its placeholder, so that student alone is re-graded.
    assert [s for s, line in lines.items() if "already graded" not in line] == ["corrupt0"]
    assert ledger(root)[("solution0", "graded")] == 1
    assert submissions_in(url)[:2] == (count, totals)


def test_sqlite_busy_timeout_outlasts_a_long_write(tmp_path, monkeypatch):
    """Does a write through the gradebook URL wait out another writer's 6 s lock, where a plain
    SQLite URL (Python's 5 s default) fails with "database is locked"?"""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import OperationalError

    monkeypatch.delenv(GRADEBOOK_URL_VARIABLE, raising=False)
    monkeypatch.setenv("PATH", path_with_interpreter())  # nbgrader runs `alembic` by name
    url = CourseLayout(tmp_path).gradebook_url
    path = sqlite_file(url)
    path.parent.mkdir()
    Gradebook(url).close()  # the tables

    def add_student(db_url: str, name: str) -> float:
        start = time.monotonic()
        with Gradebook(db_url) as gb:
            gb.add_student(name)
        return time.monotonic() - start

    def hold_lock(ready: threading.Event) -> None:
        with closing(sqlite3.connect(path, isolation_level=None)) as db:
            db.execute("BEGIN EXCLUSIVE")
            ready.set()
            time.sleep(6)
            db.execute("COMMIT")

    for db_url, should_wait in ((f"{SQLITE_URL_PREFIX}{path}", False), (url, True)):
        ready = threading.Event()
        holder = threading.Thread(target=hold_lock, args=(ready,))
        holder.start()
        ready.wait()
        if should_wait:
            assert add_student(db_url, "patient") >= 5.5
        else:
            with pytest.raises(OperationalError, match="database is locked"):
                add_student(db_url, "hasty")
        holder.join()
    assert f"timeout={SQLITE_BUSY_TIMEOUT_S}" in url


def _free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres_url():
    """A throwaway PostgreSQL 15 cluster on a private socket folder: the gradebook URL."""
    if not (PG_BIN / "initdb").is_file():
        pytest.skip("PostgreSQL 15 is not installed (apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="peftlab-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", PG_USER], check=True)
        shutil.chown(base, PG_USER)
        as_user = ["runuser", "-u", PG_USER, "--"]
    data, port = base / "data", _free_port()
    server = f"-k {base} -p {port} -c listen_addresses='' -c fsync=off"

    def pg(*cmd: str) -> None:
        subprocess.run([*as_user, *cmd], check=True, capture_output=True, timeout=120)

    pg(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    pg(
        str(PG_BIN / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(base / "log"),
        "-o",
        server,
        "-w",
        "start",
    )
    try:
        pg(str(PG_BIN / "createdb"), "-h", str(base), "-p", str(port), "-U", "postgres", "grades")
        yield f"postgresql+psycopg2://postgres@/grades?host={base}&port={port}"
    finally:
        pg(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def test_two_workers_postgresql_gradebook(tmp_path, postgres_url):
    """With ``PEFTLAB_GRADEBOOK_URL`` naming a PostgreSQL database, do 2 workers grade a fresh
    course into it, each student once, with no SQLite file made, and ``nbgrader export`` list
    everyone?"""
    root = quiz_course(tmp_path)
    subs = tmp_path / "subs"
    students = make_submissions(subs, solution=2, blank=1, corrupt=1)
    env = course_env(root, **{GRADEBOOK_URL_VARIABLE: postgres_url})
    cmd = [
        sys.executable,
        "-m",
        "peftlab.grading",
        "autograde",
        "--submissions",
        str(subs),
        "--workers",
        "2",
        "--timeout",
        "5",
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    graded_lines(result.stdout, students)
    count, totals, full = submissions_in(postgres_url)
    assert count == Counter(dict.fromkeys(students, 1))
    assert totals["solution0"] == totals["solution1"] == full > 0
    assert totals["blank0"] == totals["corrupt0"] == 0
    assert not CourseLayout(root).gradebook.exists()  # no SQLite gradebook was made
    assert exported_students(root, env) == students


def test_killed_worker_loses_nobody_and_grades_nobody_twice(tmp_path):
    """When a worker is killed (SIGKILL) while it grades, is its student graded again on
    another worker, exactly once, and every other student once (``--scheduler`` path)?"""
    from distributed import Client, LocalCluster

    root = quiz_course(tmp_path)
    subs = tmp_path / "subs"
    students = make_submissions(subs, solution=2, hanging=2)
    log_folder = CourseLayout(root).work("logs") / "autograde"
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    with cluster, Client(cluster) as client:
        args = [
            "autograde",
            "--submissions",
            str(subs),
            "--timeout",
            "5",
            "--scheduler",
            cluster.scheduler_address,
        ]
        proc = subprocess.Popen(
            [sys.executable, "-m", "peftlab.grading", *args],
            env=course_env(root),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        victim, pid = _worker_grading(client, log_folder, proc)
        time.sleep(3)  # nbgrader and the student's kernel are running
        assert any(victim in key for keys in client.processing().values() for key in keys)
        # The victim's nbgrader, the process that writes its grades (its kernel is nbgrader's).
        tree = psutil.Process(pid).children(recursive=True)
        graders = [proc for proc in tree if "nbgrader" in proc.cmdline()]
        assert len(graders) == 1
        os.kill(pid, signal.SIGKILL)
        assert _still_running(graders, within=3) == []  # dies with its worker, no orphan
        # ...and so does what it started: the sandbox launcher, bwrap and the student's kernel
        # (a hanging submission would otherwise spin on after the batch).
        assert _still_running(tree, within=10) == []
        out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, out + err
    graded_lines(out, students)
    events = ledger(root)
    assert events[(victim, "started")] == 2, events
    assert {s: events[(s, "graded")] for s in students} == dict.fromkeys(students, 1)
    count, totals, full = submissions_in(CourseLayout(root).gradebook_url)
    assert count == Counter(dict.fromkeys(students, 1))
    assert totals["solution0"] == totals["solution1"] == full


def _still_running(procs: list, within: float) -> list:
    """Those of ``procs`` still running (zombies count as gone) after waiting up to ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        alive = []
        for proc in procs:
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def _worker_grading(client, log_folder: Path, proc) -> tuple[str, int]:
    """A student a worker is grading (its task runs and the ledger says it started), and that
    worker's pid."""
    pids = client.run(os.getpid)
    ledger_file = log_folder / fanout.LEDGER
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        started = ledger(log_folder.parents[2]) if ledger_file.is_file() else Counter()
        for worker, keys in client.processing().items():
            for key in keys:
                student = str(key).removeprefix("grade-").rsplit("-", 2)[0]
                if started[(student, "started")]:
                    return student, pids[worker]
        time.sleep(0.2)
    raise AssertionError("no worker started grading within 300 s")


def test_gradebook_url_follows_the_environment(tmp_path, monkeypatch):
    """Is the gradebook SQLite under course/ with a busy timeout by default, and the URL of
    ``PEFTLAB_GRADEBOOK_URL`` when set (an SQLite one given a timeout unless it has one)?"""
    monkeypatch.delenv(GRADEBOOK_URL_VARIABLE, raising=False)
    course = CourseLayout(tmp_path)
    assert course.gradebook == tmp_path / "course" / "gradebook.db"
    assert course.gradebook_url.endswith(f"gradebook.db?timeout={SQLITE_BUSY_TIMEOUT_S}")
    monkeypatch.setenv(GRADEBOOK_URL_VARIABLE, "postgresql://u@db.example/grades")
    assert course.gradebook_url == "postgresql://u@db.example/grades"
    assert sqlite_file(course.gradebook_url) is None
    monkeypatch.setenv(GRADEBOOK_URL_VARIABLE, f"{SQLITE_URL_PREFIX}{tmp_path}/x.db?timeout=5")
    assert course.gradebook == tmp_path / "x.db"
    assert course.gradebook_url.endswith("x.db?timeout=5")


def test_percentiles_and_lines():
    """Are p50/p99 what they should be, and does a failed student say why?"""
    assert fanout.percentile([4.0], 99) == 4.0
    assert fanout.percentile([float(i) for i in range(1, 102)], 50) == 51.0
    assert fanout.percentile([float(i) for i in range(1, 102)], 99) == 100.0
    failed = fanout.Graded("ann", graded=False, seconds=3.0, problem="nbgrader exited with 1")
    assert failed.line() == "ann: NOT graded: nbgrader exited with 1"
    assert fanout.Graded("bo", True, 12.34, 7.0).line() == "bo: 7 points in 12.3 s"
