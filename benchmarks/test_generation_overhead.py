"""What a generation costs besides its episodes, and what that means for many workers.

Run: ``pytest benchmarks/test_generation_overhead.py -s`` (a few minutes). For the paper's
Hebbian agents at the paper's budgets (ant: population 500, D = 61,440; car: population
200, D = 458,002; 4 training variations) it measures:

* ``driver``: the trainer's serial work per generation (``ask``, ``compact_population``,
  the coefficient penalty, ``tell``), seconds;
* ``rebuild``: a worker rebuilding one individual from the mean and its seed, seconds;
* ``bytes``: what a worker receives per generation (the pickled compact population);
* ``reset``, ``step``, ``policy``: an episode's parts: one env reset with a new seed, one
  env step, and the batched policy's step per individual at
  :func:`~hebbbench.training.lockstep.lockstep_size`; ``reset_kept``: a reset with the last reset's
  seed (the car keeps its track then; in training, with shared episode seeds, most resets
  are of this kind; the projection uses ``reset``, the dearer);
* ``latency``: a local-pool batch round trip beyond the worker's own time (1-step
  episodes, 2 workers), seconds per batch.

At the end it prints the projected generation time and speed-up on W = 1, 8, 32, 128
workers (model in docs/scaling.md), with every episode at the full 1000 policy steps.
"""

from __future__ import annotations

import math
import pickle
import time

import gymnasium as gym
import numpy as np
import pytest
import torch

from hebbbench.agents import hebbian_slice, make_policy, parameter_count
from hebbbench.envs import get_variation
from hebbbench.es import OpenAIES, OpenAIESConfig, coefficient_penalty
from hebbbench.training.lockstep import EpisodeBatch, lockstep_size, split_batches
from hebbbench.training.rollouts import LocalPoolBackend

PAPER = {"ant": 500, "car": 200}  # population
VARIATIONS = 4
EPISODE_STEPS = 1000  # policy steps of a full episode (the ant: 960 after 40 burn-in steps)
WORKERS = (1, 8, 32, 128)
_MEASURED: dict[str, dict[str, float]] = {task: {} for task in PAPER}


def _best(function, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


@pytest.mark.parametrize("task", list(PAPER))
def test_driver_and_rebuild(task):
    torch.set_num_threads(1)
    dimension = parameter_count("hebbian", task)
    strategy = OpenAIES(torch.zeros(dimension), OpenAIESConfig(population_size=PAPER[task]), seed=0)
    fitness = np.random.default_rng(0).normal(size=PAPER[task])

    def generation():
        population = strategy.ask()
        strategy.compact_population()
        coefficient_penalty(population, hebbian_slice("hebbian", task))
        strategy.tell(fitness)

    m = _MEASURED[task]
    m["driver"] = _best(generation, repeat=2)
    strategy.ask()
    compact = strategy.compact_population()
    m["rebuild"] = _best(lambda: compact.rows(0, 16)) / 16
    m["bytes"] = len(pickle.dumps(compact, protocol=pickle.HIGHEST_PROTOCOL))
    assert m["bytes"] < 4 * dimension + 4096  # the mean and a few numbers, not P x D


@pytest.mark.parametrize("task", list(PAPER))
def test_episode_parts(task):
    torch.set_num_threads(1)
    env_id = get_variation(task, "default").env_id
    env = gym.make(env_id, max_episode_steps=10_000)
    m = _MEASURED[task]
    seeds = iter(range(1, 1_000_000))
    m["reset"] = _best(lambda: env.reset(seed=next(seeds)))
    m["reset_kept"] = _best(lambda: env.reset(seed=0))
    observation, _ = env.reset(seed=0)
    action = env.action_space.sample() * 0
    if task == "car":
        action[1] = 1.0  # full gas: the car keeps finding tiles
    m["step"] = _best(lambda: [env.step(action) for _ in range(200)]) / 200
    size = lockstep_size(task, "hebbian")
    population = torch.randn(size, parameter_count("hebbian", task)) * 0.1
    policy = make_policy("hebbian", task, population)
    policy.reset([0] * size)
    observations = np.stack([observation] * size)
    m["policy"] = _best(lambda: [policy.act(observations) for _ in range(20)]) / 20 / size
    env.close()


def test_local_pool_latency():
    population = PAPER["ant"]
    strategy = OpenAIES(torch.zeros(parameter_count("hebbian", "ant")), OpenAIESConfig(population_size=population),
                        seed=0)
    strategy.ask()
    compact = strategy.compact_population()
    template = EpisodeBatch("hebbian", "ant", "AntDefault-v0", 0, 0, 0, population, max_episode_steps=1)
    batches = [b for _ in range(VARIATIONS) for b in split_batches(template, 2)]
    with LocalPoolBackend(workers=2) as backend:
        backend.run(compact, batches)  # warm: envs made, population received
        before = dict(backend.stats)
        start = time.perf_counter()
        backend.run(compact, batches)
        wall = time.perf_counter() - start
        worker = backend.stats["worker_seconds"] - before["worker_seconds"]
    latency = (wall - worker / 2) / (len(batches) / 2)
    for task in PAPER:
        _MEASURED[task]["latency"] = latency


def projected_generation_seconds(m: dict[str, float], task: str, population: int, workers: int) -> float:
    """The model of docs/scaling.md: serial driver work, then rounds of W batches, each
    batch costing its episodes, its rebuild and the round-trip latency."""
    batches = VARIATIONS * min(population, max(workers, math.ceil(population / lockstep_size(task, "hebbian"))))
    per_batch_individuals = VARIATIONS * population / batches
    episode = m["reset"] + EPISODE_STEPS * (m["step"] + m["policy"])
    batch = per_batch_individuals * (episode + m["rebuild"]) + m["latency"]
    return m["driver"] + math.ceil(batches / workers) * batch


def teardown_module(module):
    for task, m in _MEASURED.items():
        if len(m) < 8:
            continue
        print(f"\n{task}: driver {m['driver']:.3f} s/gen, rebuild {m['rebuild'] * 1e3:.2f} ms/individual, "
              f"{m['bytes'] / 1e6:.3f} MB per worker per generation, reset {m['reset'] * 1e3:.1f} ms "
              f"(same seed again {m['reset_kept'] * 1e3:.1f} ms), "
              f"step {m['step'] * 1e6:.0f} us, policy {m['policy'] * 1e6:.1f} us/individual, "
              f"batch latency {m['latency'] * 1e3:.1f} ms")
        one = projected_generation_seconds(m, task, PAPER[task], 1)
        for workers in WORKERS:
            seconds = projected_generation_seconds(m, task, PAPER[task], workers)
            print(f"  W={workers:>3}: {seconds:8.1f} s/generation, speed-up {one / seconds:6.1f}x, "
                  f"{workers * m['bytes'] / 1e6:8.1f} MB sent per generation")
