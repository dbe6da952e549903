"""Which lockstep batch size K plays a population fastest on one core, per task and agent.

Run: ``pytest benchmarks/test_lockstep_size.py -s`` (a few minutes; run it on a quiet
machine). Each round plays the same 64 individuals (random parameters, seeded) on the
default variation through :func:`~hebbbench.training.lockstep.play_lockstep`, as 64 / K batches of
K, with episodes of a fixed length (car: 100 steps, the negative-reward rule off; ant: 200
steps), so the time is the whole training step per individual: env and batched policy.
The summary gives microseconds per individual and step for each K and the ratio to K = 64
(the one size used for all before). :data:`hebbbench.training.lockstep.LOCKSTEP_SIZE` takes its
per-task, per-agent sizes from this benchmark.
"""

from __future__ import annotations

import time

import gymnasium as gym
import pytest
import torch

from hebbbench.agents import make_policy, parameter_count
from hebbbench.training.lockstep import play_lockstep

POPULATION = 64
SIZES = (8, 16, 32, 64)
EPISODE = {"car": ("CarRacingDefault-v0", 100, {"max_negative_steps": None}), "ant": ("AntDefault-v0", 200, {})}
_MEASURED: dict[tuple[str, str], dict[int, float]] = {}


@pytest.mark.parametrize("task", ["car", "ant"])
@pytest.mark.parametrize("agent", ["hebbian", "static"])
def test_us_per_individual_step(agent, task):
    torch.set_num_threads(1)
    env_id, steps, kwargs = EPISODE[task]
    population = torch.randn(POPULATION, parameter_count(agent, task), generator=torch.Generator().manual_seed(0))
    envs = [gym.make(env_id, max_episode_steps=steps, **kwargs) for _ in range(POPULATION)]
    timings = {}
    for size in SIZES:
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            played = 0
            for first in range(0, POPULATION, size):
                policy = make_policy(agent, task, population[first:first + size])
                outcome = play_lockstep(envs[first:first + size], policy, range(first, first + size),
                                        range(first, first + size))
                played += int(outcome.lengths.sum())
            best = min(best, (time.perf_counter() - start) / played)
        timings[size] = best * 1e6
    for env in envs:
        env.close()
    _MEASURED[agent, task] = timings


def test_summary():
    for (agent, task), timings in _MEASURED.items():
        row = ", ".join(f"K={k}: {t:.0f} us ({timings[64] / t:.2f}x)" for k, t in timings.items())
        print(f"\n{agent} {task}: {row}")
