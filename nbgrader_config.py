"""nbgrader settings for peftlab: every setting that affects grades or feedback lives here.

Plain ``nbgrader generate_assignment lab2``, ``autograde lab2``, ``generate_feedback lab2`` and
``export`` run from the repository root behave exactly like ``peftlab course ...``, which only
adds filing of submissions, skipping of finished students and a summary table.

Names and paths come from :mod:`peftlab.grading.names`, plug-ins are imported (not named by
strings), so a renamed module or folder fails here, loudly, instead of in the middle of a batch.
"""

import os
from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from peftlab.grading.exchange import configured_exchange
from peftlab.grading.gradebook import finish_half_built
from peftlab.grading.hook import mark_graded
from peftlab.grading.names import (
    CELL_TIMEOUT_S,
    COURSE_ID,
    IGNORED_FILES,
    KERNEL_STARTUP_S,
    RELEASE_FOLDER,
    SOURCE_FOLDER,
    CourseLayout,
    work_folder,
)
from peftlab.grading.preprocessors import GuardedExecute, HideHiddenTests, RestoreGradedCells
from peftlab.grading.sandbox import remove_public_kernelspec
from peftlab.paths import path_with_interpreter

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

# Started as `.venv/bin/nbgrader` or `.venv/bin/jupyter` (formgrader) without the venv activated,
# nbgrader would not find `alembic`, which it runs by name to create the gradebook.
os.environ["PATH"] = path_with_interpreter()

# This file's folder is the course root, wherever the course was copied.
COURSE = CourseLayout(Path(os.path.abspath(__file__)).parent)

# Layout: solutions/lab2 (instructor source) -> labs/lab2 (release); everything graded in course/.
c.CourseDirectory.root = str(COURSE.root)
c.CourseDirectory.course_id = COURSE_ID
c.CourseDirectory.source_directory = SOURCE_FOLDER
c.CourseDirectory.release_directory = RELEASE_FOLDER
c.CourseDirectory.submitted_directory = work_folder("submitted")
c.CourseDirectory.autograded_directory = work_folder("autograded")
c.CourseDirectory.feedback_directory = work_folder("feedback")
c.CourseDirectory.solution_directory = work_folder("solution")
c.CourseDirectory.db_url = COURSE.gradebook_url
c.GenerateAssignment.create_assignment = True
c.CourseDirectory.ignore = list(IGNORED_FILES)  # no runs/ folders travel with the notebooks
COURSE.gradebook.parent.mkdir(exist_ok=True)  # sqlite does not create folders
finish_half_built(COURSE.gradebook_url)  # SQLite left by a run that could not find `alembic`

# The exchange students fetch from and submit to: $PEFTLAB_EXCHANGE, else nbgrader's default
# /usr/local/share/nbgrader/exchange; made here (mode 1777) when missing and this user can.
c.Exchange.root = configured_exchange()

# Kernels: 30 s per cell, interrupted then restarted if stuck. `nbgrader validate` (and the
# Validate button) runs the notebook's own kernel; autograding (GuardedExecute) always runs the
# sandboxed grading kernel (peftlab.grading.sandbox), which no launcher lists.
c.Execute.timeout = CELL_TIMEOUT_S
c.Execute.startup_timeout = KERNEL_STARTUP_S
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
    RestoreGradedCells,
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteCells,
    CheckCellMetadata,
]
c.Autograde.autograde_preprocessors = [
    GuardedExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]

# After each student: record what was graded, so an interrupted batch resumes where it stopped.
c.Autograde.post_convert_hook = mark_graded

# Feedback: no hidden test source, no tracebacks that quote it.
c.GenerateFeedback.preprocessors = [
    GetGrades,
    CSSHTMLHeaderPreprocessor,
    HideHiddenTests,
]

# Earlier versions installed the sandbox kernelspec where JupyterLab's launcher offered it.
remove_public_kernelspec()
