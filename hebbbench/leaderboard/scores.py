"""Statistics of board entries: pooled scores with stratified bootstrap CIs (rliable's method)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from hebbbench import stats

#: Bootstrap settings for every interval on the board (fixed, so renders are reproducible).
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Score:
    """Mean and IQM of a pool of episode returns, each with a 95% stratified bootstrap CI."""

    mean: float
    mean_ci: tuple[float, float]
    iqm: float
    iqm_ci: tuple[float, float]
    episodes: int


@dataclass(frozen=True)
class Row:
    """One entry's statistics: held-out and train scores, and per (variation, split) scores."""

    submission: dict
    heldout: Score
    train: Score
    by_variation: dict[tuple[str, str], Score]

    @property
    def entry(self) -> dict:
        return self.submission["entry"]


def score(groups: Sequence[Sequence[float]]) -> Score:
    """:class:`Score` of ``groups``, a list of 1-D samples (one per fold and variation).

    The statistics pool all groups; the bootstrap resamples within each group.
    """
    pooled = np.concatenate([np.asarray(group, dtype=np.float64) for group in groups])

    def ci(statistic: stats.Statistic) -> tuple[float, float]:
        return stats.stratified_bootstrap_ci(groups, statistic, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)

    return Score(mean=stats.mean(pooled), mean_ci=ci(stats.row_mean), iqm=stats.iqm(pooled),
                 iqm_ci=ci(stats.row_iqm), episodes=int(pooled.size))


def row(submission: dict) -> Row:
    """The statistics of one (valid) submission."""
    heldout, train = [], []
    by_variation: dict[tuple[str, str], list[list[float]]] = {}
    for results in submission["results"]:
        for variation in results["variations"]:
            (heldout if variation["split"] == "test" else train).append(variation["returns"])
            by_variation.setdefault((variation["name"], variation["split"]), []).append(variation["returns"])
    return Row(submission, score(heldout), score(train),
               {key: score(groups) for key, groups in by_variation.items()})
