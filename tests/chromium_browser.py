"""Helpers of the chromium tests: a JupyterLab on loopback, Debian's headless Chromium driving it,
and a screenshot of every step.

* :func:`start_server` runs ``peftlab lab`` / ``peftlab instructor`` (or a plain ``jupyter lab``)
  as a subprocess on a free port of 127.0.0.1 and waits until it answers; :meth:`Server.stop`
  shuts its kernels down, stops it, and kills whatever it started that is still alive.
* :func:`chromium` starts ``/usr/bin/chromium`` through ``/usr/bin/chromedriver`` (selenium), with
  a fresh profile; no browser is ever downloaded. Without them the tests skip, in one line.
* :class:`Page` is what a test does in the browser: open a URL, wait for what a person would see,
  save a screenshot per step into the artifacts folder (``$PEFTLAB_ARTIFACTS``, else
  ``runs/test-artifacts/chromium/`` in the checkout). When the expected thing does not appear, the
  test fails with the screenshot and the server log named in its message.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from peftlab.lab import HOST, free_port
from peftlab.paths import CHECKOUT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS_VARIABLE = "PEFTLAB_ARTIFACTS"
DEFAULT_ARTIFACTS = CHECKOUT / "runs" / "test-artifacts" / "chromium"
# Seconds a JupyterLab may take to answer after it is started (two cores shared with other jobs).
SERVER_START_S = 90
WINDOW = "1400,1000"


def artifacts_dir() -> Path:
    """Where screenshots go: ``$PEFTLAB_ARTIFACTS``, else ``runs/test-artifacts/chromium``."""
    folder = Path(os.environ.get(ARTIFACTS_VARIABLE) or DEFAULT_ARTIFACTS)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def require_chromium() -> None:
    """Skip, in one line, where Debian's Chromium or its driver is not installed."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (Debian: apt-get install chromium "
                    f"chromium-driver)")


@dataclass
class Server:
    """A JupyterLab started by a test: its process, URL, token and log."""

    process: subprocess.Popen
    base: str
    token: str
    log: Path
    children: set = field(default_factory=set)

    def url(self, path: str, query: str = "") -> str:
        """``base + path`` with the token (and ``query``) appended."""
        sep = "&" if query else ""
        return f"{self.base}{path}?{query}{sep}token={self.token}"

    def api(self, path: str, method: str = "GET"):
        """The JSON answer of the server's REST API at ``path`` (None when empty)."""
        request = urllib.request.Request(self.url(path), method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, chars: int = 1500) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def _remember_children(self) -> None:
        try:
            self.children |= set(psutil.Process(self.process.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            pass

    def shutdown_kernels(self) -> None:
        """Shut down every kernel the server runs, as the lab's "Shut Down All Kernels" does."""
        self._remember_children()
        for kernel in self.api("/api/kernels") or []:
            self.api(f"/api/kernels/{kernel['id']}", method="DELETE")

    def stop(self) -> list[str]:
        """Stop the server and everything it started.

        Returns:
            The processes that outlived a clean stop and had to be killed (empty when none).
        """
        if self.process.poll() is None:
            try:
                self.shutdown_kernels()
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            self._remember_children()
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=10)
        _, alive = psutil.wait_procs(list(self.children), timeout=10)
        leftovers = []
        for proc in alive:
            try:
                leftovers.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        return leftovers


def start_server(argv: list[str], env: dict, cwd: Path, log: Path) -> Server:
    """Start a JupyterLab (``argv`` gets ``--port`` on a free port) and wait until it answers.

    Args:
        argv: the command without ``--port``; it must serve on 127.0.0.1 and take ``--port P``.
        env: its environment; ``JUPYTER_TOKEN`` is set here when missing.
        cwd: where it runs.
        log: the file its stdout and stderr go to.
    """
    token = env.get("JUPYTER_TOKEN") or "chromium-test"
    env = dict(env, JUPYTER_TOKEN=token)
    port = free_port(8900)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        process = subprocess.Popen([*argv, "--port", str(port)], env=env, cwd=cwd, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(process, f"http://{HOST}:{port}", token, log)
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {process.returncode}; log {log}:\n"
                        f"{server.log_tail()}")
        try:
            server.api("/api/status")
            return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    server.stop()
    pytest.fail(f"JupyterLab did not answer within {SERVER_START_S} s; log {log}:\n"
                f"{server.log_tail()}")


@contextmanager
def serving(argv: list[str], env: dict, cwd: Path, log: Path):
    """:func:`start_server` for a ``with`` block (a module fixture's body); after it, the server
    is stopped and must leave no process of its own behind."""
    lab = start_server(argv, env, cwd, log)
    try:
        yield lab
    finally:
        leftovers = lab.stop()
    assert not leftovers, f"processes left after JupyterLab ({argv[1]}) stopped: {leftovers}"


@contextmanager
def browsing():
    """A :func:`chromium` browser for a ``with`` block; closed, its profile removed, after it."""
    driver, profile = chromium()
    try:
        yield driver
    finally:
        quit_chromium(driver, profile)


def chromium():
    """Debian's headless Chromium through chromedriver, with a fresh profile; (driver, profile)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    require_chromium()
    profile = tempfile.mkdtemp(prefix="peftlab-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", "--disable-sync",
                "--disable-component-update", f"--user-data-dir={profile}",
                f"--window-size={WINDOW}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    return driver, profile


def quit_chromium(driver, profile: str) -> None:
    """Close the browser and its driver, and remove the profile."""
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")


class Page:
    """The browser as a test uses it: one driver, one server, one prefix for screenshots."""

    def __init__(self, driver, server: Server, prefix: str):
        self.driver = driver
        self.server = server
        self.prefix = prefix
        self.shots: list[Path] = []

    def shot(self, step: str) -> Path:
        """Save a screenshot named ``<prefix>-<step>.png`` in the artifacts folder."""
        path = artifacts_dir() / f"{_safe(self.prefix)}-{_safe(step)}.png"
        self.driver.save_screenshot(str(path))
        self.shots.append(path)
        return path

    def fail(self, what: str) -> None:
        """Fail the test naming ``what``, with a screenshot of the page and the server log."""
        path = self.shot(f"FAILED-{what[:40]}")
        pytest.fail(f"{what}; screenshot {path}; server log {self.server.log}\n"
                    f"{self.server.log_tail(800)}")

    def wait(self, condition, what: str, timeout: float = 60):
        """Wait until ``condition(driver)`` is truthy and return it; fail naming ``what`` if not."""
        from selenium.common.exceptions import WebDriverException

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                found = condition(self.driver)
            except WebDriverException:
                found = None
            if found:
                return found
            time.sleep(0.25)
        self.fail(f"{what} not seen within {timeout:.0f} s")

    def visible(self, css: str, root=None) -> list:
        """The displayed elements matching ``css`` (under ``root``, else the whole page)."""
        from selenium.webdriver.common.by import By

        found = (root or self.driver).find_elements(By.CSS_SELECTOR, css)
        return [e for e in found if e.is_displayed()]

    def wait_visible(self, css: str, what: str, timeout: float = 60, root=None):
        """The first displayed element matching ``css``, waited for."""
        return self.wait(lambda d: (self.visible(css, root) or [None])[0], what, timeout)

    def open(self, path: str, query: str = "") -> None:
        """Go to ``path`` of the server (the token is added)."""
        self.driver.get(self.server.url(path, query))

    def click_text(self, css: str, text: str, what: str, timeout: float = 30) -> None:
        """Click the displayed element matching ``css`` whose text is ``text``."""
        element = self.wait(lambda d: next((e for e in self.visible(css)
                                            if e.text.strip() == text), None), what, timeout)
        element.click()


# --- JupyterLab, as a person uses it -------------------------------------------------------------

NOTEBOOK_CELLS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell"
STATUS_BAR = "#jp-main-statusbar"
VALIDATE_BUTTON = "jp-button.validate-button"
DIALOG = ".jp-Dialog"


def open_notebook(page: Page, path: str, timeout: float = 90) -> list:
    """Open ``path`` in a fresh lab workspace and wait for its cells and an idle kernel.

    Returns:
        The notebook's cell elements, in order.
    """
    page.open(f"/lab/tree/{path}", "reset")
    page.wait(lambda d: page.visible(NOTEBOOK_CELLS), f"the cells of {path}", timeout)
    page.wait(lambda d: "Idle" in d.find_element("css selector", STATUS_BAR).text,
              f"an idle kernel for {path} in the status bar", timeout)
    return page.visible(NOTEBOOK_CELLS)


def menu(page: Page, top: str, item: str) -> None:
    """Click the lab's menu ``top`` (the menu bar), then its entry ``item``."""
    page.click_text(".lm-MenuBar-item", top, f"the menu {top!r}")
    page.click_text(".lm-Menu-item .lm-Menu-itemLabel", item, f"{item!r} in the menu {top!r}")


def close_dialog(page: Page) -> None:
    """Press the accept button of the open lab dialog and wait until it is gone."""
    page.wait_visible(f"{DIALOG} .jp-Dialog-footer button.jp-mod-accept", "the dialog's Ok").click()
    page.wait(lambda d: not page.visible(DIALOG), "the dialog closing", 10)


def strip_markers(source: str) -> str:
    """A solution cell's source without nbgrader's ``### BEGIN/END SOLUTION`` lines."""
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def answer(student: dict, source: dict, grade_ids=None) -> dict:
    """A student's notebook with solution cells filled in as the instructor's source solves them.

    Args:
        student: the notebook as the student has it (nbformat JSON as a dict); changed in place.
        source: the instructor's notebook with the same ``grade_id`` s.
        grade_ids: the solution cells to answer; None: all of them.

    Returns:
        ``student``.
    """
    solutions = {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"])
                 for c in source["cells"] if c["metadata"].get("nbgrader", {}).get("solution")}
    for cell in student["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in solutions and (grade_ids is None or grade_id in grade_ids):
            cell["source"] = strip_markers(solutions[grade_id])
    return student
