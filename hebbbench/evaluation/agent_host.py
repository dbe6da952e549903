"""The agent process of :mod:`hebbbench.evaluation.agent_process`
(``python -m hebbbench.evaluation.agent_host FD PARENT``).

Imports the agent file, builds the agent from the spec the worker sends over the pipe on
file descriptor ``FD``, and answers the worker's requests in the reply format that
module describes, until the worker says ``close`` or ends (then this process ends too).
``PARENT`` is the worker's pid, or ``0`` in the sandbox (whose PID namespace does not show
the worker): then it dies with the process that started it, bwrap, which dies with the worker.
Nothing in the package imports this module: it is the only place agent code runs.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from multiprocessing.connection import Connection

import numpy as np

from hebbbench.envs.validation import InvalidAction, checked_action
from hebbbench.evaluation.agent_file import AgentError, describe, where
from hebbbench.evaluation.agent_process import PIPE_LOST_EXIT
from hebbbench.system.processes import die_with_parent

#: Longest error text sent to the worker.
MAX_ERROR_CHARS = 4000


def _serve(conn: Connection) -> None:
    """The agent process: build the agent from the spec, then answer requests until ``close``."""
    spec = pickle.loads(conn.recv_bytes())
    try:
        agent = spec.make()
        observe = getattr(agent, "observe", None)
    except AgentError as error:
        conn.send_bytes(b"E" + _text(str(error)))
        return
    except BaseException as error:  # e.g. an ``observe`` property that raises
        conn.send_bytes(b"E" + _text(f"reading the agent's observe raised {describe(error)}{where(error)}."))
        return
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
        except BaseException as error:  # SIGINT is ignored here: a KeyboardInterrupt is the agent's own
            conn.send_bytes(b"E" + _text(f"{describe(error)}{where(error)}"))
            continue
        if request[0] != "act":
            conn.send_bytes(b"K")
            continue
        try:
            action = checked_action(action, spec.action_space)
        except InvalidAction as error:
            conn.send_bytes(b"V" + _text(str(error)))
            continue
        except BaseException as error:  # reading the action as an array ran the agent's code, which raised
            conn.send_bytes(b"V" + _text(f"action must be an array of real numbers; reading it as one raised "
                                          f"{describe(error)}{where(error)}"))
            continue
        conn.send_bytes(b"A" + np.ascontiguousarray(action, dtype=np.float64).tobytes())


def _text(message: str) -> bytes:
    return message[:MAX_ERROR_CHARS].encode("utf-8", "replace")


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the evaluation handles Ctrl-C, and stops us
    die_with_parent(int(argv[1]) or os.getppid())
    conn = Connection(int(argv[0]))
    code = 0
    try:
        _serve(conn)
    except (EOFError, OSError):  # the worker is gone, or the agent closed our pipe: nobody to answer
        code = PIPE_LOST_EXIT
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # do not wait for threads the agent left running


if __name__ == "__main__":
    main(sys.argv[1:])
