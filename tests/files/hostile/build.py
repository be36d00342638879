"""Build the hostile-submission corpus from the released quiz: ``python tests/files/hostile/build.py``
(or ``... build.py RELEASE.ipynb`` to build it from another release of the quiz).

Each case is a folder ``<case>/06_quiz.ipynb`` (a student's submission for the quiz). The expected
outcomes are in ``tests/test_grader_trust.py``. Run this again after changing the quiz.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
RELEASE = HERE.parents[2] / "labs" / "lab2" / "06_quiz.ipynb"

RIGHT = {
    "q1": 'q1 = {"lora": "b", "prompt_tuning": "c", "bitfit": "a", "prefix_tuning": "c", '
    '"adapters": "c"}',
    "q2": 'q2_params = 4608\nq2_scaling = 4.0\nq2_trained = "b"',
    "q3": 'q3 = "b"\nq3_params = 10240\nq3_scale = "c"',
    "q4": 'q4_fp32_gb = 24\nq4_gb = 32\nq4_lora = "b"\nq4_forgetting = "b"',
    "q5": 'q5_rouge = {"rouge1": "a", "rouge2": "b", "rougeL": "c"}\nq5_bleu = "b"\nq5_merge = "b"',
    "q6": 'q6 = "b"\nq6_cost = "b"',
    "q7": 'q7 = "c"\nq7_data = "b"',
    "q8": 'q8 = "a"\nq8_fix = "b"',
    "q9": 'q9 = "b"\nq9_tokens = 20',
    "q10": 'q10 = "b"\nq10_smallest = "b"',
}
WRONG = {  # wrong in every part
    "q1": 'q1 = {"lora": "c", "prompt_tuning": "a", "bitfit": "b", "prefix_tuning": "c", '
    '"adapters": "a"}',
    "q2": 'q2_params = 8 * 512 * 64\nq2_scaling = 8 / 32\nq2_trained = "c"',
    "q3": 'q3 = "a"\nq3_params = 20\nq3_scale = "a"',
    "q4": 'q4_fp32_gb = 4\nq4_gb = 2\nq4_lora = "d"\nq4_forgetting = "c"',
    "q5": 'q5_rouge = {"rouge1": "b", "rouge2": "a", "rougeL": "c"}\nq5_bleu = "a"\nq5_merge = "a"',
    "q6": 'q6 = "a"\nq6_cost = "a"',
    "q7": 'q7 = "a"\nq7_data = "a"',
    "q8": 'q8 = "b"\nq8_fix = "a"',
    "q9": 'q9 = "a"\nq9_tokens = 1',
    "q10": 'q10 = "c"\nq10_smallest = "c"',
}
ALWAYS_EQUAL = """class Yes(str):
    def __eq__(self, other):
        return True
    def __le__(self, other):
        return True
    __ge__ = __le__
    __hash__ = str.__hash__
"""
PATCH_HELPERS = """import peftlab.grading as g
class Yes:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__
g.check_choice = g.check_choices = g.check_number = lambda *a, **k: None
g.plain = lambda value: Yes()
g.close = lambda *a, **k: True
"""
SWALLOW = """def _swallow(lines):
    return ["try:\\n"] + ["    " + line for line in lines] + ["\\nexcept BaseException:\\n    pass\\n"]
get_ipython().input_transformers_post.append(_swallow)
"""
SNOOP = """import glob, os, sqlite3
found = []
for pattern in ["/work/*/solutions/lab2/*.ipynb", "../../../../solutions/lab2/*.ipynb",
                "/tmp/**/solutions/lab2/*.ipynb", "/**/06_quiz.ipynb", "../../../*.db",
                "/work/*/course/gradebook.db", "/work/*/tests/files/variants/*/*.py"]:
    found += glob.glob(pattern, recursive=True)
for path in found:
    if path.endswith(".db"):
        db = sqlite3.connect(path)
        db.execute("UPDATE grade SET auto_score = 100, manual_score = 100")
        db.commit()
    else:
        text = open(path).read()
        if "BEGIN HIDDEN TESTS" in text:
            exec(compile(text, path, "exec"), {})  # never reached: nothing is visible
for path in ["../../../../course/gradebook.db", "../../correct/lab2/06_quiz.ipynb"]:
    try:
        open(path, "w").write("overwritten")
    except OSError:
        pass
"""


def answers(**cells: str) -> dict[str, str]:
    """Right answers everywhere, except ``cells`` (answer-cell id -> source)."""
    return {**RIGHT, **cells}


def build_case(release, answer_sources: dict[str, str], edit=None):
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answer_sources:
            cell.source = answer_sources[grade_id]
    if edit is not None:
        edit(nb)
    return nb


def _cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _delete(grade_id):
    def edit(nb):
        nb.cells.remove(_cell(nb, grade_id))

    return edit


def _edit_test(nb):
    _cell(nb, "q1-tests").source = "pass"


def _edit_points(nb):
    for grade_id in ("q1-tests", "q2-tests"):
        meta = _cell(nb, grade_id).metadata.nbgrader
        meta["points"] = 100
    _cell(nb, "q1").metadata.nbgrader.update(grade=True, points=50)


def _repoint(nb):
    real = _cell(nb, "q1-tests")
    real.metadata.nbgrader["grade_id"] = "q1-tests-renamed"
    fake = nbformat.v4.new_code_cell(
        "pass",
        metadata={
            "nbgrader": {
                "grade": True,
                "grade_id": "q1-tests",
                "locked": True,
                "points": 2,
                "schema_version": 3,
                "solution": False,
                "task": False,
            }
        },
    )
    fake.id = "fake-test"
    nb.cells.insert(nb.cells.index(real), fake)


def _wrong_kernel(nb):
    nb.metadata.kernelspec = {"name": "ir", "display_name": "R", "language": "R"}


def _first_code(source):
    def edit(nb):
        cell = nbformat.v4.new_code_cell(source)
        cell.id = "student-setup"
        nb.cells.insert(1, cell)

    return edit


WRONG_ALL = dict(WRONG)
CASES = {
    "correct": answers(),
    "unanswered": {},
    "loop_forever": answers(q2="while True:\n    pass\n" + RIGHT["q2"]),
    "loop_ignores_interrupt": answers(
        q2="import time\nwhile True:\n    try:\n        time.sleep(0.1)\n"
        "    except BaseException:\n        pass\n"
    ),
    "os_exit": answers(q3="import os\nos._exit(1)\n" + RIGHT["q3"]),
    "os_exit_dependency": answers(
        q2="base = 8\nimport os\nos._exit(0)\n" + RIGHT["q2"],
        q3='q3_params = base * 1280\nq3 = "b"\nq3_scale = "c"',
    ),
    "memory_bomb": answers(q4="hog = bytearray(64 * 2**30)\n" + RIGHT["q4"]),
    "deleted_test_cell": (answers(q1=WRONG["q1"]), _delete("q1-tests")),
    "edited_test_cell": (answers(q1=WRONG["q1"]), _edit_test),
    "edited_points": (answers(q1=WRONG["q1"]), _edit_points),
    "repointed_test_cell": (answers(q1=WRONG["q1"]), _repoint),
    "always_equal_answers": {
        k: ALWAYS_EQUAL + "\n".join(line.split(" = ")[0] + " = Yes('z')" for line in v.splitlines())
        for k, v in RIGHT.items()
    },
    "patched_helpers": (WRONG_ALL, _first_code(PATCH_HELPERS)),
    "patched_showtraceback": (
        WRONG_ALL,
        _first_code(
            "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
            "ip._showtraceback = lambda *a, **k: None\nip.showsyntaxerror = lambda *a, **k: None"
        ),
    ),
    "swallow_errors": (WRONG_ALL, _first_code(SWALLOW)),
    "system_exit": (
        WRONG_ALL,
        _first_code(
            "import sys\nimport peftlab.grading as g\n"
            "g.check_choice = g.check_choices = g.check_number = lambda *a, **k: sys.exit(0)\n"
            "g.plain = lambda value: sys.exit(0)\nraise SystemExit"
        ),
    ),
    "huge_output": (
        {
            k: "import sys\nprint('x' * 10**7)\nsys.stderr.write('y' * 10**7)\n" + v
            for k, v in WRONG_ALL.items()
        },
        None,
    ),
    "wrong_kernelspec": (answers(), _wrong_kernel),
    "empty_notebook": "EMPTY",
    "empty_file": b"",
    "corrupted_json": b'{"cells": [{"cell_type": "code", "source": "q1 = ',
    "snoop_and_tamper": (WRONG_ALL, _first_code(SNOOP)),
}


def main(release_path: Path = RELEASE) -> None:
    release = nbformat.read(release_path, as_version=4)
    for case, spec in CASES.items():
        folder = HERE / case
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        path = folder / "06_quiz.ipynb"
        if isinstance(spec, bytes):
            path.write_bytes(spec)
            continue
        if spec == "EMPTY":
            nbformat.write(nbformat.v4.new_notebook(), path)
            continue
        sources, edit = spec if isinstance(spec, tuple) else (spec, None)
        nbformat.write(build_case(release, sources, edit), path)


if __name__ == "__main__":
    import sys

    main(Path(sys.argv[1]) if len(sys.argv) > 1 else RELEASE)
