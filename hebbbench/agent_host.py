"""The agent process of :mod:`hebbbench.agent_process` (``python -m hebbbench.agent_host FD PARENT``).

Imports the agent file, builds the agent from the spec the worker sends over the pipe on
file descriptor ``FD``, and answers the worker's requests in the reply format that
module describes, until the worker says ``close`` or ends (then this process ends too).
Nothing in the package imports this module: it is the only place agent code runs.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection

import numpy as np

from hebbbench.agent_file import AgentError, describe, where
from hebbbench.envs.validation import InvalidAction, checked_action

#: Longest error text sent to the worker.
MAX_ERROR_CHARS = 4000


def _serve(conn: Connection) -> None:
    """The agent process: build the agent from the spec, then answer requests until ``close``."""
    spec = pickle.loads(conn.recv_bytes())
    try:
        agent = spec.make()
    except AgentError as error:
        conn.send_bytes(b"E" + str(error)[:MAX_ERROR_CHARS].encode())
        return
    observe = getattr(agent, "observe", None)
    conn.send_bytes(b"R" + (b"1" if callable(observe) else b"0"))
    while True:
        request = conn.recv()
        if request[0] == "close":
            return
        try:
            if request[0] == "act":
                action = agent.act(request[1])
            elif request[0] == "reset":
                agent.reset(request[1])
            else:
                observe(*request[1:])
        except (Exception, SystemExit) as error:
            conn.send_bytes(b"E" + f"{describe(error)}{where(error)}"[:MAX_ERROR_CHARS].encode())
            continue
        if request[0] != "act":
            conn.send_bytes(b"K")
            continue
        try:
            action = checked_action(action, spec.action_space)
        except InvalidAction as error:
            conn.send_bytes(b"V" + str(error)[:MAX_ERROR_CHARS].encode())
            continue
        conn.send_bytes(b"A" + np.ascontiguousarray(action, dtype=np.float64).tobytes())


def _die_with(parent: int) -> None:
    """End this process when ``parent`` (the worker) does."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the worker ended before the line above took effect
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="hebbbench-parent-watch").start()


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the evaluation handles Ctrl-C, and stops us
    _die_with(int(argv[1]))
    conn = Connection(int(argv[0]))
    try:
        _serve(conn)
    except (EOFError, OSError, KeyboardInterrupt):
        pass  # the worker is gone: nobody to answer
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # do not wait for threads the agent left running


if __name__ == "__main__":
    main(sys.argv[1:])
