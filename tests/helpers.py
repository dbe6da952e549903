"""Helpers shared by the test modules (imported as ``from helpers import ...``): short real
rollouts, run-log comparisons, and synthetic results files for the leaderboard tests."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np

from hebbbench.envs import env_settings, variations
from hebbbench.evaluation.protocol import EPISODES, PROTOCOL_VERSION, protocol_seeds
from hebbbench.evaluation.results import Results, VariationResult
from hebbbench.leaderboard.submission import make_submission
from hebbbench.version import __version__


def rollout(env: gym.Env, actions, seed: int):
    """Reset with ``seed`` and apply ``actions``; return (observations, rewards, infos)."""
    observation, info = env.reset(seed=seed)
    observations, rewards, infos = [observation], [], [info]
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        observations.append(observation)
        rewards.append(reward)
        infos.append(info)
        if terminated or truncated:
            break
    return np.stack(observations), np.array(rewards), infos


def outcomes(run_dir) -> list[dict]:
    """A training run's log rows without the keys that say how it ran (timings, workers):
    what two runs with the same seed must agree on, whatever their backends."""
    from hebbbench.training.train import EXECUTION_KEYS, read_log

    return [{k: v for k, v in row.items() if k not in EXECUTION_KEYS} for row in read_log(run_dir)]


ROOT = Path(__file__).resolve().parents[1]
SHA = "ab" * 32
META = {"authors": ["Test Author"], "link": None, "agent_family": "hebbian",
        "generations": 10, "population": 20, "env_steps": 30000}


def results_dict(task: str, holdout: str, episodes: int = EPISODES, loc: float = 100.0,
                 seed: int = 0) -> dict:
    """A valid results-file object (correct summaries and integrity hash) with normal returns."""
    rng = np.random.default_rng(seed)
    per_variation = tuple(
        VariationResult(v.name, v.env_id, "test" if v.name == holdout else "train",
                        tuple(protocol_seeds(task, v.name, episodes)),
                        tuple(float(x) for x in rng.normal(loc, 10.0, episodes)),
                        tuple(int(x) for x in rng.integers(1, 900, episodes)), env_settings(v))
        for v in variations(task))
    return Results(PROTOCOL_VERSION, __version__, "2026-11-28T05:00:00+00:00", task, holdout,
                   "my_agent.py", SHA, episodes, episodes == EPISODES, 1, 1.0, per_variation).to_dict()


def write_json(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj))
    return path


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (relative path -> bytes)."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def submission(task: str, folds: list[str], name: str, episodes: int = EPISODES, loc: float = 100.0) -> dict:
    results = [results_dict(task, fold, episodes, loc, seed=i) for i, fold in enumerate(folds)]
    return make_submission(results, name=name, submitted="2026-11-28T05:00:00+00:00", **META)
