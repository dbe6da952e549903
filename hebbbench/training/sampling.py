"""Which individuals of a generation play which training variations, and what the strategy is told.

A scheme is one class in :data:`VARIATION_SAMPLING` (config ``variation_sampling``):

* ``"all"`` (the paper's, the default): every individual plays one episode on every training
  variation, ``P x V`` episodes per generation; its fitness is its mean return over them.
* ``"per-pair"``: each mirrored pair ``(i, i + P/2)`` plays one training variation, the pairs
  in ``V`` equal blocks (block ``v`` on variation ``v``), ``P`` episodes per generation: ``V``
  times fewer env steps per generation, every variation still in every gradient. Returns on
  different variations are not comparable (the ant's damage-right walks further than its
  long-back), so the strategy is told each individual's centered rank *within its variation*
  (a stratified ranking, as multi-task ES normalises per task). The strategies rank what they
  are told again (fractional ranks, ties sharing their mean): with equal blocks and no tied
  returns within a variation that is an exact affine map of the stratified ranks, so OpenAI-ES
  (which z-scores them) updates on the stratified ranking itself and PGPE on it scaled by
  ``(P - V) / (P - 1)`` (0.98 at P = 128, V = 4); tied returns keep the order but not the
  exact spacing. Per-individual ``fitness_max``/``fitness_min`` then compare returns of
  different variations (the easiest variation's best is the population's best);
  ``fitness_mean`` weighs every variation equally, as with ``"all"``.

Both give ``returns`` ``[P, V]`` with NaN where an individual did not play a variation
(:meth:`AllVariations.played` says where); an individual's fitness is its mean return over the
variations it played (plus the agent family's penalty), and a broken (non-finite) episode
still reaches the strategy, which refuses it.
"""

from __future__ import annotations

import numpy as np
import torch

from hebbbench.es.openai_es import centered_ranks


class AllVariations:
    """Every individual on every training variation (the paper's meta-task fitness)."""

    def check(self, population: int, variations: int, mirrored: bool, strategy: str) -> None:
        """Any population and strategy."""

    def players(self, population: int, variations: int) -> list[tuple[int, int, int]]:
        """``(variation index, first individual, end)`` of each range of individuals that
        plays a variation: here the whole population on each."""
        return [(v, 0, population) for v in range(variations)]

    def played(self, population: int, variations: int) -> np.ndarray:
        """``[P, V]`` bool: which individual plays which variation."""
        mask = np.zeros((population, variations), dtype=bool)
        for v, start, stop in self.players(population, variations):
            mask[start:stop, v] = True
        return mask

    def told(self, fitness: np.ndarray, played: np.ndarray) -> np.ndarray:
        """What the strategy is told: the fitness ``[P]`` itself."""
        return fitness


class PerPairVariation(AllVariations):
    """Each mirrored pair on one training variation; ranks taken within each variation."""

    def check(self, population: int, variations: int, mirrored: bool, strategy: str) -> None:
        """``ValueError`` unless the strategy (named ``strategy``) samples mirrored pairs and
        ``P/2`` splits into ``V`` equal blocks."""
        if not mirrored:
            raise ValueError(f"variation_sampling 'per-pair' needs mirrored pairs (OpenAI-ES, PGPE and the "
                             f"strategies over them); the {strategy} strategy samples unpaired individuals: use 'all'")
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

    def told(self, fitness: np.ndarray, played: np.ndarray) -> np.ndarray:
        """Each individual's centered rank in [-0.5, 0.5] among those that played its
        variation (its column of ``played`` ``[P, V]``). A non-finite fitness (a broken
        episode) is passed on as it is, for the strategy to refuse."""
        if not np.isfinite(fitness).all():
            return fitness
        variation = np.argmax(played, axis=1)
        ranks = np.empty(len(fitness))
        for v in np.unique(variation):
            members = variation == v
            ranks[members] = centered_ranks(torch.as_tensor(fitness[members], dtype=torch.float64)).numpy()
        return ranks


#: config ``variation_sampling`` -> scheme.
VARIATION_SAMPLING = {"all": AllVariations(), "per-pair": PerPairVariation()}
