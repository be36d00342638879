"""Is the grading wing held together by imports, not by strings, and is its canary sound?

Fast checks (no nbgrader run): the names the wing shares are spelled once, nbgrader_config.py
wires the plug-ins it imports, the canary tells honest helpers from patched ones, each plug-in and
each ``peftlab course`` verb has a module of its own, and imports inside the wing only run down
its layers (``tests/test_layers.py`` checks the engine's layers and cycles across the package).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from test_layers import GRAPH
from traitlets.config.loader import PyFileConfigLoader

import peftlab.grading
from peftlab.cli import main as peftlab_main
from peftlab.grading import canary, gradebook, names, sandbox
from peftlab.grading.cli import VERBS
from peftlab.grading.hook import mark_graded
from peftlab.grading.kernel_manager import SandboxKernelSpecManager
from peftlab.grading.preprocessors import GuardedExecute, HideHiddenTests, RestoreGradedCells
from peftlab.paths import path_with_interpreter

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "peftlab"
WING = PACKAGE / "grading"
CONFIG = ROOT / names.CONFIG_FILE
SHARED = {
    "kernel name": names.KERNEL_NAME,
    "private folder prefix": names.PRIVATE_DIR_PREFIX,
    "course root variable": names.ROOT_VARIABLE,
    "gradebook file": names.GRADEBOOK_FILE,
    "gradebook URL scheme": "sqlite:///",
}
# The wing's layers, bottom first: a module may import its own layer or lower ones, never higher.
LAYERS = [
    {"names", "errors", "checks", "cells"},
    {"__init__", "canary", "sandbox", "zygote", "own_work", "kernel_manager", "intake", "gradebook",
     "exchange", "references"},
    {"preprocessors", "driver", "rejection", "hook", "reports", "fanout"},
    {"commands"},
    {"cli", "__main__"},
]


def _strings(path: Path) -> list[str]:
    """The string constants of a Python file, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def _layer(module: str) -> int:
    """The layer of a wing module (``peftlab.grading.X[.Y]``), from its first part ``X``."""
    first = module.removeprefix("peftlab.grading").lstrip(".").split(".")[0] or "__init__"
    return next(i for i, layer in enumerate(LAYERS) if first in layer)


@pytest.mark.parametrize("what", sorted(SHARED))
def test_shared_names_are_spelled_once(what):
    """Is each name the wing shares written in names.py only, not again in a module or the config?"""
    value = SHARED[what]
    spelled = [
        path.relative_to(ROOT).as_posix()
        for path in [*sorted(PACKAGE.rglob("*.py")), CONFIG]
        for string in _strings(path)
        if value in string
    ]
    assert spelled == ["peftlab/grading/names.py"], spelled


def test_config_imports_its_plug_ins():
    """Does nbgrader_config.py name no plug-in or hook by a dotted string that could go stale?"""
    dotted = [s for s in _strings(CONFIG) if s.startswith(("peftlab.", "nbgrader.", "nbconvert."))]
    assert not dotted


def test_config_wires_the_wing(tmp_path, monkeypatch):
    """Does nbgrader_config.py, wherever it is copied, use the wing's kernel, plug-ins and hook?"""
    removed = []
    monkeypatch.setattr(sandbox, "remove_public_kernelspec", lambda: removed.append(True))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    config_copy = tmp_path / names.CONFIG_FILE
    config_copy.write_text(CONFIG.read_text())
    c = PyFileConfigLoader(config_copy.name, path=str(tmp_path)).load_config()
    assert c.CourseDirectory.db_url == names.CourseLayout(tmp_path).gradebook_url
    assert (tmp_path / names.WORK_FOLDER).is_dir()
    assert "kernel_name" not in c.Execute  # validate runs the notebook's own kernel
    assert GuardedExecute(config=c).kernel_name == names.KERNEL_NAME
    assert c.Autograde.sanitize_preprocessors[0] is RestoreGradedCells
    assert c.Autograde.autograde_preprocessors[0] is GuardedExecute
    assert HideHiddenTests in c.GenerateFeedback.preprocessors
    assert c.Autograde.post_convert_hook is mark_graded
    assert removed == [True]
    assert os.environ["PATH"].split(os.pathsep)[0] == os.path.dirname(sys.executable)


def test_kernelspec_starts_the_sandbox():
    """Does the grading kernelspec launch the sandbox module that exists, under the shared name?"""
    argv = sandbox.kernelspec()["argv"]
    assert argv[1:3] == ["-m", sandbox.__name__] and argv[-1] == "{connection_file}"
    assert importlib.util.find_spec(argv[2]) is not None
    assert SandboxKernelSpecManager().get_kernel_spec(names.KERNEL_NAME).argv == argv


def test_stale_public_kernelspec_is_removed(tmp_path, monkeypatch):
    """Is a sandbox kernelspec left in a kernel folder (where launchers look) removed, and
    another kernel under the same name left alone?"""
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for data, argv in ((ours, sandbox.kernelspec()["argv"]), (theirs, ["R", "{connection_file}"])):
        folder = data / "kernels" / names.KERNEL_NAME
        folder.mkdir(parents=True)
        (folder / "kernel.json").write_text(json.dumps({"argv": argv}))
    monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join([str(ours), str(theirs)]))
    assert sandbox.remove_public_kernelspec() == [str(ours / "kernels" / names.KERNEL_NAME)]
    assert (theirs / "kernels" / names.KERNEL_NAME / "kernel.json").exists()


def test_half_built_gradebook_is_finished(tmp_path, monkeypatch):
    """Does a gradebook left without its schema version (``alembic`` not found) get it?"""
    from nbgrader.api import Base, get_alembic_version
    from sqlalchemy import create_engine

    monkeypatch.setenv("PATH", path_with_interpreter())  # as nbgrader_config.py sets it

    course = names.CourseLayout(tmp_path)
    path = course.gradebook
    path.parent.mkdir()
    Base.metadata.create_all(bind=create_engine(course.gradebook_url))
    assert gradebook.finish_half_built(path) is True
    assert gradebook.finish_half_built(path) is False
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (get_alembic_version(),)
        ]


def test_canary_passes_with_honest_helpers():
    """Do the real test helpers reject every wrong answer the canary tries?"""
    assert canary.helpers_reject_wrong_answers(123456, "123456") is True


def test_canary_program_raises_its_nonce_and_cleans_up():
    """Does the program sent to the kernel raise exactly its nonce and leave no name behind?"""
    first, second = canary.new_canary(), canary.new_canary()
    assert first.nonce != second.nonce and first.source != second.source
    assert canary.helpers_reject_wrong_answers.__name__ not in first.source
    namespace: dict = {}
    with pytest.raises(AssertionError) as raised:
        exec(compile(first.source, "<canary>", "exec"), namespace)
    assert str(raised.value) == first.nonce
    assert not [name for name in namespace if name.startswith("_canary_")]


@pytest.mark.parametrize("helper", ["plain", "check_choice", "check_number", "check_choices"])
def test_canary_catches_patched_helpers(monkeypatch, helper):
    """Does replacing one test helper by one that accepts anything silence the canary?"""
    monkeypatch.setattr(peftlab.grading, helper, lambda *args, **kwargs: None)
    program = canary.new_canary()
    exec(compile(program.source, "<canary>", "exec"), {})  # no AssertionError: no nonce


def test_canary_catches_a_patched_close(monkeypatch):
    """Does a ``close`` that says yes to everything make the canary fail (without its nonce)?"""
    monkeypatch.setattr(peftlab.grading, "close", lambda *args, **kwargs: True)
    program = canary.new_canary()
    with pytest.raises(AssertionError) as raised:
        exec(compile(program.source, "<canary>", "exec"), {})
    assert str(raised.value) != program.nonce


def test_helpers_import_nothing_heavy():
    """Does ``import peftlab.grading`` (what a grading kernel runs first) stay light?"""
    heavy = ("nbgrader", "nbclient", "transformers", "peft", "torch", "datasets")
    code = f"import sys, peftlab.grading; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_one_plug_in_per_module():
    """Does every module of preprocessors/ hold exactly one class, the plug-in it is named after?"""
    for path in sorted((WING / "preprocessors").glob("[!_]*.py")):
        classes = [n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.ClassDef)]
        assert len(classes) == 1, (path.name, classes)
        assert classes[0].lower() == path.stem.replace("_", ""), (path.name, classes)


def test_one_verb_per_module():
    """Is every ``peftlab course`` verb a module of commands/, and every such module a verb?"""
    modules = {p.stem for p in (WING / "commands").glob("[!_]*.py")}
    assert set(VERBS) == modules
    for name, verb in VERBS.items():
        assert verb.__name__.endswith(f".commands.{name}")


def test_course_command_is_wired_into_the_peftlab_cli(tmp_path, monkeypatch, capsys):
    """Does ``peftlab course status`` reach the wing, and fail in one line without a config?"""
    monkeypatch.setenv(names.ROOT_VARIABLE, str(tmp_path))
    assert peftlab_main(["course", "status"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and names.CONFIG_FILE in lines[0] and names.ROOT_VARIABLE in lines[0]


def test_wing_imports_run_down_the_layers():
    """Does every import inside the wing go to the same layer or a lower one, never up?"""
    upward = [
        (module, target)
        for module, targets in GRAPH.items()
        if module.startswith("peftlab.grading")
        for target in targets
        if target.startswith("peftlab.grading") and _layer(target) > _layer(module)
    ]
    assert not upward


def test_graded_marker_reads_notebooks_only(tmp_path, monkeypatch):
    """Is a student whose lab2 holds a ``runs/`` folder (results a notebook run left next to the
    notebooks, submitted with them) still marked graded, and does only a notebook change count?"""
    from peftlab.grading.hook import fingerprint, is_graded

    monkeypatch.setenv(names.ROOT_VARIABLE, str(tmp_path))
    course = names.layout()
    course.config.write_text("c = get_config()\n")
    for folder in (course.source, course.student("submitted", "ada")):
        folder.mkdir(parents=True)
        (folder / "01.ipynb").write_text("{}")
        (folder / "runs" / "interactive").mkdir(parents=True)
        (folder / "runs" / "interactive" / "results.json").write_text("{}")
    before = fingerprint("ada")  # a folder among the files no longer stops it
    (course.student("submitted", "ada") / "runs" / "interactive" / "more.json").write_text("[]")
    (course.student("submitted", "ada") / "notes.txt").write_text("not graded")
    assert fingerprint("ada") == before
    course.student("autograded", "ada").mkdir(parents=True)  # nbgrader made it while grading
    mark_graded("lab2", "*", [str(course.student("submitted", "ada") / "01.ipynb")])
    assert is_graded("ada")
    (course.student("submitted", "ada") / "01.ipynb").write_text('{"cells": []}')
    assert not is_graded("ada")


def test_runs_folders_do_not_travel(tmp_path, monkeypatch):
    """Do generate, release, submit and collect leave the notebooks' runs/ folders behind, in the
    instructor's config and in the student's?"""
    from peftlab.lab import STUDENT_CONFIG

    monkeypatch.setenv("PEFTLAB_EXCHANGE", str(tmp_path / "exchange"))
    for folder in (ROOT, STUDENT_CONFIG):
        copy = tmp_path / folder.name
        copy.mkdir()
        (copy / names.CONFIG_FILE).write_text((folder / names.CONFIG_FILE).read_text())
        c = PyFileConfigLoader(names.CONFIG_FILE, path=str(copy)).load_config()
        assert "runs" in c.CourseDirectory.ignore and ".ipynb_checkpoints" in c.CourseDirectory.ignore
