"""The grading kernel's sandbox: a Jupyter kernel launcher that locks student code in.

The autograder runs every submitted notebook in the ``peftlab-sandbox`` kernel
(:data:`~peftlab.grading.names.KERNEL_NAME`), which only the autograder's kernel manager knows:
no kernel folder holds it, so no launcher offers it, and ``nbgrader validate`` (the students'
Validate button) runs the notebook's own kernel. Its kernelspec starts
``python -m peftlab.grading.sandbox {connection_file}``, which (as root, with bubblewrap) runs
``ipykernel`` like this::

    bwrap  new mount, network, PID, IPC and UTS namespaces; --die-with-parent
      setpriv --reuid=nobody --regid=nogroup --clear-groups --nnp
        python -m ipykernel_launcher -f CONNECTION_FILE ...

with rlimits set first: address space (``PEFTLAB_SANDBOX_MEM_GB``, default 6 GiB), file size
(1 GiB), open files, processes and no core dumps. When the student's folder holds two or more
notebooks, the kernel is instead forked from that student's pre-imported zygote, which runs in the
same sandbox and drops each kernel to ``nobody`` before any student code
(:mod:`peftlab.grading.zygote`).

What the student's code can see inside: the Python installation and the virtual environment
(read-only), the ``peftlab`` package directory (read-only), the model caches (``$PEFTLAB_CACHE``
or ``~/.cache/peftlab``, ``$HF_HOME`` or ``~/.cache/huggingface``; read-only), a handful of files
from ``/etc``, a private ``/tmp`` and a private, throw-away copy of the notebook's working
directory. The kernel talks to the grader over Unix sockets in a per-run directory.

What it prevents:
  * reading ``solutions/``, ``tests/`` (the answer variants), ``course/`` (the gradebook, other
    students' submissions, hidden tests in autograded notebooks) or anything else in the repo:
    those paths do not exist in the kernel's mount namespace;
  * writing to the gradebook or to any grade (nothing writable outside ``/tmp``, the working
    copy and the socket directory, and those are discarded);
  * network access (empty network namespace: only a down loopback);
  * seeing or signalling other processes (own PID namespace), keeping processes alive after
    the kernel dies (``--die-with-parent``), regaining privileges (``no_new_privs``, nobody);
  * memory bombs and disk filling (``RLIMIT_AS``, ``RLIMIT_FSIZE``), fork bombs
    (``RLIMIT_NPROC``).

What it cannot prevent (the grader's own checks, in :mod:`peftlab.grading.preprocessors`, cover
some):
  * the student's code owns its kernel process: it can patch IPython, builtins or the test
    helpers before the test cells run, or forge kernel messages. The autograder restores
    test cells from the gradebook, counts a failed execute reply as a failure whatever the
    output shows, and runs a random canary after each passing test cell to catch kernels that
    no longer report errors; a student who reads the grader's source can still target those
    checks. Answers graded only by in-kernel tests are as trustworthy as the kernel.
  * CPU time: a busy loop runs until the per-cell timeout, then the kernel is interrupted or
    killed and restarted.
  * reading what the kernel may legitimately read: the released course material, the
    ``peftlab`` package, public model files.
  * anything at all when no sandbox can be had (not root, or no ``bwrap``): the kernel then
    runs as the grader's user with only the rlimits, and ``peftlab course autograde`` says
    so in one line. Grading still works.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys

from peftlab.grading import zygote
from peftlab.grading.names import KERNEL_NAME, PRIVATE_DIR_PREFIX, STUDENT_DIR_PREFIX
from peftlab.paths import PACKAGE_DIR, hf_home, path_with_interpreter, peftlab_cache

# This module, as `python -m` names it (also when it runs as __main__).
_MODULE = __spec__.name
NOBODY = 65534
_GIB = 1024**3
_ETC_FILES = (
    "passwd",
    "group",
    "hosts",
    "nsswitch.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "ssl",
    "alternatives",
    "fonts",
    "matplotlibrc",
)
_PASSED_ENV = (
    "LANG",
    "LC_ALL",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TOKENIZERS_PARALLELISM",
    "PYTHONHASHSEED",
    "TZ",
)
_PASSED_ENV_PREFIXES = ("PEFTLAB_", "NBGRADER_", "HF_", "TRANSFORMERS_")


def unavailable_reason() -> str | None:
    """Why the full sandbox cannot run here, or ``None`` when it can."""
    if os.environ.get("PEFTLAB_SANDBOX", "") == "off":
        return "PEFTLAB_SANDBOX=off"
    if not sys.platform.startswith("linux"):
        return f"not on Linux ({sys.platform})"
    if os.geteuid() != 0:
        return "not running as root (needed to switch the kernel to user nobody)"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install -y bubblewrap)"
    if shutil.which("setpriv") is None:
        return "setpriv is not installed (util-linux)"
    return None


def status_line() -> str:
    """One line for the grader's log: is the sandbox on, and if not, why not."""
    reason = unavailable_reason()
    if reason is None:
        return (
            "sandbox: on (bubblewrap, user nobody, no network, memory cap "
            f"{memory_limit_bytes() // _GIB} GiB)"
        )
    return f"sandbox: OFF ({reason}); student code runs unconfined"


def memory_limit_bytes() -> int:
    """The kernel's address-space cap in bytes (``PEFTLAB_SANDBOX_MEM_GB``, default 6)."""
    return int(float(os.environ.get("PEFTLAB_SANDBOX_MEM_GB", "6")) * _GIB)


def kernelspec() -> dict:
    """The ``kernel.json`` of the sandboxed grading kernel."""
    return {
        "argv": [sys.executable, "-m", _MODULE, "{connection_file}"],
        "display_name": "Python 3 (peftlab grading sandbox)",
        "language": "python",
        # A signal to the launcher would not reach a kernel behind bwrap and setpriv.
        "interrupt_mode": "message",
        "env": {"HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"},
        "metadata": {"debugger": False},
    }


def remove_public_kernelspec() -> list[str]:
    """Remove the sandbox kernelspec that earlier versions installed where Jupyter lists kernels.

    The autograder's kernel manager knows the spec without any file
    (:class:`~peftlab.grading.kernel_manager.SandboxKernelManager`); a public copy only made
    JupyterLab's launcher offer a kernel that refuses to start outside the autograder.

    Returns:
        The folders removed.
    """
    from jupyter_core.paths import jupyter_path

    removed = []
    for kernels in jupyter_path("kernels"):
        folder = os.path.join(kernels, KERNEL_NAME)
        try:
            with open(os.path.join(folder, "kernel.json")) as f:
                ours = _MODULE in json.load(f).get("argv", [])
            if ours:
                shutil.rmtree(folder)
                removed.append(folder)
        except (OSError, ValueError):  # none there, not ours, or not ours to remove
            continue
    return removed


def _set_limits() -> None:
    import resource

    limits = {
        resource.RLIMIT_AS: memory_limit_bytes(),
        resource.RLIMIT_FSIZE: _GIB,
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_NOFILE: 4096,
        resource.RLIMIT_NPROC: 512,
    }
    for which, value in limits.items():
        _, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, hard))


def _ro_binds(paths: list[str]) -> list[str]:
    args, seen = [], set()
    for path in paths:
        real = os.path.realpath(path)
        if real in seen or not os.path.exists(real):
            continue
        seen.add(real)
        args += ["--ro-bind", real, real]
        if os.path.abspath(path) != real:
            args += ["--symlink", real, os.path.abspath(path)]
    return args


def _root_layout() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = "/" + name
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for name in _ETC_FILES:
        args += ["--ro-bind-try", "/etc/" + name, "/etc/" + name]
    args += ["--proc", "/proc", "--dev", "/dev"]
    # A fresh /dev has no GPU: on a CUDA runner the NVIDIA device nodes are passed through, so
    # grading kernels run on the GPU like the course does there.
    for node in sorted(glob.glob("/dev/nvidia*")):
        args += ["--dev-bind", node, node]
    return args + ["--perms", "1777", "--tmpfs", "/tmp"]


def _model_caches() -> tuple[str, str]:
    """The model caches the kernel reads: ``$PEFTLAB_CACHE`` and ``$HF_HOME`` (or their defaults)."""
    return str(peftlab_cache()), str(hf_home())


def _code_paths() -> list[str]:
    return [sys.base_prefix, sys.prefix, str(PACKAGE_DIR), *_model_caches()]


def _environment() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k in _PASSED_ENV or k.startswith(_PASSED_ENV_PREFIXES)
    }
    peftlab_cache, hf_home = _model_caches()
    env.setdefault("PEFTLAB_CACHE", peftlab_cache)
    env.setdefault("HF_HUB_CACHE", os.path.join(hf_home, "hub"))
    env.update(
        {
            "PATH": path_with_interpreter("/usr/bin:/bin"),
            "HOME": "/tmp",
            "MPLCONFIGDIR": "/tmp",
            "HF_HUB_OFFLINE": "1",
            # The model cache is read-only in here; what the libraries write (evaluate's modules and
            # metrics, datasets' Arrow files) goes to the private /tmp.
            "HF_HOME": "/tmp/hf-home",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "VIRTUAL_ENV": sys.prefix,
        }
    )
    return env


def _private_workdir(cwd: str, connection_file: str) -> str:
    """A copy of ``cwd`` owned by nobody, so the kernel can write without touching ``course/``.

    It sits next to the connection file, in the grader's per-run directory, which the grader
    removes even when it has to kill the kernel (and this launcher with it).
    """
    work = os.path.splitext(connection_file)[0] + "-work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(cwd, work, symlinks=True, ignore=shutil.ignore_patterns(".*"))
    for root, dirs, files in os.walk(work):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.lchown(name, NOBODY, NOBODY)
    return work


def _parent_dirs(cmd: list[str]) -> list[str]:
    """``--dir`` options making every mount point's ancestors traversable (bwrap uses 0700)."""
    made = {"/", "/tmp", "/usr", "/proc", "/dev", "/etc"}
    args = []
    for i, word in enumerate(cmd[:-2]):
        if word not in ("--ro-bind", "--bind", "--symlink"):
            continue
        parts = cmd[i + 2].rstrip("/").split("/")[1:-1]
        for depth in range(1, len(parts) + 1):
            path = "/" + "/".join(parts[:depth])
            if path not in made:
                made.add(path)
                args += ["--perms", "0755", "--dir", path]
    return args


def bwrap_command(
    kernel_argv: list[str], connection_file: str, cwd: str, workdir: str
) -> list[str]:
    """The full ``bwrap ... setpriv ... python -m ipykernel_launcher`` command line."""
    runtime = os.path.dirname(os.path.abspath(connection_file))
    mounts = [*_ro_binds(_code_paths()), "--bind", runtime, runtime, "--bind", workdir, cwd]
    return _bwrap(mounts, cwd) + [
        "setpriv",
        f"--reuid={NOBODY}",
        f"--regid={NOBODY}",
        "--clear-groups",
        "--nnp",
        "--",
        *kernel_argv,
    ]


def zygote_command(zygote_argv: list[str], student_dir: str) -> list[str]:
    """The ``bwrap ...`` command line of a student's zygote (:mod:`peftlab.grading.zygote`).

    The same sandbox as a kernel's, except: the whole student folder (every kernel's private
    folder and working copy, now and later) is mounted instead of one kernel's, and the zygote
    stays root with only the capabilities it needs to hand each forked kernel to ``nobody``.
    """
    mounts = [*_ro_binds(_code_paths()), "--bind", student_dir, student_dir]
    capabilities = ["--cap-drop", "ALL"]
    for capability in zygote.CAPABILITIES:
        capabilities += ["--cap-add", capability]
    return _bwrap(mounts, student_dir, capabilities) + zygote_argv


def _bwrap(mounts: list[str], cwd: str, extra: list[str] = ()) -> list[str]:
    """``bwrap`` with the sandbox's root layout, ``mounts``, namespaces and environment."""
    cmd = [
        "bwrap",
        *_root_layout(),
        *_parent_dirs(mounts),
        *mounts,
        "--chdir",
        cwd,
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--hostname",
        "sandbox",
        *extra,
        "--clearenv",
    ]
    for key, value in sorted(_environment().items()):
        cmd += ["--setenv", key, value]
    return cmd


def _student_dir(connection_file: str) -> str | None:
    """The per-student folder holding this kernel's private folder, if it is in one."""
    folder = os.path.dirname(os.path.dirname(connection_file))
    return folder if os.path.basename(folder).startswith(STUDENT_DIR_PREFIX) else None


def _private_dir_problem(connection_file: str) -> str | None:
    """Why the connection file's directory may not be handed to the kernel, or ``None``."""
    folder = os.path.dirname(connection_file)
    info = os.stat(folder)
    if not os.path.basename(folder).startswith(PRIVATE_DIR_PREFIX):
        return f"{folder} is not a private grading directory (start it from the autograder)"
    if info.st_uid not in (0, NOBODY) or info.st_mode & 0o077:
        return f"{folder} is shared with other users"
    return None


def _give_to_nobody(connection_file: str) -> None:
    os.chown(os.path.dirname(connection_file), NOBODY, NOBODY)
    os.chown(connection_file, NOBODY, NOBODY)


def main(argv: list[str]) -> int:
    """Start the grading kernel for ``argv = [connection_file, *extra_kernel_args]``."""
    if not argv:
        print(f"usage: python -m {_MODULE} CONNECTION_FILE [KERNEL ARGS...]", file=sys.stderr)
        return 2
    connection_file, extra = os.path.abspath(argv[0]), argv[1:]
    kernel_argv = [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file, *extra]
    _set_limits()
    # ipykernel's start-up banner on stdout would only clutter the grader's log.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    if unavailable_reason() is not None:
        os.execv(sys.executable, kernel_argv)
    problem = _private_dir_problem(connection_file)
    if problem is not None:
        print(f"peftlab sandbox: refusing to start: {problem}", file=sys.stderr)
        return 1
    cwd = os.getcwd()
    workdir = _private_workdir(cwd, connection_file)
    _give_to_nobody(connection_file)
    cmd = bwrap_command(kernel_argv, connection_file, cwd, workdir)
    import subprocess

    # Stay the parent so the scratch copy is removed once the kernel is gone.
    student_dir = _student_dir(connection_file)
    if student_dir is not None and zygote.wanted(cwd):
        try:
            sandboxed = zygote_command(zygote.serve_argv(student_dir), student_dir)
            return zygote.run_kernel(student_dir, connection_file, workdir, extra, os.getppid(),
                                     sandboxed)
        except RuntimeError as err:
            print(f"peftlab sandbox: {err}", file=sys.stderr)
            return 1
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    try:
        sandboxed = subprocess.Popen(cmd)
        _exit_with_parent(sandboxed)
        return sandboxed.wait()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _exit_with_parent(sandboxed, every: float = 1.0) -> None:
    """Stop the sandbox when this launcher's parent (the grader) is gone.

    A grader killed mid-student (a Dask worker lost with its nbgrader) would otherwise leave its
    kernel running, a hanging submission spinning forever. bwrap's ``--die-with-parent`` takes
    the kernel down with bwrap. A watching thread, not ``PR_SET_PDEATHSIG``: that signal fires
    when the *thread* that started this process ends, which a kernel manager's worker thread may.
    """
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while sandboxed.poll() is None:
            if os.getppid() != parent:
                sandboxed.kill()
                return
            time.sleep(every)

    threading.Thread(target=watch, name="watch-grader", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
