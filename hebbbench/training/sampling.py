"""Which individuals of a generation play which training variations, and what the strategy is told.

A scheme is one class in :data:`VARIATION_SAMPLING` (config ``variation_sampling``):

* ``"all"`` (the paper's, the default): every individual plays one episode on every training
  variation, ``P x V`` episodes per generation; its fitness is its mean return over them.
* ``"per-pair"``: each mirrored pair ``(i, i + P/2)`` plays one training variation, the pairs
  in ``V`` equal blocks (block ``v`` on variation ``v``), ``P`` episodes per generation: ``V``
  times fewer env steps per generation, every variation still in every gradient. Returns on
  different variations are not comparable (the ant's damage-right walks further than its
  long-back), so the strategy is told each individual's centered rank *within its variation*
  (a stratified ranking, as multi-task ES normalises per task). Equal blocks make the
  strategies' own fractional ranking of these values reproduce exactly that stratified ranking
  (equal values share their mean rank), so OpenAI-ES and PGPE update on it unchanged.

Both give ``returns`` ``[P, V]`` with NaN where an individual did not play a variation; the
logged fitness of an individual is its mean return over the variations it played (plus the
agent family's penalty), so the population's mean fitness weighs every variation equally in
both schemes.
"""

from __future__ import annotations

import numpy as np
import torch

from hebbbench.es.openai_es import centered_ranks


class AllVariations:
    """Every individual on every training variation (the paper's meta-task fitness)."""

    def check(self, population: int, variations: int, mirrored: bool) -> None:
        """Any population and strategy."""

    def players(self, population: int, variations: int) -> list[tuple[int, int, int]]:
        """``(variation index, first individual, end)`` of each range of individuals that
        plays a variation: here the whole population on each."""
        return [(v, 0, population) for v in range(variations)]

    def told(self, fitness: np.ndarray, returns: np.ndarray) -> np.ndarray:
        """What the strategy is told: the fitness ``[P]`` itself."""
        return fitness


class PerPairVariation(AllVariations):
    """Each mirrored pair on one training variation; ranks taken within each variation."""

    def check(self, population: int, variations: int, mirrored: bool) -> None:
        """``ValueError`` unless the strategy samples mirrored pairs and ``P/2`` splits into
        ``V`` equal blocks."""
        if not mirrored:
            raise ValueError("variation_sampling 'per-pair' needs mirrored pairs (OpenAI-ES, PGPE and the "
                             "strategies over them); the gaussian-mixture strategy samples unpaired "
                             "individuals: use 'all'")
        if (population // 2) % variations:
            raise ValueError(f"variation_sampling 'per-pair' gives each of the {variations} training variations "
                             f"an equal block of mirrored pairs: population/2 must be a multiple of "
                             f"{variations}, got population {population}")

    def players(self, population: int, variations: int) -> list[tuple[int, int, int]]:
        """Block ``v`` of pairs: individuals ``[v B, (v + 1) B)`` and their mirrors
        ``P/2`` later, ``B = P / (2 V)``."""
        half, block = population // 2, population // (2 * variations)
        return [(v, offset + v * block, offset + (v + 1) * block)
                for v in range(variations) for offset in (0, half)]

    def told(self, fitness: np.ndarray, returns: np.ndarray) -> np.ndarray:
        """Each individual's centered rank in [-0.5, 0.5] among those that played its
        variation (the played column of ``returns`` ``[P, V]``)."""
        variation = np.argmax(~np.isnan(returns), axis=1)
        ranks = np.empty(len(fitness))
        for v in np.unique(variation):
            members = variation == v
            ranks[members] = centered_ranks(torch.as_tensor(fitness[members], dtype=torch.float64)).numpy()
        return ranks


#: config ``variation_sampling`` -> scheme.
VARIATION_SAMPLING = {"all": AllVariations(), "per-pair": PerPairVariation()}
