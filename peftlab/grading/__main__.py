"""``python -m peftlab.grading ARGS`` is ``peftlab course ARGS``."""

import sys

from peftlab.grading.cli import main

sys.exit(main(sys.argv[1:]))
