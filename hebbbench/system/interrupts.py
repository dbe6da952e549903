"""Signals during training and evaluation: Ctrl-C (and ``kill``) never leave half-written
state or a worker's traceback behind."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator


def terminate_as_interrupt() -> None:
    """Handle SIGTERM (``kill PID``) as a Ctrl-C, so the same clean-up runs: workers shut
    down, and writes under :func:`sigint_deferred` finish first. Main thread only.

    It also works where SIGINT is ignored, as in a job a non-interactive shell started in
    the background (``nohup hebbbench train ... &``): there Ctrl-C cannot reach the run, so
    ``kill PID`` is the way to stop it cleanly."""

    def stop(signum: int, frame: Any) -> None:
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):  # Python's KeyboardInterrupt, or sigint_deferred's collector
            handler(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes start, so they start with it ignored.

    An ignored signal stays ignored across fork and exec, and Python then installs no
    KeyboardInterrupt handler: a Ctrl-C while a worker is still importing cannot print
    its traceback. Only the main thread may change handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold back a Ctrl-C until the block ends, then raise it as ``KeyboardInterrupt``.

    For writes that must land together (a training log row and its checkpoint): a Ctrl-C
    between them would leave a row of a generation that the checkpoint does not hold.
    Only the main thread may change handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    handler = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)
    if received and callable(handler):
        handler(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt
    elif received and handler == signal.SIG_DFL:
        raise KeyboardInterrupt
