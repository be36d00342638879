"""The one exception type a user can cause, and how the CLI shows it.

Every error that comes from user input (an unknown model, a bad data folder, a wrong profile, a
corrupted submission) is a :class:`PeftlabError` whose message is one line naming the thing and
the fix. The CLI prints it without a traceback and exits with status 2.
"""

from __future__ import annotations


class PeftlabError(Exception):
    """A problem the user can fix; ``str(err)`` is a single line saying what and how."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))


class DataError(PeftlabError):
    """Bad or missing dataset input."""


class ModelError(PeftlabError):
    """A model name that cannot be loaded here."""
