"""Does a skipped exercise cost only its own points? Later cells fall back to peftlab's version.

Three layers: :mod:`peftlab.exercises` itself (answered, blank, undefined, wrong answers); its
references against the solutions' own answers; and the blank release, generated from the solutions
into a scratch course and executed in the ``smoke`` profile with errors allowed, as a student who
continues past an unanswered exercise runs it.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from peftlab.errors import PeftlabError
from peftlab.exercises import EXERCISES, Answer, Exercise, answer

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "lab2"
LAB_NOTEBOOKS = ("01_data_and_zero_shot", "02_full_fine_tuning", "03_lora", "04_prompt_tuning",
                 "05_comparison")
BLANK_LINE = re.compile(r"^exercise (\d+) \((\w+)\) is not answered yet", re.MULTILINE)


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _graded(cell) -> bool:
    """A solution or test cell: the cells nbgrader grades (and may fail while blank)."""
    return bool(_nbgrader(cell).get("solution") or _nbgrader(cell).get("grade"))


def _cells(name: str):
    return nbformat.read(SOURCE / f"{name}.ipynb", as_version=4).cells


def _defined(source: str) -> set[str]:
    """Top-level names a cell defines (functions, classes, assignments; imports excluded)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def _student_names(name: str) -> set[str]:
    """What the solution cells of notebook ``name`` define: gone or blank in the release."""
    return {n for c in _cells(name) if c.cell_type == "code" and _nbgrader(c).get("solution")
            for n in _defined(c.source)}


def _solution(name: str):
    """The solution's own answer ``name``: its notebook's solution cells executed in order up to
    the one that defines it (an answer may call an earlier one, as few_shot_prompt does)."""
    for notebook in LAB_NOTEBOOKS:
        namespace: dict = {}
        for cell in _cells(notebook):
            if _nbgrader(cell).get("solution"):
                exec(compile(cell.source, f"{notebook}:{cell.get('id')}", "exec"), namespace)
                if name in _defined(cell.source):
                    return namespace[name]
    raise AssertionError(f"no solution cell defines {name}")


# ----------------------------------------------------------------------------- the module


def _reference(x):
    return f"reference({x})"


def _exercise(reference=_reference, name="double") -> Exercise:
    return Exercise(99, name, reference)


def test_answered_function_is_used_as_is(capsys):
    """Is an answered function called as it is, once per call, with no fallback line?"""
    calls = []

    def double(x):
        calls.append(x)
        return 2 * x

    used = _exercise().resolve({"double": double})
    assert used(3) == 6 and used(4) == 8
    assert calls == [3, 4] and used.blank is False
    assert capsys.readouterr().out == ""


def test_wrong_answer_is_used_as_is(capsys):
    """Is a present-but-wrong answer used as it is, and its own errors raised, never replaced?"""

    def double(x):
        if x < 0:
            raise ValueError("negative")
        return x + 1  # wrong, but an answer

    used = _exercise().resolve({"double": double})
    assert used(3) == 4
    with pytest.raises(ValueError, match="negative"):
        used(-1)
    assert used.blank is False and capsys.readouterr().out == ""


def test_blank_function_falls_back_once(capsys):
    """Does a blank function fall back to the reference with one line, its body never run twice?"""
    calls = []

    def double(x):
        calls.append(x)
        raise NotImplementedError()

    namespace = {"double": double}
    used = _exercise().resolve(namespace)
    assert used(3) == "reference(3)" and used(4) == "reference(4)"
    assert calls == [3] and used.blank is True
    assert capsys.readouterr().out.splitlines() == [
        "exercise 99 (double) is not answered yet: the cells below use peftlab's version "
        "(test_fallbacks._reference)"]
    assert namespace == {"double": double}, "the notebook's own name must stay the student's"


class _Reference:
    def __init__(self, size):
        self.size = size


def test_blank_class_falls_back_on_instantiation(capsys):
    """Is a class whose instantiation raises NotImplementedError replaced by the reference class,
    without a second attempt at the student's __init__?"""
    inits = []

    class Layer:
        def __init__(self, size):
            inits.append(size)
            raise NotImplementedError()

    used = Exercise(6, "Layer", _Reference).resolve({"Layer": Layer})
    first, second = used(3), used(5)
    assert isinstance(first, _Reference) and (first.size, second.size) == (3, 5)
    assert inits == [3]
    out = capsys.readouterr().out.strip()
    assert out == ("exercise 6 (Layer) is not answered yet: the cells below use peftlab's version "
                   "(test_fallbacks._Reference)")


def test_answered_class_is_instantiated_as_is(capsys):
    """Does an answered class give instances of the student's class?"""

    class Layer:
        def __init__(self, size):
            self.size = size

    used = Exercise(6, "Layer", _Reference).resolve({"Layer": Layer})
    assert type(used(2)) is Layer and capsys.readouterr().out == ""


def test_undefined_answer_gives_the_reference(capsys):
    """Does an answer that was never defined give the reference itself, saying so in one line?"""

    def reference(x):
        return x

    assert _exercise(reference).resolve({}) is reference
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("exercise 99 (double) is not answered yet (not "
                                               "defined: run its cell)")


def test_blank_callee_is_named(capsys):
    """When an answer stops at another, blank exercise, does the line name the one that raised?"""

    def make_prompt(dialogue):
        raise NotImplementedError()

    def few_shot(dialogue):
        return make_prompt(dialogue) + "!"

    used = _exercise(name="few_shot").resolve({"few_shot": few_shot})
    assert used("d") == "reference(d)"
    assert "(make_prompt raised NotImplementedError)" in capsys.readouterr().out


def test_unknown_exercise_is_one_line():
    """Does asking for an exercise without a fallback end in one line listing the known ones?"""
    with pytest.raises(PeftlabError, match="no exercise named 'SoftPromt'.*make_prompt"):
        answer("SoftPromt", {})


def test_answer_resolves_the_registry(capsys):
    """Does answer() find the registered reference by name (imported only when needed)?"""
    from peftlab.data import build_prompt

    assert answer("make_prompt", {}) is build_prompt
    used = answer("make_prompt", {"make_prompt": lambda d: d})
    assert isinstance(used, Answer) and used("x") == "x"


# ----------------------------------------------------------------- references vs solutions


def _cases(name: str) -> list[tuple]:
    """Arguments to call an exercise's solution and its reference with."""
    import torch

    dialogues = ["#Person1#: Hi!\n#Person2#: Hello.", "  #Person1#: Late?\n#Person2#: Ten min.\n "]
    shots = [{"dialogue": "#Person1#: Tea?\n#Person2#: Yes.", "summary": " #Person2# wants tea. "},
             {"dialogue": "#Person1#: Rain.\n#Person2#: Umbrella.", "summary": "It rains."}]
    torch.manual_seed(0)
    frozen = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    frozen[0].weight.requires_grad_(False)
    emb = torch.nn.Embedding(10, 4)
    tied = torch.nn.ModuleDict({"emb": emb, "head": torch.nn.Linear(4, 10, bias=False)})
    tied["head"].weight = emb.weight
    hi = {"rouge1": 0.40, "rouge2": 0.1, "ci95": {"rouge1": (0.36, 0.44), "rouge2": (0.0, 0.2)}}
    lo = {"rouge1": 0.25, "rouge2": 0.2, "ci95": {"rouge1": (0.21, 0.29), "rouge2": (0.15, 0.25)}}
    near = {"rouge1": 0.33, "rouge2": 0.1, "ci95": {"rouge1": (0.28, 0.38), "rouge2": (0.0, 0.2)}}
    table = torch.nn.Embedding(20, 6)
    return {
        "make_prompt": [(d,) for d in dialogues],
        "few_shot_prompt": [([], dialogues[0]), (shots, dialogues[1]), (shots[::-1], dialogues[0])],
        "count_trainable": [(frozen,), (tied,)],
        "training_memory_gb": [(1_000_000_000,), (1_000_000_000, "mixed"),
                               (1_000_000_000, "mixed", 24), (2_000_000_000, "mixed"),
                               (250_000_000, "fp32", 0)],
        "lora_param_count": [(512, 64, 8), (768, 768, 32), (10, 3, 1)],
        "text_init": [(table, [3, 4, 5], 3), (table, [3, 4, 5], 7), (table, [3, 4, 5, 6, 7], 2)],
        "clearly_better": [(hi, lo), (lo, hi), (hi, near), (hi, hi), (lo, hi, "rouge2"),
                           (hi, lo, "rouge2")],
        "lab_lora_config": [(), (8, 16), (4, 32)],
        "BottleneckAdapter": [(16, 4), (7, 1)],
    }[name]


def _disagreements(theirs, ours, cases: list[tuple]) -> list[str]:
    """The cases where two implementations of an exercise give different results."""
    import torch

    differ = []
    for args in cases:
        torch.manual_seed(0)  # a class's random initialisation: the same draws for both
        a = theirs(*args)
        torch.manual_seed(0)
        b = ours(*args)
        if isinstance(a, torch.nn.Module):  # same weights; same output, also once they moved
            x = torch.randn(2, 3, args[0])
            mine, other = a.state_dict(), b.state_dict()
            same = mine.keys() == other.keys() and all(torch.equal(mine[k], other[k]) for k in mine)
            with torch.no_grad():
                for theirs_param, ours_param in zip(a.parameters(), b.parameters()):
                    step = torch.randn_like(theirs_param)
                    theirs_param.add_(step)
                    ours_param.add_(step)
                same = same and torch.allclose(a(x), b(x))
        elif isinstance(a, torch.Tensor):
            same = torch.equal(a, b) and a.requires_grad == b.requires_grad
        elif isinstance(a, dict):
            same = a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-12 for k in a)
        else:
            same = a == b and type(a) is type(b)
        if not same:
            differ.append(f"{args!r}: solution {a!r}, peftlab {b!r}")
    return differ


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_reference_behaves_like_the_solution(name):
    """Does peftlab's fallback give what the solution's answer gives, on the graded cases?"""
    exercise = EXERCISES[name]
    grade_ids = {_nbgrader(c).get("grade_id") for n in LAB_NOTEBOOKS for c in _cells(n)
                 if _nbgrader(c).get("solution") and name in _defined(c.source)}
    assert any(g and g.startswith(f"ex{exercise.number}-") for g in grade_ids), grade_ids
    differ = _disagreements(_solution(name), exercise.reference_object(), _cases(name))
    assert not differ, "\n".join(differ)


def test_a_wrong_reference_is_caught():
    """Would a reference that differs from the solution fail that comparison?"""
    from peftlab.data import TOPIC_TEMPLATE, build_prompt

    def topic_prompt(dialogue):
        return build_prompt(dialogue, TOPIC_TEMPLATE)

    assert _disagreements(_solution("make_prompt"), topic_prompt, _cases("make_prompt"))


@pytest.mark.parametrize("name", LAB_NOTEBOOKS)
def test_no_plain_cell_calls_a_student_name(name):
    """Does every non-graded cell reach a student's answer only through answer(), so that a blank
    answer cannot stop it?"""
    students = _student_names(name)
    used = {}
    for cell in _cells(name):
        if cell.cell_type != "code" or _graded(cell):
            continue
        names = {n.id for n in ast.walk(ast.parse(cell.source)) if isinstance(n, ast.Name)}
        if names & students:
            used[cell.get("id")] = sorted(names & students)
    assert not used, f"{name}: cells {used} use an answer directly; use peftlab.exercises.answer"


# --------------------------------------------------------------------- the blank release


def _generate_release(root: Path) -> Path:
    """``peftlab course generate`` into a scratch course root: the blank release."""
    (root / "solutions").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(SOURCE, root / "solutions" / "lab2", ignore=shutil.ignore_patterns("runs"))
    env = dict(os.environ, PEFTLAB_COURSE_ROOT=str(root), HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "-m", "peftlab.grading", "generate"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "labs" / "lab2"


def _execute(path: Path, out: Path, run: Path):
    """Run one release notebook as a student who goes on past errors; the executed notebook."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    executed = out / path.name
    try:
        papermill.execute_notebook(str(path), str(executed), cwd=str(path.parent),
                                   parameters={"profile": "smoke", "out_dir": str(run)},
                                   kernel_name="python3", allow_errors=True, progress_bar=False,
                                   execution_timeout=300)
    except PapermillExecutionError:  # papermill reports the errors nbclient let through
        pass
    return nbformat.read(executed, as_version=4)


@pytest.fixture(scope="module")
def blank_run(tmp_path_factory):
    """Notebooks 01-05 of a freshly generated blank release, executed in order with one out_dir:
    ``(executed notebooks by name, the run folder)``."""
    base = tmp_path_factory.mktemp("blank")
    release = _generate_release(base / "course")
    assert "raise NotImplementedError()" in (release / "01_data_and_zero_shot.ipynb").read_text()
    run = base / "run"
    saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "HF_HUB_OFFLINE",
                                            "NBGRADER_EXECUTION")}
    os.environ.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    os.environ.pop("NBGRADER_EXECUTION", None)
    try:
        executed = {name: _execute(release / f"{name}.ipynb", base, run) for name in LAB_NOTEBOOKS}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return executed, run


def _saved_by_solutions(pattern: str) -> set[str]:
    """Every string the solution notebooks pass where ``pattern`` matches (their saved files)."""
    text = "\n".join(c.source for n in LAB_NOTEBOOKS for c in _cells(n) if c.cell_type == "code")
    return set(re.findall(pattern, text))


@pytest.mark.slow
def test_blank_release_errors_only_in_graded_cells(blank_run):
    """Does the blank release stop only in solution and test cells, every test cell failing?"""
    executed, _ = blank_run
    for name, nb in executed.items():
        failing = {c.get("id") for c in nb.cells if c.cell_type == "code"
                   and any(o.get("output_type") == "error" for o in c.get("outputs", []))}
        plain = {c.get("id") for c in nb.cells if c.cell_type == "code" and not _graded(c)}
        assert not failing & plain, f"{name}: non-graded cells {sorted(failing & plain)} failed"
        tests = {c.get("id") for c in nb.cells if _nbgrader(c).get("grade")
                 and not _nbgrader(c).get("solution")}
        assert tests <= failing, f"{name}: test cells {sorted(tests - failing)} passed while blank"


@pytest.mark.slow
def test_blank_release_prints_its_fallbacks(blank_run):
    """Does each notebook say in one line which blank exercises its later cells replaced?"""
    executed, _ = blank_run
    for name, nb in executed.items():
        text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                         for o in c.get("outputs", []) if o.get("output_type") == "stream")
        printed = {(int(n), ex) for n, ex in BLANK_LINE.findall(text)}
        expected = {(e.number, e.name) for e in EXERCISES.values() if e.name in _student_names(name)}
        assert printed == expected, name


# What the solutions save, as their code spells it: results files, figures, comparison rows.
SAVED = {"results": r'save_results\(OUT, "(\w+)"', "figures": r'FIG / "([\w.]+\.png)"',
         "methods": r'ComparisonRow\.of\("([^"]+)"'}


@pytest.mark.slow
def test_blank_release_saves_what_the_solutions_save(blank_run):
    """Are every results file, figure and comparison row the solutions save there, and does
    notebook 5's report compare every method?"""
    from peftlab.results import comparison_rows, load_results

    _, run = blank_run
    found = {"results": {p.stem for p in (run / "results").glob("*.json")},
             "figures": {p.name for p in (run / "figures").glob("*.png")},
             "methods": {row.method for row in comparison_rows(load_results(run))}}
    for kind, pattern in SAVED.items():
        expected = _saved_by_solutions(pattern)
        assert found[kind] == expected, (f"{kind}: missing {sorted(expected - found[kind])}, "
                                         f"extra {sorted(found[kind] - expected)}")
    assert {"zero-shot", "full", "ln_tuning", "lora", "prompt", "prefix"} <= found["methods"]
    report = (run / "report.md").read_text()
    assert all(f"| {method} |" in report for method in found["methods"]), report
