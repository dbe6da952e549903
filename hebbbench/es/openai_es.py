"""OpenAI-ES (Salimans et al. 2017) with an ask/tell interface, as the paper runs it.

The search distribution is N(mean, sigma^2 I) over D parameters. Each generation:

* ``ask()`` draws P/2 noise vectors eps and returns the mirrored population
  ``mean + sigma * [eps; -eps]``, shaped ``[P, D]``;
* ``tell(fitness)`` shapes the P fitnesses into centered ranks in [-0.5, 0.5], z-scores
  them, estimates the gradient ``mean_i(shaped_i * eps_i) / sigma`` and takes one ascent
  step with SGD, Adam or ClipUp. The learning rate and sigma then decay geometrically.

Noise row j of generation g is drawn from its own generator seeded by ``(seed, g, j)``
(:mod:`hebbbench.es.population`), so a rollout worker can rebuild any individual from the
mean and the seeds, and the state
is just the mean, the generation counter and the optimiser's state: saved and restored
exactly by :meth:`OpenAIES.state_dict` / :meth:`OpenAIES.load_state_dict`. The strategy
knows nothing about environments.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from hebbbench.es.base import ScheduledStrategy, ascent_step, check_settings, checked_fitness
from hebbbench.es.population import MirroredPopulation

#: How ``ask()`` draws its noise (row j of generation g from seed (seed, g, j)), saved with
#: the state: a run saved under another scheme would not continue the same numbers
#: (``hebbbench.training.train.resume`` refuses it; sampling or evaluating it is fine).
NOISE_SCHEME = "per-row-seeds/1"


@dataclass(frozen=True)
class OpenAIESConfig:
    """Hyper-parameters; defaults are the paper's (SGD, lr 0.2 x 0.995/gen, sigma 0.1 x 0.999/gen).

    The paper's best setting for shared rules is ``optimizer="adam", lr=1.0, lr_decay=0.9931``.
    ``weight_decay``: L2 coefficient c; each step ascends ``gradient - c * mean`` (Salimans
    et al. 2017 used 0.005 on MuJoCo; the paper used none: 0).
    ``optimizer="clipup"`` (Toklu et al. 2020): ``lr`` is ClipUp's step size,
    ``clipup_momentum`` its momentum and ``max_speed`` its speed limit (``None``: 2 x the
    generation's lr).
    """

    population_size: int
    sigma: float = 0.1
    sigma_decay: float = 0.999
    lr: float = 0.2
    lr_decay: float = 0.995
    optimizer: str = "sgd"
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    weight_decay: float = 0.0
    clipup_momentum: float = 0.9
    max_speed: float | None = None

    def __post_init__(self) -> None:
        if self.population_size < 2 or self.population_size % 2:
            raise ValueError("population_size must be an even number >= 2 (mirrored sampling), "
                             f"got {self.population_size}")
        check_settings(self)
        if isinstance(self.weight_decay, bool) or not isinstance(self.weight_decay, (int, float)) \
                or not 0 <= self.weight_decay < 1:
            raise ValueError(f"weight_decay must lie in [0, 1), got {self.weight_decay!r}")


def centered_ranks(fitness: torch.Tensor) -> torch.Tensor:
    """Ranks of ``fitness`` ``[P]`` mapped linearly onto [-0.5, 0.5] (lowest -> -0.5).

    Tied values share the mean of the ranks they span (fractional ranking), so individuals
    that did equally well weigh equally and a mirrored pair (i, i + P/2) that tied adds
    nothing to the gradient. Ties are common on a deterministic env with shared episode
    seeds (the car); why they matter: docs/baselines.md ("Ties were broken by position")."""
    _, inverse, counts = torch.unique(fitness, sorted=True, return_inverse=True, return_counts=True)
    first = torch.cumsum(counts, 0) - counts
    ranks = (first + (counts - 1) / 2).to(torch.float64)[inverse]
    return ranks / (len(fitness) - 1) - 0.5


def shape_fitness(fitness: torch.Tensor) -> torch.Tensor:
    """Centered ranks, then z-scored (mean 0, std 1): the utilities of the gradient estimate.
    All zeros when every individual tied (no information, so no step)."""
    ranks = centered_ranks(fitness)
    spread = ranks.std()
    if spread == 0:
        return torch.zeros_like(ranks)
    return (ranks - ranks.mean()) / spread


class OpenAIES(ScheduledStrategy):
    """Mirrored-sampling OpenAI-ES over a flat float32 parameter vector of length D.

    ``mean``: the starting mean ``[D]`` (the paper draws it from N(0, 1)); ``seed`` fixes
    every generation's noise.
    """

    config_class = OpenAIESConfig
    #: Populations come as mirrored pairs (i, i + P/2) (trainers' per-pair options rely on it).
    mirrored = True

    def __init__(self, mean: torch.Tensor, config: OpenAIESConfig, seed: int) -> None:
        self.config = config
        self.seed = int(seed)
        self.mean = torch.as_tensor(mean, dtype=torch.float32).clone().reshape(-1)
        self.generation = 0
        self.adam_m = torch.zeros_like(self.mean)
        self.adam_v = torch.zeros_like(self.mean)
        self.velocity = torch.zeros_like(self.mean)
        self._noise: torch.Tensor | None = None
        self._asked: MirroredPopulation | None = None

    def solution(self) -> torch.Tensor:
        """The parameter vector the search distribution stands for: its mean ``[D]``."""
        return self.mean.clone()

    def sample(self, seed: int, sigma: float | None = None) -> torch.Tensor:
        """One individual ``[D]`` of the current distribution, ``mean + sigma * eps``, drawn
        from ``seed`` alone (the same seed gives the same individual; the strategy's own
        random state is untouched). How the paper evaluated a trained distribution.
        ``sigma``: the std to draw with (default: this generation's)."""
        generator = torch.Generator().manual_seed(int(seed))
        sigma = self.sigma if sigma is None else sigma
        return self.mean + sigma * torch.randn(self.mean.shape, generator=generator, dtype=self.mean.dtype)

    def ask(self) -> torch.Tensor:
        """The population of this generation, ``[P, D]`` float32, mirrored pairs (i, i + P/2)."""
        size = self.config.population_size
        self._asked = MirroredPopulation(self.mean.clone(), self.sigma, self.seed, self.generation, size)
        half = self._asked.noise(0, size // 2)
        self._noise = torch.cat([half, -half])
        return self.mean + self.sigma * self._noise

    def compact_population(self) -> MirroredPopulation:
        """The population of the last ``ask()`` as mean, sigma and seeds: what rollout
        workers need to rebuild any of its rows (``4 D`` bytes instead of ``4 P D``)."""
        if self._noise is None:
            raise RuntimeError("compact_population() describes the population of a preceding ask()")
        return self._asked

    def tell(self, fitness: torch.Tensor | np.ndarray) -> dict[str, float]:
        """Update the mean from the fitness ``[P]`` of the population last asked for.

        Returns numbers worth logging: the sigma and lr used, and the gradient's norm."""
        if self._noise is None:
            raise RuntimeError("tell() needs the population of a preceding ask()")
        fitness = checked_fitness(fitness, self.config.population_size)
        utilities = shape_fitness(fitness).to(torch.float32)
        sigma, lr = self.sigma, self.lr
        gradient = utilities @ self._noise / (len(utilities) * sigma)
        direction = gradient - self.config.weight_decay * self.mean if self.config.weight_decay else gradient
        c = self.config
        moments = (self.velocity,) if c.optimizer == "clipup" else (self.adam_m, self.adam_v)
        ascent_step(self.mean, direction, lr, optimizer=c.optimizer, moments=moments, step=self.generation + 1,
                    betas=(c.adam_beta1, c.adam_beta2), eps=c.adam_eps, momentum=c.clipup_momentum,
                    max_speed=c.max_speed)
        self.generation += 1
        self._noise = None
        return {"sigma": sigma, "lr": lr, "grad_norm": float(gradient.norm())}

    def state_dict(self) -> dict:
        """Everything needed to continue exactly: config, seed, generation, mean, Adam moments
        (and ClipUp's velocity when it is the optimiser)."""
        return {
            "kind": "openai-es",
            "noise": NOISE_SCHEME,
            "config": asdict(self.config),
            "seed": self.seed,
            "generation": self.generation,
            "mean": self.mean.clone(),
            "adam_m": self.adam_m.clone(),
            "adam_v": self.adam_v.clone(),
            **({"velocity": self.velocity.clone()} if self.config.optimizer == "clipup" else {}),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`; the next ``ask()`` is the one the saved run would have made.
        Missing optimiser tensors (a state saved for evaluation) start at zero."""
        if state.get("kind") != "openai-es":
            raise ValueError(f"not an OpenAI-ES state (kind {state.get('kind')!r})")
        self.config = OpenAIESConfig(**state["config"])
        self.seed = int(state["seed"])
        self.generation = int(state["generation"])
        self.mean = state["mean"].clone()
        # A distribution saved for evaluation alone (best.pt) keeps no optimiser state.
        self.adam_m, self.adam_v, self.velocity = (state[key].clone() if key in state else torch.zeros_like(self.mean)
                                                   for key in ("adam_m", "adam_v", "velocity"))
        self._noise = None
