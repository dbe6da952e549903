"""Cost of one network step: batched over 200 individuals vs one module per individual,
and as a fraction of an ant env step.

Run: ``pytest benchmarks/test_hebbian_step.py --benchmark-only -s``. All timings use one
torch thread, as :mod:`hebbbench.train` does (episodes run in lockstep with
single-threaded envs). The summary printed at the end gives

* the speed-up of one batched Hebbian step for K=200 individuals (``make_policy(...,
  [200, D]).act``) over 200 separate K=1 agents, each stepped on its own (the reference
  code's approach: one module per individual);
* the network's per-individual step cost as a fraction of one ``AntDefault-v0`` env step
  (the goal is under 10%).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from hebbbench.agents import AGENTS, ReferenceAgent, make_policy, parameter_count

POPULATION = 200
ENV_STEPS = 300
#: Mean and fastest round, seconds, per measurement: on a shared machine the fastest round
#: is the better estimate of the intrinsic cost, so both are printed.
_SECONDS: dict[str, tuple[float, float]] = {}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _record(name: str, benchmark, per: int = 1) -> None:
    stats = benchmark.stats.stats
    _SECONDS[name] = (stats.mean / per, stats.min / per)


def _population(agent: str) -> torch.Tensor:
    return torch.randn(POPULATION, parameter_count(agent, "ant"), generator=torch.Generator().manual_seed(0)) * 0.1


def _observations() -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, size=(POPULATION, 28)).astype(np.float32)


@pytest.mark.parametrize("agent", AGENTS)
def test_batched_step(benchmark, agent):
    policy = make_policy(agent, "ant", _population(agent))
    policy.reset(list(range(POPULATION)))
    observations = _observations()
    benchmark.pedantic(policy.act, args=(observations,), rounds=50, iterations=1, warmup_rounds=3)
    _record(f"batched {agent}", benchmark)


def test_one_module_per_individual_hebbian_step(benchmark):
    population = _population("hebbian")
    agents = [ReferenceAgent("hebbian", "ant", population[k]) for k in range(POPULATION)]
    for k, agent in enumerate(agents):
        agent.reset(k)
    observations = _observations()

    def step_each() -> None:
        for agent, observation in zip(agents, observations):
            agent.act(observation)

    benchmark.pedantic(step_each, rounds=10, iterations=1, warmup_rounds=1)
    _record("per-individual hebbian", benchmark)


def test_ant_env_step(benchmark):
    env = gym.make("AntDefault-v0")
    actions = np.random.default_rng(0).uniform(-1, 1, size=(ENV_STEPS, 8)).astype(np.float32)

    def run() -> None:
        env.reset(seed=0)
        for action in actions:
            *_, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset(seed=0)

    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    _record("env step", benchmark, per=ENV_STEPS)  # includes one reset per round
    env.close()


def teardown_module(module):
    def ms(seconds: tuple[float, float]) -> str:
        return f"{seconds[0] * 1e3:.2f} ms (fastest {seconds[1] * 1e3:.2f})"

    if "batched hebbian" in _SECONDS and "per-individual hebbian" in _SECONDS:
        batched, single = _SECONDS["batched hebbian"], _SECONDS["per-individual hebbian"]
        print(f"\nhebbian ant step, {POPULATION} individuals: batched {ms(batched)}, one module each {ms(single)};"
              f" speed-up x{single[0] / batched[0]:.1f} (fastest rounds x{single[1] / batched[1]:.1f})")
    if "env step" in _SECONDS:
        env_step = _SECONDS["env step"]
        print(f"AntDefault-v0 step: {env_step[0] * 1e6:.0f} us (fastest round {env_step[1] * 1e6:.0f} us)")
        for agent in AGENTS:
            if f"batched {agent}" in _SECONDS:
                mean, fastest = (t / POPULATION for t in _SECONDS[f"batched {agent}"])
                print(f"{agent} network, batched x{POPULATION}: {mean * 1e6:.1f} us per individual step = "
                      f"{100 * mean / env_step[0]:.1f}% of an env step (fastest rounds: {fastest * 1e6:.1f} us = "
                      f"{100 * fastest / env_step[1]:.1f}%; goal < 10%)")
