"""The Hebbian coefficient penalty of the reference: ``-scale * mean(h**2)`` per individual."""

from __future__ import annotations

import torch

#: The reference's penalty weight.
PENALTY_SCALE = 0.01


def coefficient_penalty(population: torch.Tensor, where: slice | None, scale: float = PENALTY_SCALE) -> torch.Tensor:
    """``[K]`` penalties (<= 0) for a ``[K, D]`` population: ``-scale * mean(h**2)`` over the
    coefficients ``population[:, where]``; zeros when ``where`` is ``None`` (no Hebbian part).

    Added to each individual's fitness, it keeps the rule coefficients small."""
    if where is None:
        return torch.zeros(population.shape[0], dtype=torch.float64)
    return -scale * population[:, where].double().pow(2).mean(dim=1)
