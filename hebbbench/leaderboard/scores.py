"""Statistics of board entries: pooled scores with stratified bootstrap CIs (rliable's method)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from hebbbench.evaluation import stats
from hebbbench.leaderboard import records

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
    """One entry's statistics: held-out and train scores, and per (variation, split) scores.

    For an entry verified by this package's verify (:func:`.records.is_measured`) they are
    the verifier's, from its secret seeds, and ``claimed`` is the submitter's held-out score;
    otherwise they are the submitter's and ``claimed`` is ``None``.
    """

    submission: dict
    heldout: Score
    train: Score
    by_variation: dict[tuple[str, str], Score]
    claimed: Score | None = None

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
    """The statistics of one (valid) submission: the verifier's numbers where it has them."""
    claimed = _pools(submission, [{v["name"]: v["returns"] for v in r["variations"]} for r in submission["results"]])
    if not records.is_measured(submission):
        return Row(submission, *claimed)
    measured = _pools(submission, records.measured_returns(submission))
    return Row(submission, *measured, claimed=claimed[0])


def _pools(submission: dict, returns: list[dict[str, list[float]]]) -> tuple[Score, Score, dict]:
    """Held-out, train and per (variation, split) scores of ``returns`` (per fold, per variation name)."""
    heldout, train = [], []
    by_variation: dict[tuple[str, str], list[list[float]]] = {}
    for results, fold in zip(submission["results"], returns):
        for variation in results["variations"]:
            values = fold[variation["name"]]
            (heldout if variation["split"] == "test" else train).append(values)
            by_variation.setdefault((variation["name"], variation["split"]), []).append(values)
    return score(heldout), score(train), {key: score(groups) for key, groups in by_variation.items()}
