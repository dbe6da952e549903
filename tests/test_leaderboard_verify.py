"""`hebbbench verify`: real episodes re-run through `hebbbench.evaluate` against a submitted entry."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import META, snapshot

from hebbbench import evaluate, leaderboard, write_results
from hebbbench.leaderboard.submission import SubmissionError

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-28T06:00:00+00:00"

UNSEEDED_AGENT = '''
import numpy as np


class UnseededAgent:
    """Ignores the episode seed, so a re-run cannot reproduce its returns."""

    def __init__(self, action_space):
        self.action_space = action_space
        self.rng = np.random.default_rng()

    def reset(self, seed):
        self.rng = np.random.default_rng()

    def act(self, observation):
        return self.rng.uniform(self.action_space.low, self.action_space.high)


def make_agent(task, holdout, observation_space, action_space):
    return UnseededAgent(action_space)
'''


def submit_real_run(agent: Path, tmp_path: Path, name: str, board: Path) -> str:
    """Evaluate ``agent`` on the ant (3 protocol seeds per variation) and submit it; return the entry id."""
    results = write_results(evaluate(agent, task="ant", episodes=3, workers=1), tmp_path / f"{name}.json")
    return leaderboard.submit([results], dict(META, name=name), directory=board, submitted=NOW,
                              new_board=True).stem


def test_verify_marks_a_reproduced_entry_and_refuses_the_wrong_agent(tmp_path):
    board = tmp_path / "board"
    agent = Path(shutil.copy(ROOT / "examples" / "random_agent.py", tmp_path / "random_agent.py"))
    entry = submit_real_run(agent, tmp_path, "random", board)

    other = tmp_path / "other_agent.py"
    other.write_text(agent.read_text() + "\n# a different file\n")
    before = snapshot(board)
    with pytest.raises(SubmissionError, match="no --agent file has the sha256 its results record"):
        leaderboard.verify(entry, [other], episodes=2, directory=board, workers=1, verified_at=NOW)
    assert snapshot(board) == before

    entry_file = str(board / "submissions" / f"{entry}.json")
    done = subprocess.run([sys.executable, "-m", "hebbbench.cli", "verify", entry_file,
                           "--agent", str(other), "--agent", str(agent), "--episodes", "2", "--workers", "1"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"verified {entry}" in done.stdout
    record = json.loads((board / "submissions" / f"{entry}.json").read_text())["verification"]
    assert record["episodes"] == 2 and record["max_abs_difference"] == 0.0
    assert len(record["checked"][0]["seeds"]) == 2
    assert "yes (2 seeds)" in (board / "README.md").read_text()


def test_verify_refuses_returns_that_do_not_reproduce(tmp_path):
    board = tmp_path / "board"
    agent = tmp_path / "unseeded_agent.py"
    agent.write_text(UNSEEDED_AGENT)
    entry = submit_real_run(agent, tmp_path, "unseeded", board)
    before = snapshot(board)
    with pytest.raises(SubmissionError) as refused:
        leaderboard.verify(entry, [agent], episodes=2, directory=board, workers=1, seed=0, verified_at=NOW)
    assert "the entry was not marked verified" in str(refused.value)
    assert any("re-run gives" in problem for problem in refused.value.problems)
    assert snapshot(board) == before
