"""An agent file in its own process, apart from the env that scores it.

A worker process of :func:`hebbbench.evaluation.episodes.run_in_workers` plays the env, sums the
rewards and reports returns; it never imports agent code. It starts one agent process
(``python -m hebbbench.evaluation.agent_host``) that imports the agent file and answers requests
over a pipe: ``reset(seed)``, ``act(observation)`` and, for agents that have it,
``observe(reward, terminated, truncated)``. The agent's own code therefore cannot change
the env, the rewards or the comparison ``verify`` makes, whatever it does at import.

Trust runs one way. The worker sends pickled requests (the agent spec, observations);
the agent process answers in a fixed byte format that the worker parses without pickle:
``R`` + observes flag (built), ``K`` (done), ``A`` + the action as float64 bytes (checked
again by the worker's episode loop), ``V`` + text (invalid action), ``E`` + text (the agent raised).

Where bubblewrap runs (:func:`~hebbbench.system.processes.sandbox_status`), the agent process is
contained (:func:`~hebbbench.system.processes.sandboxed`): its own PID namespace, so that every
process it starts, ``setsid`` or not, is killed with it, whether the evaluation succeeds,
fails or is killed; a read-only view of the file system (the repository, the package, the
board, its own files) except a scratch folder of its own (``TMPDIR``, deleted when it
ends); no capabilities, not even as root; and no network. See ``docs/sandbox.md``.

Either way the agent process lives in its own session, so Ctrl-C at a terminal reaches the
evaluation only, and it dies with its worker (Linux: the parent-death signal; elsewhere a
watchdog thread). Closing it ends its whole process group and any process it abandoned (the
worker adopts orphans), so an agent that forks leaves nothing behind (without the sandbox:
as far as a process that forks and ``setsid``s faster than the worker kills can be caught).
The worker's episode alarm and the evaluating process's clock stay outside the agent's
reach, and on Linux the worker and the evaluating process are non-dumpable while they run
agents: another process of a non-root user cannot open their pipes or memory through
``/proc`` (in the sandbox it cannot even see them).

Without the sandbox this is a process boundary for honest scores, not a sandbox: an agent
file can still do anything its user may do on the machine (as root, that includes reaching
into the worker through ``/proc``). The results record which it was (``agent.sandbox``).
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from multiprocessing.connection import Pipe
from typing import Any

import numpy as np

from hebbbench.envs.validation import InvalidAction
from hebbbench.evaluation.agent_file import AgentError, ReportedError
from hebbbench.system.processes import SANDBOXED, kill_group, sandboxed

#: Longest reply the worker reads from an agent process (an error text; actions are small).
MAX_REPLY_BYTES = 1 << 16
#: Seconds an agent process gets to exit after ``close`` before it is killed.
CLOSE_GRACE = 5.0
#: Exit status of an agent process that lost its pipe to the worker.
PIPE_LOST_EXIT = 86
#: Seconds to wait for the exit status of an agent process whose pipe closed.
GONE_WAIT_S = 1.0
#: Seconds between checks that the agent's process is alive while a reply is awaited.
REPLY_POLL_S = 0.2
#: The agent process's module (also what marks its processes for :func:`kill_group`).
AGENT_HOST = "hebbbench.evaluation.agent_host"
#: Environment of an agent process with ``arithmetic="portable"``: torch's baseline
#: kernels instead of the CPU's widest vector ones, MKL's conditional numerical
#: reproducibility mode and oneDNN's SSE4.1 kernels, so that a torch agent computes the
#: same bits on any x86-64 CPU (measured: benchmarks/test_isa_drift.py). NumPy's own
#: vector loops and OpenBLAS are not covered.
PORTABLE_ARITHMETIC = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "SSE41"}


class AgentProcess:
    """Stands in for the agent inside a worker: the same ``reset``/``act``/``observe``,
    answered by the agent file's agent in its own process.

    Raises :class:`AgentError` if the agent cannot be built (as ``make_agent`` would) or
    its process ends or breaks the protocol (the message names the call, not the episode),
    :class:`ReportedError` from ``reset``, ``act`` or ``observe`` if the agent raised, and
    :class:`InvalidAction` for an invalid action.
    """

    def __init__(self, spec: Any) -> None:
        self.action_space = spec.action_space
        self._action_size = int(np.prod(spec.action_space.shape)) * 8
        ours, theirs = Pipe()
        self._conn = ours
        #: The agent's writable scratch folder in the sandbox (deleted by :meth:`kill`), else None.
        self.scratch = tempfile.mkdtemp(prefix="hebbbench-agent-") if spec.sandbox == SANDBOXED else None
        try:
            self._process = subprocess.Popen(
                self._command(theirs.fileno()), pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                start_new_session=True, env=self._environment(spec.arithmetic))
        except BaseException:
            self._remove_scratch()
            raise
        finally:
            theirs.close()
        #: The agent's process id (in the sandbox: bwrap's, whose death ends every process
        #: inside), also its process group's (it leads a session of its own).
        self.pid = self._process.pid
        loading = "while loading the agent (importing its file, make_agent)"
        try:
            self._conn.send_bytes(pickle.dumps(spec))
        except OSError:
            self._gone(loading)
        kind, body = self._reply(loading)
        if kind == b"E":
            self.kill()
            raise AgentError(body.decode("utf-8", "replace"))
        if kind != b"R" or len(body) != 1:
            self._violation(kind, "while loading the agent")
        if body == b"1":
            self.observe = self._observe

    def _command(self, fd: int) -> list[str]:
        """The agent host's command line, in the sandbox if there is one. Inside the sandbox's
        PID namespace the worker's pid means nothing: ``0`` tells the host to die with
        whatever started it (bwrap, which dies with the worker)."""
        if self.scratch is None:
            return [sys.executable, "-m", AGENT_HOST, str(fd), str(os.getpid())]
        return sandboxed([sys.executable, "-m", AGENT_HOST, str(fd), "0"], self.scratch)

    def _environment(self, arithmetic: str) -> dict[str, str] | None:
        """The agent process's environment: ours, with the portable arithmetic's settings
        and, in the sandbox, ``TMPDIR`` set to its scratch folder (the rest is read-only)."""
        changes = dict(PORTABLE_ARITHMETIC) if arithmetic == "portable" else {}
        if self.scratch is not None:
            changes["TMPDIR"] = self.scratch
        return os.environ | changes if changes else None

    def _remove_scratch(self) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def reset(self, seed: int) -> None:
        self._call("reset", seed)

    def act(self, observation: np.ndarray) -> np.ndarray:
        """The agent's action as float64, unchecked: the caller checks it against the space
        (:class:`~hebbbench.evaluation.episodes.EpisodeRunner` does, in the worker)."""
        kind, body = self._request("act", observation)
        if kind == b"V":
            raise InvalidAction(body.decode("utf-8", "replace"))
        if kind != b"A" or len(body) != self._action_size:
            self._violation(kind, "in act")
        return np.frombuffer(body, dtype=np.float64).reshape(self.action_space.shape)

    def _observe(self, reward: float, terminated: bool, truncated: bool) -> None:
        self._call("observe", reward, terminated, truncated)

    def close(self) -> None:
        """Ask the agent's process to exit, give it :data:`CLOSE_GRACE` s, then :meth:`kill`
        (nothing if it was already killed)."""
        if self._conn.closed:
            return
        try:
            self._conn.send(("close",))
            self._process.wait(CLOSE_GRACE)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def kill(self) -> None:
        """End the agent's process and every process it started in its group, and delete its
        scratch folder. (In the sandbox, bwrap's death ends every process in its namespace;
        without it, those it moved out of its group are orphans that the worker adopted and
        ends itself.)"""
        if self._conn.closed:
            return
        kill_group(self.pid, AGENT_HOST.encode())
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._conn.close()
        self._remove_scratch()

    def _call(self, name: str, *args: Any) -> None:
        kind, _ = self._request(name, *args)
        if kind != b"K":
            self._violation(kind, f"in {name}")

    def _request(self, name: str, *args: Any) -> tuple[bytes, bytes]:
        try:
            self._conn.send((name, *args))
        except OSError:
            self._gone(f"in {name}")
        kind, body = self._reply(f"in {name}")
        if kind == b"E":
            raise ReportedError(body.decode("utf-8", "replace"))
        return kind, body

    def _reply(self, during: str) -> tuple[bytes, bytes]:
        """The next reply; while waiting, notice the agent's process ending even if a
        process it forked still holds the pipe open."""
        while not self._conn.poll(REPLY_POLL_S):
            if self._process.poll() is not None:
                self._gone(during)
        try:
            reply = self._conn.recv_bytes(MAX_REPLY_BYTES)
        except EOFError:
            self._gone(during)
        except OSError:  # longer than MAX_REPLY_BYTES, or a broken frame
            self._violation(b"", during)
        return reply[:1], reply[1:]

    def _gone(self, during: str) -> None:
        try:  # its end of the pipe closes a moment before its exit status is known
            code = self._process.wait(GONE_WAIT_S)
        except subprocess.TimeoutExpired:
            code = None
        self.kill()
        if code is None or code == PIPE_LOST_EXIT:
            raise AgentError(f"the agent's process stopped answering {during}: it closed its end of the pipe to "
                             "the worker (do not close file descriptors you did not open)")
        raise AgentError(f"the agent's process ended with exit code {code} {during} (os._exit, a signal, or a "
                         "crash such as a segmentation fault)")

    def _violation(self, kind: bytes, during: str) -> None:
        self.kill()
        raise AgentError(f"the agent's process sent a reply outside the protocol {during} "
                         f"(kind {kind!r}): its code wrote to the pipe to the worker, or a reply was over "
                         f"{MAX_REPLY_BYTES} bytes")
