"""One pre-imported process per student that forks a fresh grading kernel for each notebook.

A grading kernel used to start from nothing for every notebook: a new Python importing torch,
transformers, peft and evaluate (~5 s here) before the first cell ran, four times a student. With
the sandbox on (:mod:`peftlab.grading.sandbox`) the kernels of one student now come from a
*zygote*: a process that imports those libraries once, inside the student's sandbox, and forks a
child for every kernel the autograder starts. Each child drops to user ``nobody`` before it runs
anything of the student's, gets its own copy of the notebook folder and its own ``$HOME``, and
is an ordinary ``ipykernel`` from then on. Nothing a student's code does reaches the zygote (its
memory is copied on write) and the next notebook starts from the same clean, pre-imported state.

How the pieces meet::

    grader (nbgrader, SandboxKernelManager)
      └─ python -m peftlab.grading.sandbox CONNECTION_FILE        the launcher, one per kernel
           ├─ (first kernel of the student) python -m peftlab.grading.zygote keep STUDENT_DIR PID
           │    └─ bwrap ... python -m peftlab.grading.zygote serve STUDENT_DIR   (root, few caps)
           │         └─ fork: setuid nobody, ipykernel -f CONNECTION_FILE
           └─ asks the zygote for a kernel over STUDENT_DIR/zygote/socket, waits for its exit

* The kernel manager puts each kernel's private folder inside one folder per student and grader
  (``STUDENT_DIR``); the zygote's sandbox mounts that folder, so kernels started after it are
  reachable too, and nothing of other students is.
* The launcher stays the kernel manager's process: it exits with the kernel's exit status, and
  when the grader kills it (a hanging cell) the zygote sees its connection close and kills the
  kernel and everything the kernel started.
* The keeper takes the zygote down when the grader is gone; the zygote ends itself when no
  kernel has asked for it for :data:`IDLE_S` seconds (the student is done).

The zygote stays root inside the sandbox, keeping only the capabilities it needs to hand a child
to ``nobody`` (``CAP_SETUID``, ``CAP_SETGID``, ``CAP_CHOWN``) and to stop it (``CAP_KILL``); its
socket is in a folder only root may enter. Without the full sandbox (not root, no bubblewrap), for
a folder with a single notebook, or with ``PEFTLAB_ZYGOTE=off`` every kernel is a fresh process as
before (:func:`wanted`).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time

_MODULE = __spec__.name
SWITCH = "PEFTLAB_ZYGOTE"
IDLE_S = 20.0  # seconds without a kernel before the zygote ends ($PEFTLAB_ZYGOTE_IDLE_S)
READY_TIMEOUT_S = 180.0
NOBODY = 65534
# What every lab notebook's kernel imports: paid once per student instead of once per notebook.
PRELOAD = (
    "numpy",
    "pandas",
    "torch",
    "transformers",
    "peft",
    "evaluate",
    "rouge_score.rouge_scorer",
    "matplotlib",
    "tqdm.auto",
    "IPython",
    "ipykernel.kernelapp",
    "peftlab.data",
    "peftlab.models",
    "peftlab.methods",
    "peftlab.training",
    "peftlab.evaluation",
    "peftlab.generation",
    "peftlab.interpret",
    "peftlab.memory",
    "peftlab.results",
    "peftlab.plots",
)
# Lazily imported classes the notebooks reach (a module attribute import each).
PRELOAD_ATTRIBUTES = (
    ("transformers", "Trainer"),
    ("transformers", "AutoTokenizer"),
    ("transformers", "T5ForConditionalGeneration"),
    ("transformers", "LlamaForCausalLM"),
)
CAPABILITIES = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL")
_PR_SET_NO_NEW_PRIVS = 38


def wanted(cwd: str) -> bool:
    """Whether the kernels run in ``cwd`` should come from a zygote.

    ``PEFTLAB_ZYGOTE``: ``off`` never, ``on`` always, ``auto`` (the default) when ``cwd`` holds two
    or more notebooks: a single notebook (a quiz-only assignment) gains nothing from paying the
    zygote's imports first.
    """
    mode = os.environ.get(SWITCH, "auto").lower()
    if mode in ("off", "0", "no", "false"):
        return False
    if mode in ("on", "1", "yes", "true", "always"):
        return True
    try:
        notebooks = [name for name in os.listdir(cwd) if name.endswith(".ipynb")]
    except OSError:
        return False
    return len(notebooks) >= 2


def socket_dir(student_dir: str) -> str:
    """The root-only folder holding the zygote's socket and lock."""
    return os.path.join(student_dir, "zygote")


def socket_path(student_dir: str) -> str:
    return os.path.join(socket_dir(student_dir), "socket")


# --- the launcher's side -------------------------------------------------------------------------

def serve_argv(student_dir: str) -> list[str]:
    """The zygote's own command line (which the sandbox's command line wraps)."""
    return [sys.executable, "-m", _MODULE, "serve", student_dir]


def run_kernel(student_dir: str, connection_file: str, workdir: str, extra: list[str],
               grader_pid: int, sandboxed_zygote: list[str]) -> int:
    """Have the student's zygote fork a kernel; wait for it to end; return its exit status.

    When this is the student's first kernel, starts the zygote first: a keeper runs
    ``sandboxed_zygote`` (the sandbox's command line around :func:`serve_argv`).
    """
    sock = _connect_or_start(student_dir, grader_pid, sandboxed_zygote)
    request = {"connection_file": connection_file, "workdir": workdir, "argv": extra}
    sock.sendall(json.dumps(request).encode() + b"\n")
    reader = sock.makefile("r")
    for line in reader:
        reply = json.loads(line)
        if "exit" in reply:
            return int(reply["exit"])
        if "error" in reply:
            print(f"peftlab zygote: {reply['error']}", file=sys.stderr)
            return 1
    print("peftlab zygote: the zygote went away before the kernel ended", file=sys.stderr)
    return 1


def _connect(student_dir: str) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(socket_path(student_dir))
        return sock
    except OSError:
        sock.close()
        return None


def _connect_or_start(student_dir: str, grader_pid: int, command: list[str]) -> socket.socket:
    os.makedirs(socket_dir(student_dir), mode=0o700, exist_ok=True)
    with open(os.path.join(socket_dir(student_dir), "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sock = _connect(student_dir)
        if sock is not None:
            return sock
        try:
            os.unlink(socket_path(student_dir))
        except FileNotFoundError:
            pass
        devnull = subprocess.DEVNULL
        keeper = subprocess.Popen(
            [sys.executable, "-m", _MODULE, "keep", student_dir, str(grader_pid), *command],
            stdin=devnull, stdout=devnull, start_new_session=True,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            sock = _connect(student_dir)
            if sock is not None:
                return sock
            if keeper.poll() is not None:
                raise RuntimeError(f"the grading zygote for {student_dir} did not start "
                                   f"(exit {keeper.returncode}); set {SWITCH}=off to grade "
                                   "without it")
            time.sleep(0.05)
        keeper.kill()
        raise RuntimeError(f"the grading zygote for {student_dir} was not ready in "
                           f"{READY_TIMEOUT_S:.0f} s; set {SWITCH}=off to grade without it")


# --- the keeper: outside the sandbox, tied to the grader -----------------------------------------

def keep(student_dir: str, grader_pid: int, command: list[str]) -> int:
    """Run the zygote's sandbox (``command``); stop it when the grader is gone; clean up."""
    sandboxed = subprocess.Popen(command)
    try:
        while sandboxed.poll() is None:
            if not _alive(grader_pid):
                sandboxed.kill()
                break
            time.sleep(0.5)
        return sandboxed.wait()
    finally:
        import shutil

        shutil.rmtree(socket_dir(student_dir), ignore_errors=True)
        try:
            os.rmdir(student_dir)  # only once every kernel folder in it is gone
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


# --- the zygote: inside the sandbox --------------------------------------------------------------

def preload() -> None:
    """Import what every notebook imports (:data:`PRELOAD`), before any kernel is forked."""
    import importlib
    import warnings

    # The inline backend, as ipykernel would choose it, before matplotlib reads its settings.
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except ImportError:  # an optional part missing: its kernels import it themselves
                continue
        for module, attribute in PRELOAD_ATTRIBUTES:
            try:
                getattr(importlib.import_module(module), attribute)
            except (ImportError, AttributeError):
                continue


def serve(student_dir: str) -> int:
    """Accept kernel requests on the student's socket until idle; fork one kernel per request."""
    import selectors

    # As ``python -m ipykernel_launcher`` does: the working folder is not on the path while the
    # libraries load (IPython puts it back for the student's code).
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.getcwd():
        del sys.path[0]
    preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path(student_dir))
    listener.listen(8)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    kernels: dict[socket.socket, int] = {}  # the launcher's connection -> the kernel's pid
    idle_since = time.monotonic()
    idle = float(os.environ.get("PEFTLAB_ZYGOTE_IDLE_S", IDLE_S))
    while kernels or time.monotonic() - idle_since < idle:
        for key, _ in selector.select(timeout=0.2):
            if key.fileobj is listener:
                conn, _ = listener.accept()
                pid = _start(conn, listener)
                if pid is None:
                    conn.close()
                    continue
                kernels[conn] = pid
                selector.register(conn, selectors.EVENT_READ)
            else:  # the launcher went away (killed by the grader): so does its kernel
                conn = key.fileobj
                if not conn.recv(1):
                    _kill(kernels[conn])
        for conn, pid in list(kernels.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                _reply(conn, {"exit": code if code >= 0 else 128 - code})
                selector.unregister(conn)
                conn.close()
                del kernels[conn]
                idle_since = time.monotonic()
    return 0


def _reply(conn: socket.socket, message: dict) -> None:
    try:
        conn.sendall(json.dumps(message).encode() + b"\n")
    except OSError:  # the launcher is gone already
        pass


def _kill(pid: int) -> None:
    for target in (-pid, pid):  # the kernel's process group (what it started), then itself
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass


def _start(conn: socket.socket, listener: socket.socket) -> int | None:
    line = conn.makefile("r").readline()
    try:
        request = json.loads(line)
        connection_file, workdir = request["connection_file"], request["workdir"]
        argv = [str(a) for a in request.get("argv", [])]
    except (ValueError, KeyError, TypeError):
        _reply(conn, {"error": "malformed kernel request"})
        return None
    pid = os.fork()
    if pid:
        _reply(conn, {"pid": pid})
        return pid
    code = 1
    try:
        listener.close()
        conn.close()
        _become_kernel(connection_file, workdir, argv)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # noqa: BLE001 - the kernel's own failure, reported as its exit status
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _become_kernel(connection_file: str, workdir: str, argv: list[str]) -> None:
    """In the forked child: a process group, a home, user nobody, then ``ipykernel``."""
    import ctypes

    os.setsid()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    home = f"/tmp/kernel-{os.getpid()}"
    os.mkdir(home, 0o700)
    os.chown(home, NOBODY, NOBODY)
    os.environ.update({"HOME": home, "MPLCONFIGDIR": home, "TMPDIR": home,
                       "HF_HOME": os.path.join(home, "hf-home")})
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)
    os.chdir(workdir)  # as nobody: the zygote has no right to read the student's folder
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    import tempfile

    tempfile.tempdir = None  # follow the new TMPDIR
    sys.argv = ["ipykernel_launcher", "-f", connection_file, *argv]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def main(argv: list[str]) -> int:
    if len(argv) > 3 and argv[0] == "keep":
        return keep(argv[1], int(argv[2]), argv[3:])
    if len(argv) == 2 and argv[0] == "serve":
        return serve(argv[1])
    print(f"usage: python -m {_MODULE} keep STUDENT_DIR GRADER_PID COMMAND... | "
          "serve STUDENT_DIR",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
