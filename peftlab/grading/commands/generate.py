"""``peftlab course generate``: solutions/lab2 -> labs/lab2, and the assignment in the gradebook."""

from __future__ import annotations

import argparse

from peftlab.grading.driver import generate_release

HELP = "generate labs/lab2 from solutions/lab2"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``generate`` takes no options."""


def run(args: argparse.Namespace) -> int:
    generate_release()
    return 0
