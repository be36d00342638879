"""The nbgrader plug-ins that make autograding survive hostile notebooks, one per module.

They are wired in ``nbgrader_config.py``: :class:`RestoreGradedCells` sanitises a submission,
:class:`GuardedExecute` runs it in place of nbgrader's ``Execute``, :class:`HideHiddenTests`
cleans the feedback. They import nbgrader and nbclient, so only the grader imports them, never a
notebook.
"""

from peftlab.grading.preprocessors.guarded_execute import GuardedExecute
from peftlab.grading.preprocessors.hide_hidden_tests import HideHiddenTests
from peftlab.grading.preprocessors.restore_graded_cells import RestoreGradedCells

__all__ = ["GuardedExecute", "HideHiddenTests", "RestoreGradedCells"]
