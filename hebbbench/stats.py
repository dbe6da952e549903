"""Statistics for results and the leaderboard, as small pure functions.

Following rliable (Agarwal et al., "Deep RL at the Edge of the Statistical Precipice",
NeurIPS 2021): the interquartile mean (IQM) as a robust aggregate and percentile
bootstrap confidence intervals, stratified so that each group (a variation, a fold)
is resampled within itself. Every bootstrap takes an explicit seed: same input, same
interval.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

Aggregate = Callable[[np.ndarray], float]


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean."""
    return float(np.mean(np.asarray(values, dtype=np.float64)))


def std(values: Sequence[float]) -> float:
    """Population standard deviation (ddof=0), as the paper's tables report."""
    return float(np.std(np.asarray(values, dtype=np.float64)))


def iqm(values: Sequence[float]) -> float:
    """Interquartile mean: the mean of the middle 50% of the sorted values.

    Uses rliable's definition (``scipy.stats.trim_mean(x, 0.25)``): drop
    ``floor(0.25 * n)`` values from each end, average the rest.
    """
    array = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if array.size == 0:
        raise ValueError("iqm of an empty sequence")
    cut = int(np.floor(0.25 * array.size))
    return float(np.mean(array[cut : array.size - cut]))


def bootstrap_ci(
    values: Sequence[float],
    aggregate: Aggregate = np.mean,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of ``aggregate(values)``.

    ``values`` has shape ``[n]``; returns ``(low, high)``.
    """
    return stratified_bootstrap_ci([values], lambda groups: aggregate(groups[0]),
                                   confidence=confidence, resamples=resamples, seed=seed)


def stratified_bootstrap_ci(
    groups: Sequence[Sequence[float]],
    aggregate: Callable[[list[np.ndarray]], float],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``aggregate(groups)``, resampling within each group.

    ``groups`` is a list of 1-D samples (e.g. per-episode returns of each variation or
    fold); each bootstrap replicate draws, with replacement, as many values from each
    group as it has, then applies ``aggregate`` to the list of resampled groups.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    arrays = [np.asarray(group, dtype=np.float64).ravel() for group in groups]
    if not arrays or any(array.size == 0 for array in arrays):
        raise ValueError("every group needs at least one value")
    rng = np.random.default_rng(seed)
    replicates = np.empty(resamples)
    for r in range(resamples):
        resampled = [array[rng.integers(0, array.size, array.size)] for array in arrays]
        replicates[r] = aggregate(resampled)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(low), float(high)


def pooled_bootstrap_ci(
    groups: Sequence[Sequence[float]],
    statistic: str = "mean",
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Stratified percentile bootstrap CI of the ``statistic`` ("mean" or "iqm") of the pooled groups.

    The scheme of :func:`stratified_bootstrap_ci` with ``aggregate`` = the statistic of the
    concatenated groups, but with all replicates drawn at once (group by group) as one
    ``[resamples, total]`` array: tens of times faster, for leaderboards that pool
    thousands of episodes. Seeded, but its draws differ from that function's loop, so
    the two intervals agree only up to bootstrap noise.
    """
    if statistic not in ("mean", "iqm"):
        raise ValueError(f"statistic must be 'mean' or 'iqm', got {statistic!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    arrays = [np.asarray(group, dtype=np.float64).ravel() for group in groups]
    if not arrays or any(array.size == 0 for array in arrays):
        raise ValueError("every group needs at least one value")
    rng = np.random.default_rng(seed)
    samples = np.concatenate([array[rng.integers(0, array.size, (resamples, array.size))]
                              for array in arrays], axis=1)
    total = samples.shape[1]
    if statistic == "iqm":
        samples.sort(axis=1)
        cut = int(np.floor(0.25 * total))
        samples = samples[:, cut : total - cut]
    replicates = samples.mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(low), float(high)
