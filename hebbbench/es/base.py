"""What every strategy shares: the ask/tell protocol, the geometric schedule of sigma and
learning rate, the fitness check, the checks of hyper-parameters, and one ascent step
(SGD or Adam in bounded memory, or ClipUp).

Each strategy (:mod:`hebbbench.es.openai_es`, :mod:`hebbbench.es.gmm`) writes only its own
sampling and gradient; the rest is here, once.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
import torch

#: Ascent steps a strategy may take on its mean (:func:`ascent_step`); a strategy that
#: supports fewer says so in its config's own check.
OPTIMIZERS = ("sgd", "adam", "clipup")


class Strategy(Protocol):
    """An ask/tell evolution strategy over flat parameter vectors of length D."""

    def ask(self) -> torch.Tensor:
        """This generation's population ``[P, D]``."""

    def tell(self, fitness: Any) -> dict[str, float]:
        """Update the search distribution from the asked population's fitness ``[P]``;
        return numbers worth logging (e.g. ``sigma``, ``lr``)."""

    def compact_population(self) -> Any:
        """The last asked population in the smallest form that rebuilds any of its rows on
        a rollout worker (:mod:`hebbbench.es.population`)."""

    def solution(self) -> torch.Tensor:
        """The one parameter vector ``[D]`` the distribution stands for."""

    def sample(self, seed: int, sigma: float | None = None) -> torch.Tensor:
        """One individual ``[D]`` drawn from ``seed`` alone (std ``sigma``, default the
        generation's): how a trained distribution is evaluated, one sample per episode."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`."""


def check_numbers(config: Any, positive: tuple[str, ...] = (), unit: tuple[str, ...] = ()) -> None:
    """``ValueError`` naming the field and its range unless every field of ``config`` named
    in ``positive`` is a finite number in (0, inf) and every one in ``unit`` lies in [0, 1)."""
    bounds = {name: (0.0, math.inf, False) for name in positive}
    bounds.update({name: (0.0, 1.0, True) for name in unit})
    for name, (low, high, low_allowed) in bounds.items():
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        if not (low <= value if low_allowed else low < value) or not value < high:
            interval = f"{'[' if low_allowed else '('}{low:g}, {high:g})"
            raise ValueError(f"{name} must lie in {interval}, got {value!r}")


def check_optimizer(config: Any, allowed: tuple[str, ...] = OPTIMIZERS) -> None:
    """``ValueError`` unless ``config.optimizer`` is one of ``allowed``; then the settings of
    that optimiser: Adam's betas in [0, 1) and eps positive, ClipUp's ``clipup_momentum`` in
    [0, 1) and ``max_speed`` positive or ``None`` (twice the learning rate)."""
    if config.optimizer not in allowed:
        raise ValueError(f"unknown optimizer {config.optimizer!r}; allowed: {', '.join(allowed)}")
    if config.optimizer == "adam":
        check_numbers(config, positive=("adam_eps",), unit=("adam_beta1", "adam_beta2"))
    if config.optimizer == "clipup":
        check_numbers(config, unit=("clipup_momentum",))
        if config.max_speed is not None:
            check_numbers(config, positive=("max_speed",))


def check_settings(config: Any, positive: tuple[str, ...] = (), optimizers: tuple[str, ...] = OPTIMIZERS) -> None:
    """The checks of a scheduled strategy's config (:class:`ScheduledStrategy`): a known
    ``optimizer`` among ``optimizers`` with valid settings; ``sigma``, ``lr`` and their
    decays finite and positive (and the fields named in ``positive``)."""
    check_optimizer(config, optimizers)
    check_numbers(config, positive=("sigma", "lr", "sigma_decay", "lr_decay", *positive))


def decayed(initial: float, decay: float, generation: int) -> float:
    """``initial * decay ** generation``: sigma and learning rate of a generation."""
    return initial * decay**generation


class ScheduledStrategy:
    """Sigma and learning rate of the current generation from a strategy's ``config``
    (``sigma``, ``lr`` and their per-generation decays) and its ``generation`` counter."""

    config: Any
    generation: int

    @property
    def sigma(self) -> float:
        """Noise scale (standard deviation) of the current generation."""
        return decayed(self.config.sigma, self.config.sigma_decay, self.generation)

    @property
    def lr(self) -> float:
        """Learning rate of the current generation's update."""
        return decayed(self.config.lr, self.config.lr_decay, self.generation)


def checked_fitness(fitness: Any, population: int) -> torch.Tensor:
    """``fitness`` as a float64 tensor ``[population]``; ``ValueError`` if it has another
    length or holds NaN or infinity (a broken episode must not move the distribution)."""
    values = torch.as_tensor(np.asarray(fitness, dtype=np.float64)).reshape(-1)
    if values.numel() != population:
        raise ValueError(f"expected {population} fitness values, got {values.numel()}")
    if not torch.isfinite(values).all():
        raise ValueError(f"fitness contains NaN or infinite values: {values.tolist()[:8]}...")
    return values


def ascent_step(param: torch.Tensor, grad: torch.Tensor, lr: float, *, optimizer: str,
                moments: tuple[torch.Tensor, ...] | None = None, step: int = 1,
                betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                momentum: float = 0.9, max_speed: float | None = None,
                chunk_elements: int | None = None) -> None:
    """One ascent step on ``param`` in place.

    * ``"sgd"``: ``param += lr * grad``;
    * ``"adam"``: ``moments`` = first and second moment tensors shaped like ``param``,
      updated in place; ``step`` >= 1 is the bias correction's count; ``chunk_elements``
      bounds the temporaries (blocks of that many elements; ``None``: one block);
    * ``"clipup"`` (Toklu et al. 2020): ``moments`` = the velocity tensor, updated in place
      to ``momentum * velocity + lr * grad / |grad|`` and scaled down to norm ``max_speed``
      if longer (default ``2 * lr``, as EvoTorch's); then ``param += velocity``. A zero
      gradient adds nothing to the velocity.
    """
    if optimizer == "sgd":
        param += lr * grad
        return
    if moments is None:
        raise ValueError(f"{optimizer} needs its state tensors")
    if optimizer == "clipup":
        _clipup_step(param, grad, moments[0], lr, momentum, 2 * lr if max_speed is None else max_speed)
        return
    beta1, beta2 = betas
    bias1, bias2 = 1 - beta1**step, 1 - beta2**step
    flat = [x.view(-1) for x in (param, grad, *moments)]
    block = flat[0].numel() if chunk_elements is None else max(1, chunk_elements)
    for start in range(0, flat[0].numel(), max(1, block)):
        p, g, m, v = (x[start:start + block] for x in flat)
        m.mul_(beta1).add_(g, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = (v / bias2).sqrt_().add_(eps)
        p.addcdiv_(m, denom, value=lr / bias1)


def _clipup_step(param: torch.Tensor, grad: torch.Tensor, velocity: torch.Tensor, lr: float, momentum: float,
                 max_speed: float) -> None:
    velocity.mul_(momentum)
    norm = float(grad.norm())
    if norm > 0:
        velocity.add_(grad, alpha=lr / norm)
    speed = float(velocity.norm())
    if speed > max_speed:
        velocity.mul_(max_speed / speed)
    param += velocity
