"""``peftlab course``: release, collect, autograde and report lab 2 with nbgrader.

Every setting that affects grades lives in ``nbgrader_config.py`` at the course root; these
commands add what nbgrader leaves to the instructor::

    peftlab course generate                   # solutions/lab2 -> labs/lab2 (+ gradebook entries)
    peftlab course autograde [--submissions DIR] [--student S] [--timeout SECONDS] [--force]
                             [--workers N | --scheduler ADDRESS]   # in parallel on Dask
    peftlab course feedback                   # course/feedback/<student>/lab2/*.html
    peftlab course export --csv FILE          # one row per student, one column per exercise
    peftlab course status                     # who submitted, who is graded, with what score

The course root is ``$PEFTLAB_COURSE_ROOT``, else this checkout; the gradebook
``$PEFTLAB_GRADEBOOK_URL``, else SQLite under ``course/``. A mistake the user can fix ends in one
line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from peftlab.errors import PeftlabError
from peftlab.grading.commands import autograde, export, feedback, generate, status
from peftlab.grading.errors import CourseError
from peftlab.grading.names import CONFIG_FILE, ROOT_VARIABLE, layout

VERBS = {
    "generate": generate,
    "autograde": autograde,
    "feedback": feedback,
    "export": export,
    "status": status,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="peftlab course", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, verb in VERBS.items():
        verb.add_arguments(sub.add_parser(name, help=verb.HELP))
    return parser


def _check_root() -> None:
    course = layout()
    if not course.config.is_file():
        raise CourseError(
            f"{course.root} has no {CONFIG_FILE}; run from a peftlab checkout or set {ROOT_VARIABLE}"
        )


def main(argv: list[str]) -> int:
    """Run ``peftlab course ARGV``; the exit status."""
    args = _parser().parse_args(argv)
    try:
        _check_root()
        return VERBS[args.command].run(args)
    except PeftlabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to grade the rest", file=sys.stderr)
        return 130
