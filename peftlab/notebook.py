"""The set-up every course notebook runs first, right after its ``parameters`` cell.

``P, OUT, FIG = setup(profile, model_name=..., ...)`` resolves the run's :class:`Profile` from the
notebook's parameters (papermill and ``peftlab run`` set them), creates the output folders and
prints one line naming the profile. It hides the deprecation notes libraries raise at each other
(:data:`peftlab.console.LIBRARY_NOTES`); under nbgrader it first silences every warning and
progress bar: a graded test cell that writes to stderr loses its points.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import NamedTuple

from peftlab.console import hide_library_notes, quiet
from peftlab.errors import PeftlabError
from peftlab.profiles import Profile, get_profile


class Setup(NamedTuple):
    """What a notebook works with: the profile, the run folder and its figure folder."""

    profile: Profile
    out: Path | None
    figures: Path | None


def setup(profile: str | None = None, *, model_name: str | None = None,
          data_source: str | None = None, max_steps: int | None = None,
          batch_size: int | None = None, seed: int | None = None,
          out_dir: str | os.PathLike | None = None, dry_run: bool = False) -> Setup:
    """Resolve a notebook's parameters into its profile and folders, and print the profile.

    Args:
        profile: ``smoke``, ``cpu`` or ``gpu`` (``grade`` under nbgrader, whatever is asked).
        model_name / data_source / max_steps / batch_size / seed: override the profile's model,
            data, training steps, batch size and seed; None keeps the profile's.
        out_dir: the run folder for results and figures (created with ``figures/``); None for a
            notebook that saves nothing (the quiz). Under nbgrader a fresh scratch folder is
            used instead, so validating never touches the student's own results.
        dry_run: run the profile's code path at the smallest size (``peftlab run --dry-run``).

    Returns:
        ``Setup(profile, out, figures)``, to unpack as ``P, OUT, FIG``.
    """
    hide_library_notes()  # the cells' own calls into peft, too, print no library's deprecation
    grading = os.environ.get("NBGRADER_EXECUTION")
    if grading:
        quiet()
    chosen = get_profile(profile, max_steps=max_steps, model=model_name, data=data_source,
                         batch_size=batch_size, seed=seed, dry_run=dry_run)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None and grading:
        # The grade profile's throw-away results go to a scratch folder: Validate runs the
        # student's own notebook, and would otherwise overwrite their real run in out_dir.
        out = Path(tempfile.mkdtemp(prefix="peftlab-grading-"))
    figures = out / "figures" if out is not None else None
    if figures is not None:
        figures.mkdir(parents=True, exist_ok=True)
    print(f"profile {chosen.name}: model {chosen.model}, data {chosen.data} — {chosen.notes}"
          f"{_expected_time(chosen)}")
    return Setup(chosen, out, figures)


def _expected_time(chosen: Profile) -> str:
    """``"; this notebook takes ~9 min on 2 CPU cores"`` when the record knows this notebook in
    this profile as it stands (no overrides, no dry run), else ``""``. The notebook is the one
    Jupyter (or ``peftlab run``) names in ``$JPY_SESSION_NAME``."""
    from peftlab import timings
    from peftlab.profiles import PROFILES

    session = os.environ.get("JPY_SESSION_NAME")
    if not session or PROFILES.get(chosen.name) != chosen:
        return ""
    try:
        took = timings.expected(Path(session).stem, chosen.name)
    except (OSError, PeftlabError):  # a damaged record must not stop the notebook
        return ""
    return f"; this notebook takes {took} (measured by peftlab run)" if took else ""
