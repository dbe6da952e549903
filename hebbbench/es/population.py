"""A generation's population in the form that travels to rollout workers.

A strategy's ``ask()`` returns the whole population ``[P, D]``; a worker only needs the
rows of the individuals it plays, and the cheapest message that rebuilds them:

* :class:`MirroredPopulation` (OpenAI-ES, PGPE): the mean ``[D]``, sigma (a number, or
  PGPE's per-parameter ``[D]``) and the generation's seeds. Each noise row is drawn from
  its own seed, so a worker regenerates exactly the rows it needs (as OpenAI-ES workers
  do) and the message is ``4 D`` bytes (``8 D`` with PGPE's sigma), whatever P.
* :class:`ExplicitPopulation` (any strategy): the rows themselves, cut to the rows a
  batch plays (:meth:`ExplicitPopulation.part`).

Both give bit-identical rows to the ``ask()`` they stand for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def noise_row_seed(seed: int, generation: int, row: int) -> int:
    """The seed of noise row ``row`` of ``generation``: a 64-bit hash of the three numbers."""
    return int(np.random.SeedSequence([seed, generation, row]).generate_state(1, np.uint64)[0])


@dataclass(frozen=True)
class MirroredPopulation:
    """``mean + sigma * [eps; -eps]`` with noise row ``j`` drawn from seed :func:`noise_row_seed`.

    Individual ``i < P/2`` is ``mean + sigma * eps_i``; individual ``i >= P/2`` is its
    mirror ``mean - sigma * eps_(i - P/2)``. ``mean``: ``[D]`` float32; ``sigma``: one std
    for every parameter, or a ``[D]`` float32 tensor of per-parameter stds (PGPE).
    """

    mean: torch.Tensor
    sigma: float | torch.Tensor
    seed: int
    generation: int
    size: int

    def noise(self, start: int, stop: int) -> torch.Tensor:
        """The signed noise of individuals ``start .. stop - 1``: ``[stop - start, D]`` float32.

        Each row is drawn from its own generator (seeded by :func:`noise_row_seed`), so any
        subset of rows costs only its own draws."""
        half = self.size // 2
        noise = torch.empty(stop - start, self.mean.numel())
        for out, individual in zip(noise, range(start, stop)):
            generator = torch.Generator().manual_seed(noise_row_seed(self.seed, self.generation, individual % half))
            torch.randn(self.mean.numel(), generator=generator, out=out)
            if individual >= half:
                out.neg_()
        return noise

    def rows(self, start: int, stop: int) -> torch.Tensor:
        """Individuals ``start .. stop - 1``: ``[stop - start, D]`` float32."""
        return self.mean + self.sigma * self.noise(start, stop)

    def part(self, start: int, stop: int) -> "MirroredPopulation":
        """What a worker needs for rows ``start .. stop - 1``: this object (already compact)."""
        return self


@dataclass(frozen=True)
class ExplicitPopulation:
    """Rows ``offset .. offset + len(parameters) - 1`` of a population, given explicitly.

    ``parameters``: ``[K, D]`` float32. Used for strategies whose samples are not cheaper
    to rebuild than to send (the Gaussian mixture: rebuilding needs lambda, N x M floats).
    """

    parameters: torch.Tensor
    offset: int = 0

    @property
    def size(self) -> int:
        return self.offset + self.parameters.shape[0]

    def rows(self, start: int, stop: int) -> torch.Tensor:
        """Individuals ``start .. stop - 1``; they must lie inside this part."""
        if start < self.offset or stop > self.size:
            raise IndexError(f"rows {start}..{stop - 1} are outside this part ({self.offset}..{self.size - 1})")
        return self.parameters[start - self.offset:stop - self.offset]

    def part(self, start: int, stop: int) -> "ExplicitPopulation":
        """Only rows ``start .. stop - 1`` (a copy, so just those bytes are pickled)."""
        return ExplicitPopulation(self.rows(start, stop).clone(), start)
