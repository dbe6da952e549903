"""Observation normalisation as the ES literature does it (Salimans et al. 2017; EvoTorch's
``observation_normalization``): running statistics of every observation the population saw,
turned between generations into one fixed transform that every individual of the next
generation acts with (so that the ranking within a generation stays fair).

:class:`ObservationStats` accumulates; :class:`ObservationNormalizer` is the transform
``clip((x - mean) / std, -5, 5)`` that a policy applies before its first layer. The clip is
Salimans et al.'s (their policies clip normalised observations to [-5, 5]); the variance
floor 1e-2 (std >= 0.1) is theirs and EvoTorch's ``RunningNorm`` default, so a feature that
barely varies (a foot contact flag) is not blown up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

#: Normalised observations are clipped to [-OBSERVATION_CLIP, OBSERVATION_CLIP].
OBSERVATION_CLIP = 5.0
#: A feature's variance is taken as at least this (its std at least 0.1).
MIN_VARIANCE = 1e-2


@dataclass(frozen=True)
class ObservationNormalizer:
    """``clip((x - mean) / std, -5, 5)`` per feature; ``mean`` and ``std`` as float tuples
    (length: the observation's size), so a batch description carrying it stays hashable."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.mean) != len(self.std):
            raise ValueError(f"mean has {len(self.mean)} features but std {len(self.std)}")
        if not all(math.isfinite(s) and s > 0 for s in self.std) or not all(map(math.isfinite, self.mean)):
            raise ValueError("an observation normaliser needs finite means and positive, finite stds")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Observations ``[K, F]`` -> normalised ``[K, F]`` (same dtype and device)."""
        return self.on(x.device, x.dtype)(x)

    def on(self, device: str | torch.device,
           dtype: torch.dtype = torch.float32) -> Callable[[torch.Tensor], torch.Tensor]:
        """This transform with its mean and std already on ``device`` as ``dtype``: what a
        policy applies at every step (the tensors are built once, not per step)."""
        mean = torch.tensor(self.mean, dtype=dtype, device=device)
        std = torch.tensor(self.std, dtype=dtype, device=device)

        def normalise(x: torch.Tensor) -> torch.Tensor:
            if x.shape[-1] != len(self.mean):
                raise ValueError(f"this normaliser is for {len(self.mean)} features, the observations have "
                                 f"{x.shape[-1]}")
            return torch.clamp((x - mean) / std, -OBSERVATION_CLIP, OBSERVATION_CLIP)

        return normalise


@dataclass(frozen=True)
class ObservationStats:
    """Count, sum and sum of squares (float64 ``[F]``) of every observation seen so far."""

    count: int
    sums: torch.Tensor
    squares: torch.Tensor

    @classmethod
    def empty(cls, features: int) -> "ObservationStats":
        return cls(0, torch.zeros(features, dtype=torch.float64), torch.zeros(features, dtype=torch.float64))

    def add(self, count: int, sums: np.ndarray, squares: np.ndarray) -> "ObservationStats":
        """These statistics with ``count`` more observations whose per-feature sum is
        ``sums`` and sum of squares ``squares`` (float64 ``[F]``)."""
        return ObservationStats(self.count + int(count), self.sums + torch.as_tensor(sums, dtype=torch.float64),
                                self.squares + torch.as_tensor(squares, dtype=torch.float64))

    def normalizer(self) -> ObservationNormalizer:
        """The transform these statistics stand for; before any observation, the identity
        (mean 0, std 1; the clip still applies)."""
        if self.count == 0:
            return ObservationNormalizer((0.0,) * len(self.sums), (1.0,) * len(self.sums))
        mean = self.sums / self.count
        variance = torch.clamp(self.squares / self.count - mean**2, min=MIN_VARIANCE)
        return ObservationNormalizer(tuple(mean.tolist()), tuple(variance.sqrt().tolist()))

    def state_dict(self) -> dict:
        return {"count": self.count, "sums": self.sums.clone(), "squares": self.squares.clone()}

    @classmethod
    def from_state(cls, state: dict) -> "ObservationStats":
        return cls(int(state["count"]), state["sums"].clone(), state["squares"].clone())
