"""The wheel built from the repo works outside it (CI runs the same script before the tests)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_wheel_built_from_the_repo_evaluates_an_agent_from_another_folder():
    done = subprocess.run([str(ROOT / ".ci" / "check-wheel")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "installed in a fresh venv evaluated my_agent.py" in done.stdout
