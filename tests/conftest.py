"""Shared test helpers: short, real rollouts."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import hebbbench  # noqa: F401  (registers the env IDs)


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
    from hebbbench.train import EXECUTION_KEYS, read_log

    return [{k: v for k, v in row.items() if k not in EXECUTION_KEYS} for row in read_log(run_dir)]


@pytest.fixture
def ant_actions():
    """A fixed, seeded sequence of 60 ant actions in [-1, 1]."""
    return np.random.default_rng(7).uniform(-1, 1, size=(60, 8)).astype(np.float32)
