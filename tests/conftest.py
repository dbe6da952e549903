"""Test fixtures; helper functions live in tests/helpers.py."""

from __future__ import annotations

import numpy as np
import pytest

import hebbbench  # noqa: F401  (registers the env IDs)


@pytest.fixture
def ant_actions():
    """A fixed, seeded sequence of 60 ant actions in [-1, 1]."""
    return np.random.default_rng(7).uniform(-1, 1, size=(60, 8)).astype(np.float32)
