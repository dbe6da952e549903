"""Cost of one network step: batched over 200 individuals vs one module per individual,
and as a fraction of an ant env step.

Run: ``pytest benchmarks/test_hebbian_step.py --benchmark-only -s``. All timings use one
torch thread, as :mod:`hebbbench.training.train` does (episodes run in lockstep with
single-threaded envs). The summary printed at the end gives

* the speed-up of one batched Hebbian step for K=200 individuals (``make_policy(...,
  [200, D]).act``) over 200 separate K=1 agents, each stepped on its own (the reference
  code's approach: one module per individual);
* the network's per-individual step cost as a fraction of one ``AntDefault-v0`` env step
  (the goal is under 10%);
* the car's conv front end for K=64 (``conv_features``) against the textbook stack
  (grouped conv -> tanh -> ``F.max_pool2d``, torch defaults), and the whole batched
  Hebbian car step per individual.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hebbbench.agents import AGENTS, ReferenceAgent, make_policy, parameter_count
from hebbbench.agents.networks import conv_features, max_abs

POPULATION = 200
CAR_BATCH = 64  # the lockstep batch of hebbbench < 0.3 (see benchmarks/test_lockstep_size.py)
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


def _car_front_end_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return (torch.rand(CAR_BATCH, 3, 84, 84, generator=generator),
            torch.randn(CAR_BATCH, 6, 3, 3, 3, generator=generator) * 0.3,
            torch.randn(CAR_BATCH, 8, 6, 5, 5, generator=generator) * 0.3)


def _textbook_front_end(x: torch.Tensor, conv1: torch.Tensor, conv2: torch.Tensor) -> torch.Tensor:
    """Grouped conv -> tanh -> F.max_pool2d twice, with torch's defaults."""
    k = x.shape[0]
    h = x.reshape(1, k * 3, *x.shape[2:])
    h = F.max_pool2d(torch.tanh(F.conv2d(h, conv1.reshape(-1, *conv1.shape[2:]), groups=k)), 2)
    h = F.max_pool2d(torch.tanh(F.conv2d(h, conv2.reshape(-1, *conv2.shape[2:]), stride=2, groups=k)), 2)
    return h.reshape(k, -1)


@pytest.mark.parametrize("side", ["ours", "textbook"])
def test_car_front_end(benchmark, side):
    front_end = conv_features if side == "ours" else _textbook_front_end
    benchmark.pedantic(front_end, args=_car_front_end_inputs(), rounds=20, iterations=1, warmup_rounds=2)
    _record(f"car front end {side}", benchmark, per=CAR_BATCH)


def test_batched_hebbian_car_step(benchmark):
    population = torch.randn(CAR_BATCH, parameter_count("hebbian", "car"),
                             generator=torch.Generator().manual_seed(0)) * 0.1
    policy = make_policy("hebbian", "car", population)
    policy.reset(list(range(CAR_BATCH)))
    frames = np.random.default_rng(0).integers(0, 256, size=(CAR_BATCH, 96, 96, 3), dtype=np.uint8)
    benchmark.pedantic(policy.act, args=(frames,), rounds=20, iterations=1, warmup_rounds=2)
    _record("hebbian car step", benchmark, per=CAR_BATCH)


@pytest.mark.parametrize("side", ["ours", "naive"])
def test_car_layer_normalisation(benchmark, side):
    """The car's per-step ``W /= max|W|`` of its 648x128 layer, K = 8 (the Hebbian car's
    lockstep size): ``max_abs`` against ``W.abs().amax``; both divide by the same value."""
    weight = torch.rand(8, 648, 128, generator=torch.Generator().manual_seed(0)) - 0.5
    scale = max_abs if side == "ours" else (lambda w: w.abs().amax(dim=(1, 2), keepdim=True))
    assert torch.equal(scale(weight), weight.abs().amax(dim=(1, 2), keepdim=True))
    benchmark.pedantic(scale, args=(weight,), rounds=200, iterations=1, warmup_rounds=5)
    _record(f"car normalisation {side}", benchmark)


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
    if "car front end ours" in _SECONDS and "car front end textbook" in _SECONDS:
        ours, textbook = _SECONDS["car front end ours"], _SECONDS["car front end textbook"]
        print(f"car front end, K={CAR_BATCH}: ours {ours[0] * 1e6:.0f} us per individual (fastest "
              f"{ours[1] * 1e6:.0f}), textbook {textbook[0] * 1e6:.0f} us (fastest {textbook[1] * 1e6:.0f}); "
              f"speed-up x{textbook[0] / ours[0]:.2f} (fastest rounds x{textbook[1] / ours[1]:.2f})")
    if "car normalisation ours" in _SECONDS and "car normalisation naive" in _SECONDS:
        ours, naive = _SECONDS["car normalisation ours"], _SECONDS["car normalisation naive"]
        print(f"car layer max|W|, K=8: ours {ours[0] * 1e6:.0f} us (fastest {ours[1] * 1e6:.0f}), abs().amax "
              f"{naive[0] * 1e6:.0f} us (fastest {naive[1] * 1e6:.0f}); speed-up x{naive[0] / ours[0]:.2f}")
    if "hebbian car step" in _SECONDS:
        mean, fastest = _SECONDS["hebbian car step"]
        print(f"hebbian car network, batched x{CAR_BATCH}: {mean * 1e6:.0f} us per individual step "
              f"(fastest round {fastest * 1e6:.0f} us)")
