"""Test fixtures; helper functions live in tests/helpers.py."""

from __future__ import annotations

import signal

import numpy as np
import pytest

import hebbbench  # noqa: F401  (registers the env IDs)


def pytest_configure(config):
    """Let Ctrl-C through, as in a terminal: a shell starts a background job (``cmd &``
    in a script, ``nohup``) with SIGINT ignored, which its children inherit, and the tests
    of clean interruption would then wait for an interrupt that never comes."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def ant_actions():
    """A fixed, seeded sequence of 60 ant actions in [-1, 1]."""
    return np.random.default_rng(7).uniform(-1, 1, size=(60, 8)).astype(np.float32)
