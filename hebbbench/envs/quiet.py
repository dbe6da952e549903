"""Silencing pybullet's C-level prints: its build time on import (to stderr) and
"argv[0]=" on every connect (to stdout)."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator


@contextlib.contextmanager
def c_output_silenced(*fds: int) -> Iterator[None]:
    """Send the file descriptors ``fds`` (C-level stdout 1, stderr 2) to /dev/null for the
    block; Python's own ``sys.stdout``/``sys.stderr`` buffers are flushed first, so nothing
    written before is lost."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in fds]
    try:
        with open(os.devnull, "wb") as null:
            for fd in fds:
                os.dup2(null.fileno(), fd)
        yield
    finally:
        for fd, copy in zip(fds, saved):
            os.dup2(copy, fd)
            os.close(copy)


with c_output_silenced(2):  # pybullet writes its build time to stderr when first imported
    import pybullet  # noqa: F401,E402
