"""nbgrader settings for a student of peftlab: the course, the exchange, and Validate's limits.

``peftlab lab`` puts this folder on its JupyterLab's ``JUPYTER_CONFIG_PATH``. On a shared server an
admin copies this file to a folder every user's Jupyter reads (``/etc/jupyter/``, or
``/usr/local/etc/jupyter/``); the Python that runs Jupyter needs peftlab installed, as the
notebooks' kernels do. Then the Assignment List (and ``nbgrader fetch_assignment lab2``,
``submit lab2``, ``fetch_feedback lab2``) works from a student's own folder and gives ``./lab2``.

It holds nothing of the instructor's: no course root, gradebook, source or grading plug-ins. The
instructor's ``nbgrader_config.py`` at the course root, loaded after this one, sets the same
course id, exchange and limits.
"""

from peftlab.grading.exchange import configured_exchange
from peftlab.grading.names import CELL_TIMEOUT_S, COURSE_ID, IGNORED_FILES, KERNEL_STARTUP_S

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

c.CourseDirectory.course_id = COURSE_ID
# $PEFTLAB_EXCHANGE, else nbgrader's default folder (made, mode 1777, when missing and allowed).
c.Exchange.root = configured_exchange()
c.Exchange.path_includes_course = False  # fetch gives ./lab2, not ./peftlab/lab2
c.CourseDirectory.ignore = list(IGNORED_FILES)  # submit leaves the notebooks' runs/ at home

# Validate runs each notebook in a kernel of its own under the grading limits.
c.Execute.timeout = CELL_TIMEOUT_S
c.Execute.startup_timeout = KERNEL_STARTUP_S
c.Execute.interrupt_on_timeout = True
