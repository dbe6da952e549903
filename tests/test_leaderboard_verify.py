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
    assert f"{entry}: exact" in done.stdout
    record = json.loads((board / "submissions" / f"{entry}.json").read_text())["verification"]
    assert record["level"] == "exact" and record["episodes"] == 2 and record["max_abs_difference"] == 0.0
    assert len(record["checked"][0]["seeds"]) == 2
    assert "exact (2 seeds)" in (board / "README.md").read_text()


def test_an_agent_that_does_not_replay_exactly_but_draws_from_the_same_distribution_is_statistical(tmp_path):
    board = tmp_path / "board"
    agent = tmp_path / "unseeded_agent.py"
    agent.write_text(UNSEEDED_AGENT)
    entry = submit_real_run(agent, tmp_path, "unseeded", board)
    record = leaderboard.verify(entry, [agent], episodes=2, fresh_episodes=6, directory=board, workers=1,
                                verified_at=NOW)
    assert record["level"] == "statistical"
    assert any("re-run gives" in problem for problem in record["problems"])
    assert record["min_p_value"] >= record["p_threshold"] == pytest.approx(0.01 / 5)
    assert "statistical (6 fresh seeds)" in (board / "README.md").read_text()


def test_forged_returns_fail_verification_and_the_failure_is_recorded(tmp_path):
    """The window of exactly replayed seeds comes from the results' hash, and fresh episodes
    are compared with every submitted return: inflating returns anywhere is caught."""
    from hebbbench.results import integrity_hash

    board = tmp_path / "board"
    agent = Path(shutil.copy(ROOT / "examples" / "random_agent.py", tmp_path / "random_agent.py"))
    results = evaluate(agent, task="ant", episodes=12, workers=1).to_dict()
    test = next(v for v in results["variations"] if v["split"] == "test")
    test["returns"] = [4321.0] * 12
    from hebbbench import stats

    low, high = stats.bootstrap_ci(test["returns"])
    test["summary"] = {"mean": 4321.0, "std": 0.0, "ci95": [low, high]}
    results["integrity"] = integrity_hash(results)
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(results))
    entry = leaderboard.submit([path], dict(META, name="forged"), directory=board, submitted=NOW,
                               new_board=True).stem
    entry_file = str(board / "submissions" / f"{entry}.json")
    done = subprocess.run([sys.executable, "-m", "hebbbench.cli", "verify", entry_file, "--agent", str(agent),
                           "--episodes", "2", "--fresh-episodes", "6", "--workers", "1"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "marked FAILED" in done.stderr
    record = json.loads(Path(entry_file).read_text())["verification"]
    assert record["level"] == "failed" and any("fresh episodes differ" in p for p in record["problems"])
    assert "FAILED" in (board / "README.md").read_text()


def test_a_verification_record_whose_numbers_contradict_its_level_is_refused(tmp_path):
    board = tmp_path / "board"
    agent = Path(shutil.copy(ROOT / "examples" / "random_agent.py", tmp_path / "random_agent.py"))
    entry = submit_real_run(agent, tmp_path, "random", board)
    leaderboard.verify(entry, [agent], episodes=2, fresh_episodes=4, directory=board, workers=1, verified_at=NOW)
    path = board / "submissions" / f"{entry}.json"
    stored = json.loads(path.read_text())
    stored["verification"]["max_abs_difference"] = 4321.2
    path.write_text(json.dumps(stored))
    with pytest.raises(SubmissionError, match="says exact but records a return difference of 4321.2"):
        leaderboard.load_board(board)
