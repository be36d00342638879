"""peftlab's grading wing; as a module, the light helpers that the notebooks' test cells import.

``import peftlab.grading`` imports nothing heavy (no nbgrader, transformers or peft), so a grading
kernel starts fast:

* :func:`quiet` silences warnings, library logging and progress bars: nbgrader gives 0 points to
  a test cell that writes anything to stderr.
* :func:`check_choice`, :func:`check_choices`, :func:`check_number` are the visible format checks;
  :func:`plain` and :func:`close` are for hidden checks (see :mod:`peftlab.grading.checks`).
* :mod:`~peftlab.grading.references`: peftlab's versions of earlier answers, which the test cells
  of an exercise that builds on them use, so each exercise is graded on its own.

The grader itself lives in the sub-modules, which only the grader imports:

* :mod:`~peftlab.grading.names`: every name and path the wing shares, defined once;
* :mod:`~peftlab.grading.preprocessors`: the nbgrader plug-ins, one per module, with
  :mod:`~peftlab.grading.canary`, :mod:`~peftlab.grading.cells` and
  :mod:`~peftlab.grading.kernel_manager`;
* :mod:`~peftlab.grading.sandbox`: the launcher of the sandboxed grading kernel;
* :mod:`~peftlab.grading.gradebook`: the gradebook's URL and the repair of one left half-built;
* :mod:`~peftlab.grading.exchange`: the nbgrader exchange students fetch from and submit to;
* :mod:`~peftlab.grading.fanout`: grading students in parallel on Dask distributed;
* :mod:`~peftlab.grading.cli` and :mod:`~peftlab.grading.commands`: ``peftlab course``, one verb
  per module, on top of :mod:`~peftlab.grading.intake`, :mod:`~peftlab.grading.rejection`,
  :mod:`~peftlab.grading.hook`, :mod:`~peftlab.grading.driver` and
  :mod:`~peftlab.grading.reports`.
"""

from peftlab.console import quiet
from peftlab.grading.checks import check_choice, check_choices, check_number, close, plain

__all__ = ["check_choice", "check_choices", "check_number", "close", "plain", "quiet"]
