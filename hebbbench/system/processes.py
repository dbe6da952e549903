"""Process hygiene for evaluation: no process outlives its evaluation, and an agent's
process cannot reach into the processes that score it.

Linux gives the tools (``prctl``); elsewhere each function does what the platform allows
and the rest is documented as not covered. Used by :mod:`hebbbench.evaluation.episodes` (the
evaluating process and its workers) and :mod:`hebbbench.evaluation.agent_host` (the agent's process).

Where bubblewrap (``bwrap``) can run, an agent's process is also *contained*
(:func:`sandbox_status`, :func:`sandboxed`): its own PID namespace, so every process it
starts, ``setsid`` or not, dies with it; a read-only view of the whole file system but a
scratch folder of its own; no capabilities; no network (a loopback of its own). See
``docs/sandbox.md``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

_LINUX = sys.platform.startswith("linux")
_PR_SET_PDEATHSIG = 1
_PR_GET_DUMPABLE = 3
_PR_SET_DUMPABLE = 4
_PR_SET_CHILD_SUBREAPER = 36
#: What a contained agent's process gets (the results' ``agent.sandbox``): its own PID
#: namespace, a read-only file system (but its scratch folder), no network.
SANDBOXED = "pid-namespace+ro-fs+no-net"
#: Seconds the one-off check that bubblewrap works here may take.
SANDBOX_PROBE_TIMEOUT = 30.0


def default_workers() -> int:
    """One worker process per CPU core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _prctl(option: int, value: int = 0) -> int:
    import ctypes

    return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def die_with_parent(parent: int) -> None:
    """End this process (SIGKILL) when ``parent``, the process that started it, ends:
    Linux's parent-death signal, elsewhere a watchdog thread polling the parent's pid."""
    if _LINUX:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the line above took effect
        os._exit(0)
    if _LINUX:
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, daemon=True, name="hebbbench-parent-watch").start()


def adopt_orphans() -> None:
    """Make this process the reaper of its descendants' orphans (Linux), so a process an
    agent forks and abandons becomes our child, which :func:`kill_children` can end."""
    if _LINUX:
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def kill_children() -> None:
    """SIGKILL and reap every child process of this one (Linux; elsewhere nothing)."""
    if not _LINUX:
        return
    me = os.getpid()
    for _ in range(10):  # children may fork while we look
        found = [pid for pid in _pids() if _parent(pid) == me]
        if not found:
            return
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for pid in found:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def kill_group(leader: int, marker: bytes) -> None:
    """SIGKILL every process of process group ``leader`` whose command line contains
    ``marker`` (Linux), so that a reused process id can never take an unrelated process
    down with it; elsewhere the whole group, if its leader still has the marker."""
    if not _LINUX:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(leader, signal.SIGKILL)
        return
    for pid in _pids():
        if _group(pid) == leader and marker in _cmdline(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def make_undumpable() -> None:
    """Make this process non-dumpable (Linux): another process of the same non-root user,
    such as an agent's, can then not open its pipes or read its memory through ``/proc``.
    Root's processes can still; and core dumps of this process are off."""
    if _LINUX:
        _prctl(_PR_SET_DUMPABLE, 0)


@contextlib.contextmanager
def undumpable() -> Iterator[None]:
    """:func:`make_undumpable` for the block, then the previous state again (for a
    process that lives on, e.g. a notebook that calls ``evaluate``)."""
    if not _LINUX:
        yield
        return
    before = _prctl(_PR_GET_DUMPABLE)
    make_undumpable()
    try:
        yield
    finally:
        _prctl(_PR_SET_DUMPABLE, before if before in (0, 1) else 1)


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _stat_fields(pid: int) -> list[str]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text[text.rfind(")") + 2:].split()  # after "pid (comm) ": state, ppid, pgrp, ...


def _parent(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def _group(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[2]) if fields else None


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def sandbox_options(scratch: str) -> list[str]:
    """bubblewrap's options for an agent's process: ``--die-with-parent`` (it ends with its
    worker), ``--unshare-pid`` (its processes die with it: when the namespace's first
    process ends, the kernel kills the rest), ``--unshare-net`` (a loopback of its own),
    ``--cap-drop ALL`` (as root, too: it cannot remount), ``/`` read-only, a fresh ``/dev``
    and ``/proc`` (it sees only its own processes), ``scratch`` writable."""
    return ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-net", "--new-session", "--cap-drop", "ALL",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--bind", scratch, scratch, "--"]


def sandboxed(command: list[str], scratch: str) -> list[str]:
    """``command`` run in the sandbox of :func:`sandbox_options`."""
    return sandbox_options(scratch) + command


@functools.lru_cache(maxsize=None)
def sandbox_status() -> str:
    """:data:`SANDBOXED` if bubblewrap can contain a process on this machine, else
    ``"none (why)"``. Checked once per process by running ``true`` in the sandbox (it can
    be installed and still fail, e.g. in a container that forbids user namespaces)."""
    if not _LINUX:
        return f"none (no bubblewrap on {sys.platform})"
    if shutil.which("bwrap") is None:
        return "none (bubblewrap is not installed: apt-get install bubblewrap)"
    try:
        done = subprocess.run(sandboxed(["true"], tempfile.gettempdir()), capture_output=True, text=True,
                              timeout=SANDBOX_PROBE_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"none (bwrap could not start: {error})"
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return f"none (bwrap cannot create the sandbox here: {reason})"
    return SANDBOXED
