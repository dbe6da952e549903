"""PGPE (Sehnke et al. 2010) with symmetric sampling and per-parameter sigma, its mean moved
by ClipUp (Toklu et al. 2020): EvoTorch's default recipe for locomotion.

The search distribution is N(mean, diag(sigma^2)) over D parameters. Each generation:

* ``ask()`` draws P/2 unit-normal noise rows z (row j from its own seed, as OpenAI-ES:
  :class:`~hebbbench.es.population.MirroredPopulation`) and returns the mirrored population
  ``mean + sigma * [z; -z]``, shaped ``[P, D]``: pair (i, i + P/2);
* ``tell(fitness)`` shapes the P fitnesses into centered ranks u in [-0.5, 0.5] (no
  z-scoring, as EvoTorch's ``ranking_method="centered"``) and, with eps = sigma * z,
  estimates over the P/2 directions

      grad_mean  = mean_j ((u+_j - u-_j) / 2 * eps_j)
      grad_sigma = mean_j ((u+_j + u-_j) / 2 * (eps_j^2 - sigma^2) / sigma)

  then takes one ascent step on the mean (ClipUp by default; Adam or SGD), and moves
  sigma by ``sigma_lr * grad_sigma``, each element changed by at most ``sigma_max_change``
  of its value (EvoTorch's ``stdev_max_change``, 0.2).

These are EvoTorch's ``pgpe``/``pgpe_tell`` updates (``tests/test_pgpe.py`` checks them
against EvoTorch's own on the same population); tied fitnesses here share their mean rank
(:func:`~hebbbench.es.openai_es.centered_ranks`) where EvoTorch orders them by position.
The state is the mean, sigma, the generation counter and the optimiser's state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from hebbbench.es.base import ascent_step, check_numbers, check_optimizer, checked_fitness, decayed
from hebbbench.es.openai_es import NOISE_SCHEME, centered_ranks
from hebbbench.es.population import MirroredPopulation


@dataclass(frozen=True)
class PGPEConfig:
    """Hyper-parameters of :class:`PGPE`.

    ``sigma``: every parameter's initial std. ``lr``: the mean's step size (ClipUp's
    ``center_learning_rate``), times ``lr_decay`` per generation. ``sigma_lr``: sigma's
    learning rate (EvoTorch's ``stdev_learning_rate``, 0.1 in its examples);
    ``sigma_max_change``: the most each std may change in one step, as a fraction of
    itself. ``optimizer``: ``"clipup"`` (``clipup_momentum``, ``max_speed``: ``None`` is
    2 x lr), ``"adam"`` or ``"sgd"``. ``weight_decay``: each step ascends
    ``gradient - weight_decay * mean``.
    """

    population_size: int
    sigma: float = 0.1
    lr: float = 0.15
    lr_decay: float = 1.0
    sigma_lr: float = 0.1
    sigma_max_change: float = 0.2
    optimizer: str = "clipup"
    clipup_momentum: float = 0.9
    max_speed: float | None = None
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.population_size < 2 or self.population_size % 2:
            raise ValueError("population_size must be an even number >= 2 (symmetric sampling), "
                             f"got {self.population_size}")
        check_optimizer(self)
        check_numbers(self, positive=("sigma", "lr", "lr_decay", "sigma_lr"), unit=("weight_decay",))
        if isinstance(self.sigma_max_change, bool) or not isinstance(self.sigma_max_change, (int, float)) \
                or not 0 < self.sigma_max_change < 1:
            raise ValueError(f"sigma_max_change must lie in (0, 1), got {self.sigma_max_change!r}")


class PGPE:
    """Symmetric PGPE over a flat float32 parameter vector of length D.

    ``mean``: the starting mean ``[D]``; ``seed`` fixes every generation's noise.
    """

    config_class = PGPEConfig
    #: Populations come as mirrored pairs (i, i + P/2) (trainers' per-pair options rely on it).
    mirrored = True

    def __init__(self, mean: torch.Tensor, config: PGPEConfig, seed: int) -> None:
        self.config = config
        self.seed = int(seed)
        self.mean = torch.as_tensor(mean, dtype=torch.float32).clone().reshape(-1)
        self.sigma = torch.full_like(self.mean, float(config.sigma))
        self.generation = 0
        self.moments = self._fresh_moments()
        self._asked: MirroredPopulation | None = None

    def _fresh_moments(self) -> tuple[torch.Tensor, ...]:
        count = {"sgd": 0, "adam": 2, "clipup": 1}[self.config.optimizer]
        return tuple(torch.zeros_like(self.mean) for _ in range(count))

    @property
    def lr(self) -> float:
        """The mean's step size in the current generation."""
        return decayed(self.config.lr, self.config.lr_decay, self.generation)

    def solution(self) -> torch.Tensor:
        """The parameter vector the search distribution stands for: its mean ``[D]``."""
        return self.mean.clone()

    def sample(self, seed: int, sigma: float | None = None) -> torch.Tensor:
        """One individual ``[D]``, ``mean + sigma * z``, drawn from ``seed`` alone; ``sigma``
        a number for one std everywhere (default: the distribution's own per-parameter stds)."""
        generator = torch.Generator().manual_seed(int(seed))
        scale = self.sigma if sigma is None else sigma
        return self.mean + scale * torch.randn(self.mean.shape, generator=generator, dtype=self.mean.dtype)

    def ask(self) -> torch.Tensor:
        """The population of this generation, ``[P, D]`` float32, mirrored pairs (i, i + P/2)."""
        size = self.config.population_size
        self._asked = MirroredPopulation(self.mean.clone(), self.sigma.clone(), self.seed, self.generation, size)
        return self._asked.rows(0, size)

    def compact_population(self) -> MirroredPopulation:
        """The last asked population as mean, sigma ``[D]`` and seeds (``8 D`` bytes)."""
        if self._asked is None:
            raise RuntimeError("compact_population() describes the population of a preceding ask()")
        return self._asked

    def tell(self, fitness: torch.Tensor | np.ndarray) -> dict[str, float]:
        """Update mean and sigma from the fitness ``[P]`` of the population last asked for.

        Returns numbers worth logging: ``sigma`` (the mean std used), ``sigma_min``,
        ``sigma_max``, ``lr``, ``grad_norm`` (the mean's gradient) and ``speed`` (the norm of
        the mean's step)."""
        if self._asked is None:
            raise RuntimeError("tell() needs the population of a preceding ask()")
        c = self.config
        fitness = checked_fitness(fitness, c.population_size)
        utilities = centered_ranks(fitness).to(torch.float32)
        half = c.population_size // 2
        plus, minus = utilities[:half], utilities[half:]
        eps = self.sigma * self._asked.noise(0, half)
        grad_mean = ((plus - minus) / 2) @ eps / half
        grad_sigma = ((plus + minus) / 2) @ ((eps**2 - self.sigma**2) / self.sigma) / half
        logged = {"sigma": float(self.sigma.mean()), "sigma_min": float(self.sigma.min()),
                  "sigma_max": float(self.sigma.max()), "lr": self.lr, "grad_norm": float(grad_mean.norm())}
        before = self.mean.clone()
        direction = grad_mean - c.weight_decay * self.mean if c.weight_decay else grad_mean
        ascent_step(self.mean, direction, self.lr, optimizer=c.optimizer, moments=self.moments,
                    step=self.generation + 1, betas=(c.adam_beta1, c.adam_beta2), eps=c.adam_eps,
                    momentum=c.clipup_momentum, max_speed=c.max_speed)
        target = self.sigma + c.sigma_lr * grad_sigma
        self.sigma = torch.clamp(target, self.sigma * (1 - c.sigma_max_change), self.sigma * (1 + c.sigma_max_change))
        self.generation += 1
        self._asked = None
        return {**logged, "speed": float((self.mean - before).norm())}

    def state_dict(self) -> dict:
        """Everything needed to continue exactly: config, seed, generation, mean, sigma and
        the optimiser's state tensors."""
        return {"kind": "pgpe", "noise": NOISE_SCHEME, "config": asdict(self.config), "seed": self.seed,
                "generation": self.generation, "mean": self.mean.clone(), "sigma": self.sigma.clone(),
                "moments": [m.clone() for m in self.moments]}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`; the next ``ask()`` is the one the saved run would have made."""
        if state.get("kind") != "pgpe":
            raise ValueError(f"not a PGPE state (kind {state.get('kind')!r})")
        self.config = PGPEConfig(**state["config"])
        self.seed = int(state["seed"])
        self.generation = int(state["generation"])
        self.mean = state["mean"].clone()
        self.sigma = state["sigma"].clone()
        # A distribution saved for evaluation alone (best.pt) keeps no optimiser state.
        self.moments = tuple(m.clone() for m in state.get("moments", ())) or self._fresh_moments()
        self._asked = None
