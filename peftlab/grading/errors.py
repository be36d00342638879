"""The error a ``peftlab course`` command stops with."""

from __future__ import annotations

from peftlab.errors import PeftlabError


class CourseError(PeftlabError):
    """A course command that cannot go on (missing release, bad submissions folder...)."""
