"""Flat parameter vectors <-> named tensors.

An evolution strategy sees an individual as one flat vector of D floats; a network sees
named tensors. A :class:`ParamLayout` is the ordered list of (name, shape) that maps one
onto the other, for a whole population at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ParamLayout:
    """Ordered named shapes; ``size`` is the length D of the flat vector they fill."""

    shapes: tuple[tuple[str, tuple[int, ...]], ...]

    @property
    def size(self) -> int:
        return sum(math.prod(shape) for _, shape in self.shapes)

    def offsets(self) -> dict[str, slice]:
        """Each name's slice of the flat vector."""
        found, start = {}, 0
        for name, shape in self.shapes:
            found[name] = slice(start, start + math.prod(shape))
            start += math.prod(shape)
        return found

    def split(self, population: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views of a ``[K, D]`` population as ``{name: [K, *shape]}`` (no copy)."""
        if population.ndim != 2 or population.shape[1] != self.size:
            raise ValueError(f"expected a population shaped [K, {self.size}], got {tuple(population.shape)}")
        return {
            name: population[:, where].reshape(population.shape[0], *shape)
            for (name, shape), where in zip(self.shapes, self.offsets().values())
        }
