"""Where students and instructors work: JupyterLab for each, on loopback.

* ``peftlab lab`` (``make lab``) is the student's place: JupyterLab serving a working folder
  (``student/`` in the checkout, or ``--workdir``) whose ``lab2/`` is a copy of the release
  ``labs/lab2`` made on first use and never overwritten afterwards: no instructor command writes
  there. It shows the student tools of nbgrader only (Assignment List, Validate); kernels get the
  chosen profile as ``PEFTLAB_PROFILE``.
* ``peftlab instructor`` (``make instructor``) serves the course root (``solutions/``, ``labs/``,
  ``course/``) with Formgrader, configured by the root's ``nbgrader_config.py``.

Both bind to 127.0.0.1, print the URL with its token and then become the JupyterLab process
(Ctrl-C stops it as usual).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from peftlab.errors import PeftlabError
from peftlab.paths import ASSIGNMENT, CHECKOUT, PACKAGE_DIR, RELEASE_FOLDER, path_with_interpreter

HOST = "127.0.0.1"
DEFAULT_PORT = 8888
# The student's working folder when --workdir is not given: $PEFTLAB_WORKDIR, else student/.
WORKDIR_VARIABLE = "PEFTLAB_WORKDIR"
DEFAULT_WORKDIR = CHECKOUT / "student"
# Jupyter settings of the student's JupyterLab: nbgrader's instructor tools off (server and
# page), and the student-side nbgrader_config.py (course id, exchange, validate timeouts).
STUDENT_CONFIG = PACKAGE_DIR / "resources" / "student"


@dataclass
class Launch:
    """A JupyterLab to start: its command, environment, folder and URL."""

    argv: list[str]
    env: dict
    cwd: Path
    url: str
    notes: list[str] = field(default_factory=list)


def free_port(start: int = DEFAULT_PORT, tries: int = 50) -> int:
    """The first port from ``start`` that nothing listens on at 127.0.0.1."""
    for port in range(start, start + tries):
        with socket.socket() as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return port
    raise PeftlabError(f"no free port in {start}-{start + tries - 1} on {HOST}: pass --port N")


def student_workdir(workdir: str | os.PathLike | None = None) -> Path:
    """The student's working folder: ``workdir``, else ``$PEFTLAB_WORKDIR``, else ``student/``."""
    chosen = workdir or os.environ.get(WORKDIR_VARIABLE) or DEFAULT_WORKDIR
    return Path(chosen).expanduser().resolve()


def released_in_exchange() -> Path | None:
    """The exchange's release of lab2 (``<exchange>/peftlab/outbound/lab2``), if the course has one."""
    from peftlab.grading.exchange import exchange_root
    from peftlab.grading.names import COURSE_ID

    outbound = exchange_root() / COURSE_ID / "outbound" / ASSIGNMENT
    return outbound if outbound.is_dir() else None


def working_copy(workdir: Path, release: Path | None = None,
                 exchange: Path | None = None) -> tuple[Path, str]:
    """Make ``workdir/lab2`` a copy of the release the first time; never touch it afterwards.

    Where the instructor released lab2 through an nbgrader exchange (``exchange``), no copy is
    made: the student fetches it in the Assignment List, which puts it in the same place.

    Returns:
        The working copy and one line saying what was done.
    """
    release = release or CHECKOUT / RELEASE_FOLDER / ASSIGNMENT
    copy = workdir / ASSIGNMENT
    if copy.exists():
        return copy, f"your working copy: {copy} (kept as you left it)"
    if exchange is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        return copy, (f"lab2 is released in the exchange {exchange.parents[2]}: fetch it in "
                      f"Nbgrader > Assignment List (it lands in {copy})")
    if not release.is_dir():
        raise PeftlabError(f"no release at {release}: the instructor generates it with "
                           f"'peftlab course generate'")
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(release, copy, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "runs"))
    return copy, f"your working copy: {copy} (copied from {release}; yours from now on)"


def _jupyter(root: Path, port: int, token: str, open_browser: bool) -> list[str]:
    argv = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={root}",
            f"--ServerApp.ip={HOST}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}"]
    if not open_browser:
        argv.append("--no-browser")
    if os.geteuid() == 0:
        argv.append("--allow-root")  # a container or lab server started as root
    return argv


def _base_env(token: str) -> dict:
    return dict(os.environ, PATH=path_with_interpreter(), JUPYTER_TOKEN=token)


def student_launch(workdir=None, profile: str | None = None, port: int | None = None,
                   open_browser: bool = True) -> Launch:
    """The student's JupyterLab: the working folder with its ``lab2/`` copy, student tools only."""
    from peftlab.profiles import DEFAULT_PROFILE, PROFILE_VARIABLE, PROFILES

    chosen = profile or os.environ.get(PROFILE_VARIABLE) or DEFAULT_PROFILE
    if chosen not in PROFILES:
        raise PeftlabError(f"unknown profile '{chosen}': choose one of "
                           f"{', '.join(p for p in PROFILES if p != 'grade')}")
    root = student_workdir(workdir)
    copy, note = working_copy(root, exchange=released_in_exchange())
    token = os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(16)
    port = port or free_port()
    env = _base_env(token)
    others = env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(STUDENT_CONFIG), *filter(None, others)])
    if profile:
        env[PROFILE_VARIABLE] = profile
    if PROFILES[chosen].data == "dialogsum-mini":  # offline profiles never ask the Hub
        env.setdefault("HF_HUB_OFFLINE", "1")
    url = f"http://{HOST}:{port}/lab/tree/{ASSIGNMENT}?token={token}"
    notes = [note, f"profile {chosen} for every notebook (make lab PROFILE=smoke|cpu|gpu)"]
    return Launch(_jupyter(root, port, token, open_browser), env, root, url, notes)


def instructor_launch(root=None, port: int | None = None, open_browser: bool = True) -> Launch:
    """The instructor's JupyterLab at the course root, with Formgrader."""
    from peftlab.grading.names import CONFIG_FILE, ROOT_VARIABLE, course_root

    root = Path(root).resolve() if root else course_root().resolve()
    if not (root / CONFIG_FILE).is_file():
        raise PeftlabError(f"{root} has no {CONFIG_FILE}: start it from the course root or set "
                           f"{ROOT_VARIABLE}")
    token = os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(16)
    port = port or free_port()
    env = _base_env(token)
    env.setdefault("HF_HUB_OFFLINE", "1")  # Formgrader and Validate grade in the offline profile
    url = f"http://{HOST}:{port}/lab?token={token}"
    notes = [f"course root: {root} (Formgrader: menu Nbgrader > Formgrader)"]
    return Launch(_jupyter(root, port, token, open_browser), env, root, url, notes)


def start(launch: Launch) -> None:
    """Print where to go, then replace this process with JupyterLab."""
    for note in launch.notes:
        print(note, flush=True)
    print(f"JupyterLab: {launch.url}", flush=True)
    os.chdir(launch.cwd)
    os.execve(launch.argv[0], launch.argv, launch.env)
