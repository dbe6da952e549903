"""An agent file in its own process, apart from the env that scores it.

A worker process of :func:`hebbbench.episodes.run_in_workers` plays the env, sums the
rewards and reports returns; it never imports agent code. It starts one agent process
(``python -m hebbbench.agent_host``) that imports the agent file and answers requests
over a pipe: ``reset(seed)``, ``act(observation)`` and, for agents that have it,
``observe(reward, terminated, truncated)``. The agent's own code therefore cannot change
the env, the rewards or the comparison ``verify`` makes, whatever it does at import.

Trust runs one way. The worker sends pickled requests (the agent spec, observations);
the agent process answers in a fixed byte format that the worker parses without pickle:
``R`` + observes flag (built), ``K`` (done), ``A`` + the action as float64 bytes (checked
again by the worker), ``V`` + text (invalid action), ``E`` + text (the agent raised).

The agent process lives in its own session, so Ctrl-C at a terminal reaches the evaluation
only, and it dies with its worker (Linux: the parent-death signal; elsewhere a watchdog
thread), so a stopped worker leaves no agent behind. The worker's episode alarm and the
evaluating process's clock stay outside the agent's reach.

This is a process boundary for honest scores, not a sandbox: an agent file can still do
anything its user may do on the machine. Run agents you do not trust in a container.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from multiprocessing.connection import Pipe
from typing import Any

import numpy as np

from hebbbench.agent_file import AgentError, ReportedError
from hebbbench.envs.validation import InvalidAction, checked_action

#: Longest reply the worker reads from an agent process (an error text; actions are small).
MAX_REPLY_BYTES = 1 << 16
#: Seconds an agent process gets to exit after ``close`` before it is killed.
CLOSE_GRACE = 5.0
#: Environment of an agent process with ``arithmetic="portable"``: torch's baseline
#: kernels instead of the CPU's widest vector ones, MKL's conditional numerical
#: reproducibility mode and oneDNN's SSE4.1 kernels, so that a torch agent computes the
#: same bits on any x86-64 CPU (measured: benchmarks/test_isa_drift.py). NumPy's own
#: vector loops and OpenBLAS are not covered.
PORTABLE_ARITHMETIC = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "SSE41"}


class AgentProcess:
    """Stands in for the agent inside a worker: the same ``reset``/``act``/``observe``,
    answered by the agent file's agent in its own process.

    Raises :class:`AgentError` if the agent cannot be built (as ``make_agent`` would), and
    :class:`ReportedError` from ``reset``, ``act`` or ``observe`` if the agent raised, or
    its process ended; an invalid action raises :class:`InvalidAction`.
    """

    def __init__(self, spec: Any) -> None:
        self.action_space = spec.action_space
        self._action_size = int(np.prod(spec.action_space.shape)) * 8
        ours, theirs = Pipe()
        self._conn = ours
        self._process = subprocess.Popen(
            [sys.executable, "-m", "hebbbench.agent_host", str(theirs.fileno()), str(os.getpid())],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, start_new_session=True,
            env=os.environ | PORTABLE_ARITHMETIC if spec.arithmetic == "portable" else None)
        theirs.close()
        self._conn.send_bytes(pickle.dumps(spec))
        try:
            kind, body = self._reply()
        except ReportedError:
            raise AgentError(f"the agent's process ended with exit code {self._process.returncode} while loading "
                             "the agent (importing its file, make_agent): os._exit, a signal, or a crash such as "
                             "a segmentation fault.") from None
        if kind == b"E":
            self.close()
            raise AgentError(body.decode("utf-8", "replace"))
        if kind != b"R" or len(body) != 1:
            self._violation(kind)
        if body == b"1":
            self.observe = self._observe

    def reset(self, seed: int) -> None:
        self._call(("reset", seed))

    def act(self, observation: np.ndarray) -> np.ndarray:
        kind, body = self._request(("act", observation))
        if kind == b"V":
            raise InvalidAction(body.decode("utf-8", "replace"))
        if kind != b"A" or len(body) != self._action_size:
            self._violation(kind)
        return checked_action(np.frombuffer(body, dtype=np.float64).reshape(self.action_space.shape),
                              self.action_space)

    def _observe(self, reward: float, terminated: bool, truncated: bool) -> None:
        self._call(("observe", reward, terminated, truncated))

    def close(self) -> None:
        """Ask the agent process to exit; kill it if it has not within :data:`CLOSE_GRACE` s."""
        try:
            self._conn.send(("close",))
            self._process.wait(CLOSE_GRACE)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
            self._conn.close()

    def _call(self, request: tuple) -> None:
        kind, _ = self._request(request)
        if kind != b"K":
            self._violation(kind)

    def _request(self, request: tuple) -> tuple[bytes, bytes]:
        try:
            self._conn.send(request)
        except OSError:
            self._ended()
        kind, body = self._reply()
        if kind == b"E":
            raise ReportedError(body.decode("utf-8", "replace"))
        return kind, body

    def _reply(self) -> tuple[bytes, bytes]:
        try:
            reply = self._conn.recv_bytes(MAX_REPLY_BYTES)
        except (EOFError, OSError):
            self._ended()
        return reply[:1], reply[1:]

    def _ended(self) -> None:
        self._process.kill()
        code = self._process.wait()
        raise ReportedError(f"SystemExit: the agent's process ended with exit code {code} (os._exit, a signal, "
                            "or a crash such as a segmentation fault)")

    def _violation(self, kind: bytes) -> None:
        self.close()
        raise ReportedError(f"a reply outside the protocol (kind {kind!r}): the agent's process was tampered "
                            "with (e.g. its agent file writes to the pipe)")
