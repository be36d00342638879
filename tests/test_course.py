"""Does ``peftlab course`` file, grade and report lab 2 the way an instructor needs?"""

from __future__ import annotations

import shutil
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import run_course

from peftlab.grading import intake, sandbox
from peftlab.grading.names import ROOT_VARIABLE, CourseLayout
from peftlab.grading.preprocessors import HideHiddenTests

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "lab2"


def scratch_course(tmp_path: Path, notebooks: list[str] | None = None) -> Path:
    """A course root with the real config and (some of) the lab's source notebooks."""
    root = tmp_path / "root"
    (root / "solutions" / "lab2").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    for path in sorted(SOURCE.glob("*.ipynb")):
        if notebooks is None or path.name in notebooks:
            shutil.copy(path, root / "solutions" / "lab2")
    return root


@pytest.mark.parametrize(
    "args,message",
    [
        (["autograde", "--submissions", "/nonexistent/folder"], "not a folder"),
        (["autograde", "--student", "nobody-here"], "no submission for student"),
        (["autograde", "--timeout", "0"], "at least 1 second"),
        (["export", "--csv", "/tmp/peftlab-grades.csv"], "no gradebook yet"),
    ],
)
def test_user_errors_end_in_one_line(tmp_path, args, message):
    """Does a mistake on the command line end in one clear line and a non-zero exit, no traceback?"""
    root = scratch_course(tmp_path, ["06_quiz.ipynb"])
    (root / "course" / "submitted" / "someone" / "lab2").mkdir(parents=True)
    result = run_course(root, *args, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_missing_config_is_one_line(tmp_path):
    """Is a course root without nbgrader_config.py reported in one line?"""
    result = run_course(tmp_path, "status", timeout=60)
    assert result.returncode == 2 and "nbgrader_config.py" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_collect_files_folders_and_zips(tmp_path, monkeypatch):
    """Are folders, nested lab2/ folders and zips filed by student, and symlinks ignored?"""
    root = scratch_course(tmp_path, ["06_quiz.ipynb"])
    monkeypatch.setenv(ROOT_VARIABLE, str(root))
    subs = tmp_path / "subs"
    quiz = SOURCE / "06_quiz.ipynb"
    (subs / "alice" / "deep" / "lab2").mkdir(parents=True)
    shutil.copy(quiz, subs / "alice" / "deep" / "lab2")
    with zipfile.ZipFile(subs / "bob.zip", "w") as zf:
        zf.write(quiz, "lab2/06_quiz.ipynb")
        zf.writestr("__MACOSX/lab2/06_quiz.ipynb", "junk")
    (subs / "mallory").mkdir()
    (subs / "mallory" / "06_quiz.ipynb").symlink_to(quiz)
    (subs / ".hidden").mkdir()
    students = intake.collect(subs)
    assert students == ["alice", "bob"]
    for student in students:
        filed = root / "course" / "submitted" / student / "lab2"
        assert (filed / "06_quiz.ipynb").read_bytes() == quiz.read_bytes()
        assert (filed / "timestamp.txt").read_text().endswith("UTC\n")


def test_hidden_tests_are_cut_from_feedback_tracebacks():
    """Does feedback keep a visible test's message but hide a hidden test's line and message?"""
    source = "assert x == 1, 'x should be 1'\n### BEGIN HIDDEN TESTS\nassert x == 42, 'secret'\n### END HIDDEN TESTS"

    def cell(line: int, evalue: str):
        out = nbformat.v4.new_output(
            "error",
            ename="AssertionError",
            evalue=evalue,
            traceback=[f"Cell In[3], line {line}", "assert x == 42"],
        )
        return nbformat.v4.new_code_cell(source, outputs=[out])

    visible, _ = HideHiddenTests().preprocess_cell(cell(1, "x should be 1"), {}, 0)
    hidden, _ = HideHiddenTests().preprocess_cell(cell(3, "secret"), {}, 0)
    assert "HIDDEN" not in visible.source and "42" not in visible.source
    assert visible.outputs[0].evalue == "x should be 1"
    assert hidden.outputs[0].evalue == "a hidden test failed"
    assert "42" not in str(hidden.outputs) and "secret" not in str(hidden.outputs)


def test_sandbox_mounts_no_course_material(tmp_path):
    """Does the kernel's mount list leave out solutions/, tests/ and course/?"""
    conn = tmp_path / "peftlab-kernel-x" / "kernel.json"
    cmd = sandbox.bwrap_command(
        ["python"], str(conn), str(ROOT / "course" / "autograded"), str(tmp_path)
    )
    mounted = [cmd[i + 1] for i, word in enumerate(cmd) if word in ("--ro-bind", "--bind")]
    assert str(ROOT / "peftlab") in mounted
    for secret in ("solutions", "tests", "course", ".git"):
        assert not any(m == str(ROOT / secret) or m == str(ROOT) for m in mounted), secret
    assert "--unshare-net" in cmd and "setpriv" in cmd
    assert sandbox.kernelspec()["interrupt_mode"] == "message"


@pytest.mark.slow
def test_whole_lab_solutions_full_marks_release_zero(tmp_path):
    """Do the solutions autograde to full marks and the untouched release to 0?

    Prints the grading time per student (the figure is reported, not asserted: speed targets are
    measured, not unit-tested).
    """
    root = scratch_course(tmp_path)
    assert run_course(root, "generate").returncode == 0
    subs = tmp_path / "subs"
    shutil.copytree(SOURCE, subs / "solution")
    shutil.copytree(root / "labs" / "lab2", subs / "release")
    start = time.monotonic()
    result = run_course(root, "autograde", "--submissions", str(subs))
    per_student = (time.monotonic() - start) / 2
    assert result.returncode == 0, result.stdout + result.stderr
    table = _scores(root)
    assert table["solution"]["total"] == sum(table["solution"]["max"].values())
    assert table["release"]["total"] == 0
    print(f"autograde: {per_student:.0f} s per student")
    log = (root / "course" / "logs" / "autograde.log").read_text()
    assert "Kernel died" not in log and "TamperingDetected" not in log


def _scores(root: Path):
    from nbgrader.api import Gradebook

    table = {}
    with Gradebook(CourseLayout(root).gradebook_url) as gb:
        for sub in gb.find_assignment("lab2").submissions:
            grades = [g for nb in sub.notebooks for g in nb.grades]
            table[sub.student.id] = {
                "total": sub.score,
                "max": {g.name: g.max_score for g in grades},
            }
    return table
