"""A batch of training episodes played in lockstep: K individuals of one population on one
variation, one batched policy call per step (what every rollout backend runs)."""

from __future__ import annotations

import collections
import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
import torch

import hebbbench  # noqa: F401  (registers the env IDs, also in worker processes)
from hebbbench.agents import ObservationNormalizer, make_policy

#: Episodes a batch plays in lockstep, per (task, network); others get DEFAULT_LOCKSTEP.
#: The fastest sizes on one core by ``benchmarks/test_lockstep_size.py`` (docs/scaling.md):
#: the Hebbian car's ``[K, 648, 128]`` weights stay nearer the cache at K = 8. The size also
#: bounds a worker's envs (pybullet allows about a thousand physics clients per process).
LOCKSTEP_SIZE = {("car", "hebbian"): 8}
DEFAULT_LOCKSTEP = 16
#: On a GPU a batch is one kernel launch per layer whatever K, so larger batches pay, up to
#: about this size (measured on an H200: docs/scaling.md).
GPU_LOCKSTEP = 256
#: Envs a worker keeps between batches; the least recently used env IDs are closed beyond it.
MAX_CACHED_ENVS = 384


def lockstep_size(task: str, network: str, device: str = "cpu") -> int:
    """The most episodes of ``network`` on ``task`` one batch plays in lockstep, with its
    policy on ``device``."""
    if torch.device(device).type != "cpu":
        return GPU_LOCKSTEP
    return LOCKSTEP_SIZE.get((task, network), DEFAULT_LOCKSTEP)


@dataclass(frozen=True)
class EpisodeBatch:
    """Individuals ``start .. stop - 1`` each play one episode of ``env_id``, in lockstep.

    ``seed_period`` 0: every env is reset with ``env_seed`` and every policy with
    ``weight_seed`` (common random numbers); ``n`` > 0: individual ``i`` meets episode
    ``i mod n``, its seeds derived from (``env_seed``, ``i mod n``) and (``weight_seed``,
    ``i mod n``), so ``n = P/2`` gives each mirrored pair (i, i + P/2) its own episode and
    ``n = P`` each individual. ``max_episode_steps`` shortens the episode (``None``: the
    env's own limit). ``network``/``task`` name the reference policy that acts, and
    ``device`` where its arithmetic runs (the envs always run on the CPU). ``normalizer``:
    the generation's observation normalisation (``None``: off); with it, the batch also
    reports the statistics of the raw observations its policies saw.
    """

    network: str
    task: str
    env_id: str
    env_seed: int
    weight_seed: int
    start: int
    stop: int
    max_episode_steps: int | None = None
    seed_period: int = 0
    device: str = "cpu"
    normalizer: ObservationNormalizer | None = None

    @property
    def size(self) -> int:
        return self.stop - self.start

    def seeds(self) -> tuple[list[int], list[int]]:
        """The env seeds and the policy (Hebbian weight) seeds of individuals ``start .. stop - 1``."""
        if self.seed_period == 0:
            return [self.env_seed] * self.size, [self.weight_seed] * self.size
        episodes = [i % self.seed_period for i in range(self.start, self.stop)]
        return ([derived_seed(self.env_seed, e) for e in episodes],
                [derived_seed(self.weight_seed, e) for e in episodes])


def derived_seed(base: int, index: int) -> int:
    """A 32-bit seed for episode ``index`` of a batch seeded ``base`` (independent streams)."""
    return int(np.random.SeedSequence((base, index)).generate_state(1)[0])


def split_batches(template: EpisodeBatch, at_least: int) -> list[EpisodeBatch]:
    """Cut ``template``'s individuals (``start .. stop - 1``, on its variation) into near-equal
    batches of at most :func:`lockstep_size`, and at least ``at_least`` of them (one per worker
    for a whole population, so every worker has work)."""
    size = lockstep_size(template.task, template.network, template.device)
    count = min(template.size, max(at_least, math.ceil(template.size / size)))
    bounds = [template.start + i * template.size // count for i in range(count + 1)]
    return [dataclasses.replace(template, start=start, stop=stop) for start, stop in zip(bounds, bounds[1:])]


@dataclass(frozen=True)
class LockstepOutcome:
    """What :func:`play_lockstep` measured: ``returns`` ``[K]`` float64, ``lengths`` ``[K]``
    policy steps (int64), and with observation statistics each episode's per-feature sum and
    sum of squares of the observations its policy acted on, ``[K, F]`` float64 (``lengths``
    counts them; else ``None``)."""

    returns: np.ndarray
    lengths: np.ndarray
    observation_sums: np.ndarray | None = None
    observation_squares: np.ndarray | None = None


@dataclass(frozen=True)
class BatchResult(LockstepOutcome):
    """A batch's outcome as a worker reports it: its :class:`LockstepOutcome` and the
    ``seconds`` the worker spent on it (wall clock)."""

    seconds: float = 0.0


def play_lockstep(envs: Sequence[gym.Env], policy: Any, env_seeds: Sequence[int],
                  weight_seeds: Sequence[int], observation_stats: bool = False) -> LockstepOutcome:
    """One episode in each of the K ``envs`` for the K individuals of ``policy``.

    Env k is reset with ``env_seeds[k]`` and the policy with ``weight_seeds``; each step is
    one batched policy call, and only the envs whose episode is still running are stepped;
    then the policy observes the step's rewards and which episodes are over (``observe``).
    ``observation_stats``: also sum each episode's raw observations and their squares
    (an episode's own sums, so they do not depend on which batch played it)."""
    observations = np.stack([env.reset(seed=seed)[0] for env, seed in zip(envs, env_seeds)])
    policy.reset(list(weight_seeds))
    returns = np.zeros(len(envs))
    lengths = np.zeros(len(envs), dtype=np.int64)
    running = np.ones(len(envs), dtype=bool)
    sums = np.zeros(observations.shape, dtype=np.float64) if observation_stats else None
    squares = np.zeros(observations.shape, dtype=np.float64) if observation_stats else None
    while running.any():
        if observation_stats:
            seen = observations[running].astype(np.float64)
            sums[running] += seen
            squares[running] += seen**2
        actions = policy.act(observations)
        rewards = np.zeros(len(envs))
        for k in np.flatnonzero(running):
            observation, reward, terminated, truncated, _ = envs[k].step(actions[k])
            observations[k] = observation
            rewards[k] = reward
            lengths[k] += 1
            running[k] = not (terminated or truncated)
        returns += rewards
        policy.observe(rewards, ~running)
    return LockstepOutcome(returns, lengths, sums, squares)


class EpisodeWorker:
    """What a worker holds between batches: its envs and the population it last received."""

    def __init__(self, max_cached_envs: int = MAX_CACHED_ENVS) -> None:
        self.max_cached_envs = max_cached_envs
        self._envs: collections.OrderedDict[tuple[str, int | None], list[gym.Env]] = collections.OrderedDict()
        self._population: Any = None

    def run(self, batch: EpisodeBatch, population: Any = None) -> BatchResult:
        """Play ``batch``; ``population`` (a compact population) replaces the one held, if given."""
        start = time.perf_counter()
        if population is not None:
            self._population = population
        if self._population is None:
            raise RuntimeError("this worker has not been sent a population yet")
        policy = make_policy(batch.network, batch.task, self._population.rows(batch.start, batch.stop),
                             batch.device, batch.normalizer)
        envs = self._envs_for(batch.env_id, batch.max_episode_steps, batch.size)
        played = play_lockstep(envs, policy, *batch.seeds(), observation_stats=batch.normalizer is not None)
        return BatchResult(played.returns, played.lengths, played.observation_sums, played.observation_squares,
                           seconds=time.perf_counter() - start)

    def _envs_for(self, env_id: str, max_episode_steps: int | None, count: int) -> list[gym.Env]:
        key = (env_id, max_episode_steps)
        envs = self._envs.pop(key, [])
        extra = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
        envs.extend(gym.make(env_id, **extra) for _ in range(count - len(envs)))
        self._envs[key] = envs  # most recently used last
        while len(self._envs) > 1 and sum(map(len, self._envs.values())) > self.max_cached_envs:
            for env in self._envs.popitem(last=False)[1]:
                env.close()
        return envs[:count]

    def close(self) -> None:
        for envs in self._envs.values():
            for env in envs:
                env.close()
        self._envs.clear()
