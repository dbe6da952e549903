"""Statistics for results and the leaderboard, as small pure functions.

Following rliable (Agarwal et al., "Deep RL at the Edge of the Statistical Precipice",
NeurIPS 2021): the interquartile mean (IQM, a trimmed mean) as a robust aggregate and
percentile bootstrap confidence intervals, stratified so that each group (a variation, a
fold) is resampled within itself. Every bootstrap takes an explicit seed: same input, same
interval.

A *statistic* maps bootstrap samples ``[resamples, n]`` to one value per row
``[resamples]`` (:func:`row_mean`, :func:`row_iqm`), so all replicates are computed at once.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

Statistic = Callable[[np.ndarray], np.ndarray]


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean."""
    return float(np.mean(np.asarray(values, dtype=np.float64)))


def std(values: Sequence[float]) -> float:
    """Population standard deviation (ddof=0), as the paper's tables report."""
    return float(np.std(np.asarray(values, dtype=np.float64)))


def trimmed_mean(samples: np.ndarray, proportion: float) -> np.ndarray:
    """Mean along the last axis after dropping ``floor(proportion * n)`` of the sorted
    values at each end (``scipy.stats.trim_mean``'s definition); shape ``samples.shape[:-1]``."""
    ordered = np.sort(np.asarray(samples, dtype=np.float64), axis=-1)
    size = ordered.shape[-1]
    if size == 0:
        raise ValueError("trimmed mean of an empty sequence")
    cut = int(np.floor(proportion * size))
    return ordered[..., cut:size - cut].mean(axis=-1)


def iqm(values: Sequence[float]) -> float:
    """Interquartile mean: the mean of the middle 50% of the sorted values (rliable's
    definition, a 25% trimmed mean)."""
    return float(trimmed_mean(np.asarray(values, dtype=np.float64).ravel(), 0.25))


def row_mean(samples: np.ndarray) -> np.ndarray:
    """The mean of each row of ``samples`` ``[resamples, n]``."""
    return samples.mean(axis=-1)


def row_iqm(samples: np.ndarray) -> np.ndarray:
    """The IQM of each row of ``samples`` ``[resamples, n]``."""
    return trimmed_mean(samples, 0.25)


def stratified_bootstrap_ci(
    groups: Sequence[Sequence[float]],
    statistic: Statistic = row_mean,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``statistic`` of the pooled ``groups``, resampling within
    each group.

    ``groups`` is a list of 1-D samples (e.g. per-episode returns of each variation or
    fold); each replicate draws, with replacement, as many values from each group as it
    has (group by group, all replicates of a group in one draw), and ``statistic`` maps
    the ``[resamples, total]`` replicates to ``[resamples]`` values. Returns ``(low, high)``.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    arrays = [np.asarray(group, dtype=np.float64).ravel() for group in groups]
    if not arrays or any(array.size == 0 for array in arrays):
        raise ValueError("every group needs at least one value")
    rng = np.random.default_rng(seed)
    samples = np.concatenate([array[rng.integers(0, array.size, (resamples, array.size))] for array in arrays],
                             axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(statistic(samples), [tail, 100 - tail])
    return float(low), float(high)


def ks_two_sample(first: Sequence[float], second: Sequence[float]) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test: ``(D, p)``, D the largest distance between the
    two empirical CDFs and p its asymptotic two-sided p-value (Stephens' correction, as in
    Numerical Recipes' ``kstwo``; conservative when values tie). Both samples non-empty."""
    a = np.sort(np.asarray(first, dtype=np.float64).ravel())
    b = np.sort(np.asarray(second, dtype=np.float64).ravel())
    if a.size == 0 or b.size == 0:
        raise ValueError("both samples need at least one value")
    points = np.concatenate([a, b])
    distance = float(np.max(np.abs(np.searchsorted(a, points, side="right") / a.size
                                   - np.searchsorted(b, points, side="right") / b.size)))
    effective = math.sqrt(a.size * b.size / (a.size + b.size))
    lam = (effective + 0.12 + 0.11 / effective) * distance
    if lam < 1e-3:
        return distance, 1.0
    terms = [2 * (-1) ** (j - 1) * math.exp(-2 * j * j * lam * lam) for j in range(1, 101)]
    return distance, float(min(1.0, max(0.0, sum(terms))))


def bootstrap_ci(values: Sequence[float], statistic: Statistic = row_mean, *, confidence: float = 0.95,
                 resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of ``statistic`` of ``values`` ``[n]``: the one-group case of
    :func:`stratified_bootstrap_ci`."""
    return stratified_bootstrap_ci([values], statistic, confidence=confidence, resamples=resamples, seed=seed)
