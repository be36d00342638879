"""nbgrader settings for peftlab: every setting that affects grades or feedback lives here.

Plain ``nbgrader generate_assignment lab2``, ``autograde lab2``, ``generate_feedback lab2`` and
``export`` run from the repository root behave exactly like ``peftlab course ...``, which only
adds filing of submissions, skipping of finished students and a summary table.
"""

import os

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

ROOT = os.path.dirname(os.path.abspath(__file__))

# Layout: solutions/lab2 (instructor source) -> labs/lab2 (release); everything graded in course/.
c.CourseDirectory.root = ROOT
c.CourseDirectory.course_id = "peftlab"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "labs"
c.CourseDirectory.submitted_directory = "course/submitted"
c.CourseDirectory.autograded_directory = "course/autograded"
c.CourseDirectory.feedback_directory = "course/feedback"
c.CourseDirectory.solution_directory = "course/solution"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(ROOT, "course", "gradebook.db")
c.GenerateAssignment.create_assignment = True
os.makedirs(os.path.join(ROOT, "course"), exist_ok=True)  # sqlite does not create folders

# Grading kernel: sandboxed (peftlab.sandbox), 30 s per cell, interrupted then restarted if stuck.
c.Execute.kernel_name = "peftlab-sandbox"
c.Execute.timeout = 30
c.Execute.startup_timeout = 60
c.Execute.interrupt_on_timeout = True
c.Execute.iopub_timeout = 5
c.Execute.raise_on_iopub_timeout = True
c.GuardedExecute.max_restarts = 3
c.GuardedExecute.max_output_bytes = 1_000_000
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 50

# Autograde: the graded cells are rebuilt from the gradebook first (deleted ones put back, so
# they cost their points; edited, duplicated or re-labelled ones undone), then the notebook runs
# in GuardedExecute instead of nbgrader's Execute.
c.Autograde.sanitize_preprocessors = [
    "peftlab.autograder.RestoreGradedCells",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "peftlab.autograder.GuardedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# After each student: record what was graded, so an interrupted batch resumes where it stopped.
c.Autograde.post_convert_hook = "peftlab.course.mark_graded"

# Feedback: no hidden test source, no tracebacks that quote it.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "peftlab.autograder.HideHiddenTests",
]

# The grading kernelspec must exist for plain `nbgrader autograde` too.
try:
    from peftlab.sandbox import ensure_kernelspec

    ensure_kernelspec()
except OSError as err:  # a read-only venv: the kernelspec must have been installed already
    print(f"peftlab: could not install the grading kernelspec: {err}")
