"""Atomic file writes: readers see the old file or the new one, never half of one.

Every file hebbbench writes for a user (results, leaderboard, training run directories,
generated ant models) goes through :func:`write_atomic`: a temporary file in the target's
folder, flushed to disk, then renamed over the target. A failure leaves the old file and
no temporary one behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

#: The process's umask, read once at import (reading it means setting it, which must not
#: happen while other threads may create files).
_UMASK = os.umask(0)
os.umask(_UMASK)


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` with ``write(handle)`` (a binary file) into a temporary file, then rename.

    The file gets the permissions a plain ``open`` would give (0666 less the umask), not
    the temporary file's private 0600, so a board served by another user stays readable.
    """
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
            os.fchmod(file.fileno(), 0o666 & ~_UMASK)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """:func:`write_atomic` of ``text``, UTF-8."""
    write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))
