"""Steps per second of our default envs and of the upstream ones, in the same run.

Run: ``pytest benchmarks/test_env_throughput.py --benchmark-only``. Each round steps a
seeded episode with a fixed action sequence for ``STEPS`` steps (resetting when it ends),
on one core. The ratio ours/upstream is printed at the end of the session.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

STEPS = {"car": 200, "ant": 1000}
PAIRS = {
    "car": ("CarRacingDefault-v0", "CarRacing-v3"),
    "ant": ("AntDefault-v0", "AntBulletEnv-v0"),
}
_RATES: dict[str, float] = {}


def _actions(task: str, env: gym.Env) -> np.ndarray:
    rng = np.random.default_rng(0)
    if task == "car":  # full gas and a weave, so the car keeps finding new tiles
        steer = 0.3 * np.sin(np.arange(STEPS[task]) / 10)
        return np.stack([steer, np.ones_like(steer), np.zeros_like(steer)], axis=1).astype(np.float32)
    return rng.uniform(-1, 1, size=(STEPS[task], env.action_space.shape[0])).astype(np.float32)


def _run(env: gym.Env, actions: np.ndarray) -> int:
    env.reset(seed=0)
    for action in actions:
        *_, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset(seed=0)
    return len(actions)


@pytest.mark.parametrize("task", list(PAIRS))
@pytest.mark.parametrize("side", ["ours", "upstream"])
def test_steps_per_second(benchmark, task, side):
    env_id = PAIRS[task][0 if side == "ours" else 1]
    env = gym.make(env_id)
    actions = _actions(task, env)
    env.reset(seed=0)
    steps = benchmark.pedantic(_run, args=(env, actions), rounds=3, iterations=1, warmup_rounds=1)
    rate = steps / benchmark.stats.stats.mean
    benchmark.extra_info["steps_per_second"] = rate
    _RATES[env_id] = rate
    env.close()


def teardown_module(module):
    for task, (ours, upstream) in PAIRS.items():
        if ours in _RATES and upstream in _RATES:
            print(
                f"\n{task}: {ours} {_RATES[ours]:.0f} steps/s, {upstream} {_RATES[upstream]:.0f} steps/s,"
                f" ratio {_RATES[ours] / _RATES[upstream]:.2f}"
            )
