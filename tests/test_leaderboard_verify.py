"""`hebbbench verify`: real episodes, measured on secret seeds and replayed, against a submitted entry."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import META, results_dict, snapshot, submission, write_json

from hebbbench import evaluate, leaderboard
from hebbbench.evaluation import stats
from hebbbench.evaluation.agent_file import agent_sha256
from hebbbench.evaluation.results import integrity_hash
from hebbbench.leaderboard import records
from hebbbench.leaderboard.sections import verified_label
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


def random_agent(tmp_path: Path) -> Path:
    return Path(shutil.copy(ROOT / "examples" / "random_agent.py", tmp_path / "random_agent.py"))


def submit_real_run(agent: Path, tmp_path: Path, name: str, board: Path, edit=None, **options) -> str:
    """Evaluate ``agent`` on the ant (3 protocol seeds per variation), let ``edit`` change the
    results (then re-hash them, as a forger would), submit; return the entry id."""
    results = evaluate(agent, task="ant", episodes=3, workers=1, **options).to_dict()
    if edit is not None:
        edit(results)
        results["integrity"] = integrity_hash(results)
    path = write_json(tmp_path / f"{name}.json", results)
    return leaderboard.submit([path], dict(META, name=name), directory=board, submitted=NOW,
                              new_board=True).stem


def verify_cli(entry_file: Path, *agents: Path) -> subprocess.CompletedProcess:
    agent_args = [arg for agent in agents for arg in ("--agent", str(agent))]
    return subprocess.run([sys.executable, "-m", "hebbbench.cli", "verify", str(entry_file), *agent_args,
                           "--episodes", "2", "--fresh-episodes", "4", "--workers", "1"],
                          capture_output=True, text=True)


def stored(board: Path, entry: str) -> dict:
    return json.loads((board / "submissions" / f"{entry}.json").read_text())


def test_an_honest_entry_verifies_exact_on_secret_seeds_that_differ_between_runs_and_the_wrong_agent_is_refused(
        tmp_path):
    board = tmp_path / "board"
    agent = random_agent(tmp_path)
    entry = submit_real_run(agent, tmp_path, "random", board)
    other = tmp_path / "other_agent.py"
    other.write_text(agent.read_text() + "\n# a different file\n")
    before = snapshot(board)
    with pytest.raises(SubmissionError, match="no --agent file has the sha256 its results record"):
        leaderboard.verify(entry, [other], episodes=2, directory=board, workers=1, verified_at=NOW)
    assert snapshot(board) == before

    entry_file = board / "submissions" / f"{entry}.json"
    done = verify_cli(entry_file, other, agent)
    assert done.returncode == 0, done.stderr
    assert f"{entry}: exact" in done.stdout and "measuring 4 secret seeds" in done.stderr
    first = stored(board, entry)["verification"]
    fold = first["folds"][0]
    assert first["level"] == "exact" and fold["arithmetic"] == "portable"
    assert len(fold["replay"]["seeds"]) == 2 and set(fold["replay"]["seeds"]) <= set(range(1_000_000, 1_000_003))
    seeds = fold["measured"]["seeds"]
    assert len(seeds) == 4 and records.SECRET_SEED_LOW <= seeds[0] < records.SECRET_SEED_HIGH
    assert fold["agent_sha256"] == stored(board, entry)["results"][0]["agent"]["sha256"]
    board_row = leaderboard.row(stored(board, entry))  # ranked by the verifier's returns, the claim beside
    assert board_row.heldout.mean == pytest.approx(stats.mean(fold["measured"]["returns"]["long-front"]))
    assert board_row.claimed.episodes == 3 and "exact, 4 secret seeds \\(claimed" in (board / "README.md").read_text()

    again = leaderboard.verify(entry, [agent], episodes=2, fresh_episodes=4, directory=board, workers=1,
                               verified_at=NOW)
    assert again["folds"][0]["measured"]["seeds"] != seeds


def test_a_forged_results_file_with_returns_edited_upward_and_its_hash_recomputed_fails_verify(tmp_path):
    def forge(results):
        test = next(v for v in results["variations"] if v["split"] == "test")
        test["returns"] = [4321.0] * len(test["returns"])
        low, high = stats.bootstrap_ci(test["returns"])
        test["summary"] = {"mean": 4321.0, "std": 0.0, "ci95": [low, high]}

    board = tmp_path / "board"
    agent = random_agent(tmp_path)
    entry = submit_real_run(agent, tmp_path, "forged", board, edit=forge)
    done = verify_cli(board / "submissions" / f"{entry}.json", agent)
    assert done.returncode == 2 and "marked FAILED" in done.stderr
    record = stored(board, entry)["verification"]
    assert record["level"] == "failed"
    assert any("the submitted mean 4321 lies" in p for p in record["problems"])
    assert any("submitted return 4321.0" in p for p in record["problems"])  # every submitted test return is forged
    shown = (board / "README.md").read_text()
    assert "FAILED \\(claimed 4321.0\\)" in shown and "4321.0 [" not in shown  # scores are the verifier's


def test_a_replay_mismatch_of_an_agent_run_with_portable_arithmetic_fails_the_entry(tmp_path):
    """The unseeded agent's returns come from one distribution (the means agree) but never replay."""
    board = tmp_path / "board"
    agent = tmp_path / "unseeded_agent.py"
    agent.write_text(UNSEEDED_AGENT)
    entry = submit_real_run(agent, tmp_path, "unseeded", board)
    record = leaderboard.verify(entry, [agent], episodes=2, fresh_episodes=4, directory=board, workers=1,
                                verified_at=NOW)
    assert record["level"] == "failed"
    assert record["problems"] and all("the replay gives" in p for p in record["problems"])
    assert "FAILED" in (board / "README.md").read_text()


def test_an_agent_run_with_native_arithmetic_is_not_replayable_and_verifies_only_statistical(tmp_path):
    board = tmp_path / "board"
    agent = tmp_path / "unseeded_agent.py"
    agent.write_text(UNSEEDED_AGENT)
    entry = submit_real_run(agent, tmp_path, "unseeded", board, arithmetic="native")
    record = leaderboard.verify(entry, [agent], episodes=2, fresh_episodes=4, directory=board, workers=1,
                                verified_at=NOW)
    assert record["level"] == "statistical" and record["folds"][0]["replay"] is None
    assert "statistical, not replayable, 4 secret seeds" in (board / "README.md").read_text()


SLEEPS_AT_IMPORT = '''
import time

time.sleep(600)


def make_agent(task, holdout, observation_space, action_space):
    raise AssertionError("never reached: the import sleeps")
'''


def test_verify_with_load_timeout_stops_an_agent_that_sleeps_at_import_within_seconds_naming_the_flag(tmp_path):
    """The entry is a results file built in code whose sha256 is the sleeping agent's: nothing
    needs to load it before verify does."""
    agent = tmp_path / "sleeps_at_import.py"
    agent.write_text(SLEEPS_AT_IMPORT)
    results = results_dict("ant", "long-front", episodes=3)
    results["agent"]["sha256"] = agent_sha256(agent)
    results["integrity"] = integrity_hash(results)
    board = tmp_path / "board"
    entry = leaderboard.submit([write_json(tmp_path / "results.json", results)], dict(META, name="sleeper"),
                               directory=board, submitted=NOW, new_board=True)
    before = snapshot(board)
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "hebbbench.cli", "verify", str(entry), "--agent", str(agent),
                           "--workers", "1", "--load-timeout", "2"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "took longer than 2 s" in done.stderr and "--load-timeout" in done.stderr
    assert "nothing was recorded" in done.stderr and snapshot(board) == before
    assert time.monotonic() - start < 60, "verify's load deadline did not follow --load-timeout"


@pytest.mark.parametrize("value", [0.5, float("nan"), "10"])
def test_verify_refuses_a_load_timeout_outside_its_range_before_running_anything(tmp_path, value):
    with pytest.raises(ValueError, match=r"load_timeout \(--load-timeout\) must be a number of seconds in \[1, "):
        leaderboard.verify("no-such-entry", [], directory=tmp_path, verified_at=NOW, load_timeout=value)


def test_a_hand_typed_verification_record_does_not_render_as_verified(tmp_path):
    entry = submission("ant", ["long-front"], "hand typed", episodes=5)
    entry["verification"] = {"level": "exact", "episodes": 100, "checked": []}
    (tmp_path / "submissions").mkdir()
    write_json(tmp_path / "submissions" / f"{entry['id']}.json", entry)
    with pytest.raises(SubmissionError, match="entry 'ant-hand-typed': verification is not a record"):
        leaderboard.load_board(tmp_path)
    shown = subprocess.run([sys.executable, "-m", "hebbbench.cli", "leaderboard", "--leaderboard-dir",
                            str(tmp_path)], capture_output=True, text=True)
    assert shown.returncode == 2 and "ant-hand-typed" in shown.stderr and "exact" not in shown.stdout


def fake_record(entry: dict, shift: float) -> dict:
    """A record of this format made by hand: measured returns = the submitted ones + ``shift``."""
    results = entry["results"][0]
    measured = {"seeds": list(range(20_000_000, 20_000_005)),
                "returns": {v["name"]: [r + shift for r in v["returns"]] for v in results["variations"]},
                "lengths": {v["name"]: v["lengths"] for v in results["variations"]}}
    return {"schema": records.SCHEMA, "level": "exact", "false_alarm_rate": records.FALSE_ALARM_RATE,
            "problems": [], "package_version": "0.4.1", "verified": NOW,
            "folds": [{"fold": "long-front", "agent_sha256": results["agent"]["sha256"], "arithmetic": "native",
                       "replay": None, "measured": measured}]}


@pytest.mark.parametrize("edit, message", [
    (lambda r: r.update(level="exact"), "it says 'exact' but its own measurements give 'statistical'"),
    (lambda r: r["folds"][0]["measured"]["returns"].pop("default"), "returns must hold one list per variation"),
    (lambda r: r.update(false_alarm_rate=1e-300), "false_alarm_rate is 1e-300"),
    (lambda r: r["folds"][0].update(agent_sha256="cd" * 32), "agent_sha256 is not the sha256 the results record"),
])
def test_a_record_whose_numbers_do_not_support_its_level_is_refused_naming_the_inconsistency(tmp_path, edit, message):
    entry = submission("ant", ["long-front"], "edited", episodes=5)
    entry["verification"] = fake_record(entry, 0.0)
    entry["verification"]["level"] = "statistical"  # native arithmetic: the consistent level
    assert leaderboard.validate_submission(entry) == []
    edit(entry["verification"])
    found = leaderboard.validate_submission(entry)
    assert len(found) == 1 and "entry 'ant-edited': verification record is inconsistent" in found[0]
    assert message in found[0]


def test_a_record_claiming_a_pass_whose_measurement_contradicts_the_claim_is_refused(tmp_path):
    entry = submission("ant", ["long-front"], "contradicted", episodes=5)  # returns ~ N(100, 10)
    entry["verification"] = dict(fake_record(entry, -500.0), level="statistical")
    found = leaderboard.validate_submission(entry)
    assert len(found) == 1 and "says 'statistical' but its own measurements give 'failed'" in found[0]


def test_the_committed_legacy_records_are_shown_as_legacy_and_cannot_move_to_another_entry():
    board = leaderboard.load_board(ROOT / "leaderboard")
    legacy = [s for s in board if s["verification"] is not None and not records.is_measured(s)]
    assert legacy and all("legacy" in verified_label(s) for s in legacy)
    moved = dict(board[0], verification=legacy[-1]["verification"]) if board[0] is not legacy[-1] else None
    assert moved is not None and "not a record `hebbbench verify` wrote" in records.record_problems(moved)[0]
