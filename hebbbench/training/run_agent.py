"""A training run as an agent: what a run directory's ``agent.py`` loads and acts with."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from hebbbench.agents import ObservationNormalizer, ObservationStats, ReferenceAgent
from hebbbench.agents.networks import POLICIES
from hebbbench.es import (
    Strategy,
)
from hebbbench.training.run_dir import BEST_FILE, CHECKPOINT_FILE, CONFIG_FILE, TrainConfig, load_state, make_strategy

AGENT_TEMPLATE = '''"""Agent file written by `hebbbench train`: the {agent} agent on {task}, trained with
{holdout!r} held out.

By default it acts as the paper's evaluation script did: with the search distribution of
the generation whose population had the best mean training fitness (best.pt), drawing a
fresh individual from it at each episode, seeded by the episode's seed, with that
generation's sigma. Options (`hebbbench evaluate DIR --agent-option KEY=VALUE`):
checkpoint=best|final (final: the last generation, checkpoint.pt) and
sigma=checkpoint|S (a number; 0 acts with the distribution's mean itself).

Evaluate it with: hebbbench evaluate <this directory> --task {task}
"""

from pathlib import Path

from hebbbench.training.run_agent import load_run_agent


def make_agent(task, holdout, observation_space, action_space, checkpoint="best", sigma="checkpoint"):
    return load_run_agent(Path(__file__).parent, task, holdout, checkpoint=checkpoint, sigma=sigma)
'''

#: Mixed with an episode's seed to seed its parameter sample, so that the sample and the
#: Hebbian agent's initial weights (seeded by the episode's seed itself) are independent.
_SAMPLE_STREAM = 0x5A3B1E
#: Which saved distribution a run directory's agent acts with.
RUN_CHECKPOINTS = {"best": BEST_FILE, "final": CHECKPOINT_FILE}


class SampledRunAgent:
    """A run's search distribution as an agent: at each ``reset(seed)`` it draws one
    individual from the distribution (``strategy.sample``) with std ``sigma``, seeded by
    the episode's seed, and acts with it for the episode. Same seed, same individual.
    ``normalizer``: the observation normalisation the distribution was trained with."""

    def __init__(self, network: str, task: str, strategy: Strategy, sigma: float,
                 normalizer: ObservationNormalizer | None = None) -> None:
        self.network, self.task, self.strategy, self.sigma = network, task, strategy, sigma
        self.normalizer = normalizer
        self.agent: ReferenceAgent | None = None
        if POLICIES[network].uses_reward:  # pass each step's reward on, as the agent interface does
            self.observe = self._observe

    def reset(self, seed: int | None) -> None:
        """Draw this episode's individual from ``seed`` (``None``: a random one)."""
        seed = int(np.random.SeedSequence().generate_state(1)[0]) if seed is None else int(seed)
        sample_seed = int(np.random.SeedSequence((seed, _SAMPLE_STREAM)).generate_state(1)[0])
        self.agent = ReferenceAgent(self.network, self.task, self.strategy.sample(sample_seed, self.sigma),
                                    self.normalizer)
        self.agent.reset(seed)

    def act(self, observation: np.ndarray) -> np.ndarray:
        if self.agent is None:
            raise RuntimeError("call reset(seed) before act()")
        return self.agent.act(observation)

    def _observe(self, reward: float, terminated: bool, truncated: bool) -> None:
        self.agent.observe(reward, terminated, truncated)


def load_run_agent(run_dir: str | Path, task: str, holdout: str | None = None, *, checkpoint: str = "best",
                   sigma: float | str = "checkpoint") -> ReferenceAgent | SampledRunAgent:
    """The K=1 agent of the run in ``run_dir``.

    ``checkpoint``: ``"best"`` (default; ``best.pt``, the search distribution of the
    generation with the best population-mean training fitness, as the paper's ``best.t``)
    or ``"final"`` (``checkpoint.pt``, after the last generation). ``sigma``:
    ``"checkpoint"`` (default) draws a fresh individual at each episode with that
    distribution's own std (as the paper's evaluation: one sample per episode); a number
    S > 0 draws with std S; 0 acts with the distribution's mean itself (for shared rules,
    each synapse's most probable rule). ``holdout``: the variation an evaluation holds out;
    refused if the run trained on it, since its score there would not measure
    generalisation."""
    run_dir = Path(run_dir)
    if checkpoint not in RUN_CHECKPOINTS:
        raise ValueError(f"checkpoint must be one of {', '.join(RUN_CHECKPOINTS)}, got {checkpoint!r}")
    if sigma != "checkpoint" and (isinstance(sigma, bool) or not isinstance(sigma, (int, float))
                                  or not np.isfinite(sigma) or sigma < 0):
        raise ValueError(f"sigma must be 'checkpoint' or a number >= 0, got {sigma!r}")
    config = TrainConfig.from_file(run_dir / CONFIG_FILE)
    if task != config.task:
        raise ValueError(f"this run trained a {config.task} agent; it cannot act on task {task!r}")
    if holdout in config.variations:
        raise ValueError(f"this run trained on {holdout!r}, so it cannot be evaluated with {holdout!r} held out; "
                         f"it held out {config.holdout!r}")
    path = run_dir / RUN_CHECKPOINTS[checkpoint]
    if not path.is_file():
        other = "final" if checkpoint == "best" else "best"
        why = ("runs of hebbbench 0.1 kept only the final distribution" if checkpoint == "best"
               else "a half-precision snapshot keeps only the best generation")
        raise ValueError(f"{str(run_dir)!r} has no {path.name} ({why}): evaluate it with "
                         f"--agent-option checkpoint={other}")
    # Memory-mapped: the checkpoint's pages are read once into the strategy's tensors, and
    # evaluation workers on one machine share them in the page cache.
    saved = load_state(path)
    state = saved["strategy"]
    stats = saved.get("observation_stats")  # the normaliser this distribution acted with
    normalizer = None if stats is None else ObservationStats.from_state(stats).normalizer()
    if state.get("kind") == "gaussian-mixture":
        # Sampling needs the distribution, not Adam's moments (2 x 604 MB at ant rho = 1):
        # restore it into an SGD strategy, which keeps none.
        config = dataclasses.replace(config, es={**config.es, "optimizer": "sgd"})
        state = {**state, "config": {**state["config"], "optimizer": "sgd"}, "moments": {}}
    strategy = make_strategy(config)
    strategy.load_state_dict(state)
    if sigma == 0:
        return ReferenceAgent(config.network, config.task, strategy.solution().numpy(), normalizer)
    return SampledRunAgent(config.network, config.task, strategy, None if sigma == "checkpoint" else float(sigma),
                           normalizer)
