"""The ``peftlab course`` verbs, one per module.

Each module has ``HELP`` (its line in ``peftlab course --help``), ``add_arguments(parser)`` and
``run(args) -> int`` (the exit status); :mod:`peftlab.grading.cli` lists them.
"""
