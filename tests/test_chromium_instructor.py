"""Does the course go round in chromium: generate, release, fetch, submit, collect, autograde?

Debian's headless Chromium drives two JupyterLabs on 127.0.0.1 sharing one fresh exchange: the
instructor's (``peftlab instructor`` on a scratch course root holding the quiz) and a student's.
The instructor generates and releases ``lab2`` in Formgrader; the student fetches it and submits
it from the Assignment List; the instructor collects and autogrades it in Formgrader, and the
score Formgrader shows is the one in nbgrader's gradebook.

The student's JupyterLab is the shared-server set-up that ``peftlab/resources/student`` documents
(plain ``jupyter lab`` with that folder on ``JUPYTER_CONFIG_PATH``, in a home without ``lab2``):
``peftlab lab`` copies the release into ``lab2/`` before the list is ever opened, so its
Assignment List shows ``lab2`` as already fetched and offers no Fetch.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
from chromium_browser import (
    Page,
    answer,
    browsing,
    menu,
    open_notebook,
    require_chromium,
    serving,
)
from test_course import scratch_course

from peftlab.grading.names import COURSE_ID, CourseLayout
from peftlab.lab import STUDENT_CONFIG
from peftlab.paths import ASSIGNMENT

BIN = Path(sys.executable).parent
QUIZ = "06_quiz.ipynb"
# The quiz questions the student answers (the others stay blank): a score between 0 and the
# maximum, so a Formgrader showing 0 or the maximum whatever the gradebook says would fail.
ANSWERED = 2
STUDENT = "root" if os.geteuid() == 0 else os.environ.get("USER", "")
AUTOGRADE_S = 240


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(scratch course root with the quiz, fresh exchange, the student's empty home)."""
    require_chromium()
    base = tmp_path_factory.mktemp("course")
    root = scratch_course(base, [QUIZ])
    home = base / "student-home"
    home.mkdir()
    return root, base / "exchange", home


def _env(exchange: Path, token: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PEFTLAB_COURSE_ROOT", "PEFTLAB_PROFILE", "JUPYTER_CONFIG_PATH")}
    return dict(env, PEFTLAB_EXCHANGE=str(exchange), JUPYTER_TOKEN=token, HF_HUB_OFFLINE="1",
                **extra)


@pytest.fixture(scope="module")
def instructor(course):
    root, exchange, _ = course
    env = _env(exchange, "instructor-token", PEFTLAB_COURSE_ROOT=str(root))
    argv = [str(BIN / "peftlab"), "instructor", "--no-browser"]
    with serving(argv, env, root, root.parent / "instructor-server.log") as lab:
        yield lab


@pytest.fixture(scope="module")
def student(course):
    _, exchange, home = course
    env = _env(exchange, "student-token", JUPYTER_CONFIG_PATH=str(STUDENT_CONFIG))
    argv = [str(BIN / "jupyter"), "lab", f"--ServerApp.root_dir={home}", "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port_retries=0", "--no-browser"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    with serving(argv, env, home, home.parent / "student-server.log") as lab:
        yield lab


@pytest.fixture(scope="module")
def browser():
    with browsing() as driver:
        yield driver


def _modal(page: Page, what: str, timeout: float = 120) -> str:
    """Wait for Formgrader's result modal, fail on its error modal; its text (then closed)."""
    modal = page.wait(lambda d: page.visible("#success-modal.in, #error-modal.in"), what,
                      timeout)[0]  # Bootstrap's "in": shown, its fade-in finished
    text = modal.get_attribute("textContent")
    page.shot(what.replace(" ", "-"))
    if modal.get_attribute("id") == "error-modal":
        page.fail(f"{what}: Formgrader says {text[:600]!r}")
    modal.find_element("css selector", ".modal-footer button").click()
    page.wait(lambda d: not page.visible(".modal"), f"{what}: the modal closing", 15)
    page.wait(lambda d: not d.find_elements("css selector", ".modal-backdrop"),
              f"{what}: the modal's backdrop going", 15)
    return text


def _assignment_row(page: Page, what: str, timeout: float = 60):
    """Formgrader's row of ``lab2`` on Manage Assignments, once it has finished loading."""
    def row(driver):
        for tr in page.visible("tbody tr"):
            names = tr.find_elements("css selector", "td.name")
            if names and names[0].text.strip() == ASSIGNMENT:
                return tr
        return None
    return page.wait(row, what, timeout)


def _click_in_row(page: Page, css: str, what: str):
    page.wait(lambda d: _assignment_row(page, what).find_elements("css selector", css),
              what, 60)[0].click()


def test_course_round_trip_in_formgrader(browser, course, instructor, student):
    """Generate and release, fetch and submit, collect and autograde: same score as the gradebook?"""
    root, _, home = course
    teacher = Page(browser, instructor, "course-instructor")
    pupil = Page(browser, student, "course-student")

    # Instructor: Formgrader's Manage Assignments page, generate then release.
    teacher.open("/formgrader/manage_assignments")
    _assignment_row(teacher, "lab2 on Manage Assignments")
    teacher.shot("01-manage-assignments")
    _click_in_row(teacher, "td.assign a", "the Generate button of lab2")
    assert "Successfully created the student version" in _modal(teacher, "02 generated")
    _click_in_row(teacher, "td.release a", "the Release button of lab2")
    assert "Successfully released" in _modal(teacher, "03 released")

    # Student: Nbgrader > Assignment List, Fetch.
    pupil.open("/lab", "reset")
    pupil.wait_visible(".jp-LauncherCard", "the student's launcher", 90)
    menu(pupil, "Nbgrader", "Assignment List")
    fetch = pupil.wait(lambda d: [b for b in pupil.visible("#released_assignments_list button")
                                  if b.text == "Fetch"], "lab2 released, with Fetch", 60)
    pupil.shot("04-released")
    fetch[0].click()
    submit = pupil.wait(lambda d: [b for b in pupil.visible("#fetched_assignments_list button")
                                   if b.text == "Submit"], "lab2 fetched, with Submit", 60)
    pupil.shot("05-fetched")
    quiz = home / ASSIGNMENT / QUIZ
    assert quiz.is_file(), f"Fetch did not give {quiz}"

    # The student answers some questions and opens the notebook as it will be submitted.
    layout = CourseLayout(root)
    source = json.loads((layout.source / QUIZ).read_text())
    asked = [c["metadata"]["nbgrader"]["grade_id"] for c in source["cells"]
             if c["metadata"].get("nbgrader", {}).get("solution")]
    quiz.write_text(json.dumps(answer(json.loads(quiz.read_text()), source, asked[:ANSWERED])))
    open_notebook(pupil, f"{ASSIGNMENT}/{QUIZ}")
    pupil.shot("06-answered")
    student.shutdown_kernels()

    pupil.open("/lab", "reset")
    menu(pupil, "Nbgrader", "Assignment List")
    submit = pupil.wait(lambda d: [b for b in pupil.visible("#fetched_assignments_list button")
                                   if b.text == "Submit"], "lab2 fetched, with Submit", 60)
    submit[0].click()
    pupil.wait(lambda d: pupil.visible("#submitted_assignments_list .list_item"),
               "lab2 in the submitted list", 60)
    pupil.shot("07-submitted")

    # Instructor: collect, then autograde from Manage Submissions.
    teacher.open("/formgrader/manage_assignments")
    _click_in_row(teacher, "td.collect a", "the Collect button of lab2")
    assert "Successfully collected" in _modal(teacher, "08 collected")
    _click_in_row(teacher, "td.num-submissions a", "the number of submissions of lab2")
    row = teacher.wait(lambda d: next((tr for tr in teacher.visible("tbody tr")
                                       if tr.find_elements("css selector", "td.autograde a")),
                                      None), f"{STUDENT}'s submission on Manage Submissions")
    teacher.shot("09-manage-submissions")
    row.find_element("css selector", "td.autograde a").click()
    assert "Successfully autograded" in _modal(teacher, "10 autograded", AUTOGRADE_S)
    score_text = teacher.wait(
        lambda d: next((td.text for td in teacher.visible("tbody td.score")
                        if "/" in td.text), None), "the autograded score", 60)
    teacher.shot("11-score")

    from nbgrader.api import Gradebook

    with Gradebook(layout.gradebook_url, COURSE_ID) as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, STUDENT)
        score, max_score = submission.score, submission.max_score
    shown = [float(x) for x in re.findall(r"[\d.]+", score_text)]
    assert shown == pytest.approx([score, max_score], abs=0.005), (
        f"Formgrader shows {score_text!r}, the gradebook has {score} / {max_score}; "
        f"screenshot {teacher.shots[-1]}")
    assert 0 < score < max_score, f"{ANSWERED} answered questions scored {score} / {max_score}"

    # Manage Students shows the same total.
    teacher.open("/formgrader/manage_students")
    student_score = teacher.wait(
        lambda d: next((tr.find_element("css selector", "td.score").text
                        for tr in teacher.visible("tbody tr")
                        if tr.find_elements("css selector", "td.score")), None),
        f"{STUDENT}'s total on Manage Students", 60)
    teacher.shot("12-manage-students")
    assert [float(x) for x in re.findall(r"[\d.]+", student_score)] == pytest.approx(
        [score, max_score], abs=0.005), f"Manage Students shows {student_score!r}"
