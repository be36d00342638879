"""``peftlab course feedback``: feedback HTML (no hidden tests) for every autograded student."""

from __future__ import annotations

import argparse

from peftlab.grading.driver import nbgrader_step
from peftlab.grading.names import ASSIGNMENT, layout

HELP = "generate feedback HTML without hidden tests"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``feedback`` takes no options."""


def run(args: argparse.Namespace) -> int:
    nbgrader_step("generate_feedback", "feedback")
    folder = layout().work("feedback")
    count = len(list(folder.glob(f"*/{ASSIGNMENT}/*.html")))
    print(f"wrote {count} feedback file(s) under {folder}")
    return 0
