"""How far the paper's velocity camera turns from CarRacing-v3's hull camera, per variation.

Not a timing: ``python -m pytest benchmarks/test_car_camera_angles.py -s`` drives
``examples/simple_agent.py`` (a road follower) for three seeded episodes on each car
variation and prints, over all steps, the median angle between the two views and the
share of steps where they are more than 10 and 30 degrees apart.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

from hebbbench.envs import variations
from hebbbench.evaluation.agent_file import load_agent_factory

SEEDS = (0, 1, 2)
_LINES: list[str] = []


def _angle_between(env) -> float:
    """Degrees between the velocity camera's view angle and the hull's, in [0, 180]."""
    difference = env.camera_angle() + env.car.hull.angle
    return abs(math.degrees(math.atan2(math.sin(difference), math.cos(difference))))


@pytest.mark.parametrize("variation", [v.name for v in variations("car")])
def test_camera_angle_difference(variation):
    env_id = next(v.env_id for v in variations("car") if v.name == variation)
    env = gym.make(env_id)
    agent = load_agent_factory("examples/simple_agent.py")("car", "pushed-right", env.observation_space,
                                                             env.action_space)
    angles = []
    for seed in SEEDS:
        observation, _ = env.reset(seed=seed)
        agent.reset(seed)
        done = False
        while not done:
            observation, _, terminated, truncated, _ = env.step(agent.act(observation))
            angles.append(_angle_between(env.unwrapped))
            done = terminated or truncated
    angles = np.array(angles)
    _LINES.append(f"{variation:16s} steps {len(angles):5d}  median {np.median(angles):5.1f} deg  "
                  f"> 10 deg {np.mean(angles > 10):6.1%}  > 30 deg {np.mean(angles > 30):6.1%}")


def teardown_module(module):
    print("\nvelocity camera vs hull camera, examples/simple_agent.py, seeds", SEEDS)
    for line in _LINES:
        print(line)
