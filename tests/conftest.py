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


@pytest.fixture
def ant_actions():
    """A fixed, seeded sequence of 60 ant actions in [-1, 1]."""
    return np.random.default_rng(7).uniform(-1, 1, size=(60, 8)).astype(np.float32)
