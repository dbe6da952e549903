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
    rng = np.random.default_rng(seed)
    return _percentiles(statistic(_replicates(groups, rng, resamples)), confidence)


def mean_difference_ci(first: Sequence[Sequence[float]], second: Sequence[Sequence[float]], *,
                       confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of ``mean(first) - mean(second)``, the pooled means of two
    independent sets of groups (two entries' returns), each resampled within its groups as
    :func:`stratified_bootstrap_ci` does. Returns ``(low, high)``; an interval that excludes 0
    says the two means differ at that confidence."""
    rng = np.random.default_rng(seed)
    return _percentiles(row_mean(_replicates(first, rng, resamples)) - row_mean(_replicates(second, rng, resamples)),
                        confidence)


def _replicates(groups: Sequence[Sequence[float]], rng: np.random.Generator, resamples: int) -> np.ndarray:
    """``[resamples, total]`` bootstrap replicates of the pooled ``groups``, each group resampled within itself."""
    arrays = [np.asarray(group, dtype=np.float64).ravel() for group in groups]
    if not arrays or any(array.size == 0 for array in arrays):
        raise ValueError("every group needs at least one value")
    return np.concatenate([array[rng.integers(0, array.size, (resamples, array.size))] for array in arrays], axis=1)


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` interval of the bootstrap ``values`` (percentile method)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
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


def _incomplete_beta_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularized incomplete beta function (Numerical Recipes' ``betacf``)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return result


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), ``x`` in [0, 1]."""
    if x <= 0.0 or x >= 1.0:
        return 0.0 if x <= 0.0 else 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _incomplete_beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _incomplete_beta_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t distribution with ``df`` degrees of freedom."""
    tail = 0.5 * _incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(probability: float, df: float) -> float:
    """The ``probability`` quantile of Student's t with ``df`` > 0 degrees of freedom (bisection
    on :func:`t_cdf` to 1e-10; no SciPy needed). ``ValueError`` outside (0, 1)."""
    if not 0 < probability < 1:
        raise ValueError(f"probability must be in (0, 1), got {probability!r}")
    if not df > 0:
        raise ValueError(f"degrees of freedom must be > 0, got {df!r}")
    low, high = -1.0, 1.0
    while t_cdf(low, df) > probability:
        low *= 2
    while t_cdf(high, df) < probability:
        high *= 2
    while high - low > 1e-10 * max(1.0, abs(high)):
        middle = (low + high) / 2
        low, high = (middle, high) if t_cdf(middle, df) < probability else (low, middle)
    return (low + high) / 2


def mean_tolerance(measured: Sequence[float], submitted: Sequence[float], alpha: float) -> float:
    """How far the mean of ``submitted`` may lie from the mean of ``measured`` before a
    two-sided Welch test at level ``alpha`` calls them different.

    ``t(1 - alpha/2, df) * sqrt(s_m^2/m + s_s^2/n)``, ``s`` the standard deviations (ddof=1)
    of the ``m`` measured and ``n`` submitted values, ``df`` Welch-Satterthwaite's. For two
    independent normal samples of one distribution an honest pair exceeds it with probability
    ~``alpha``; episode returns are skewed and heavy-tailed, so the real rate is higher
    (``docs/results-format.md`` gives it measured on the board's entries). Both spreads are
    used: the measured one alone misses the rare large returns 20 episodes often do not
    contain, which failed honest entries 1.5-31% of the time at a nominal 1%. 0 when both spreads are 0.
    """
    first = np.asarray(measured, dtype=np.float64).ravel()
    second = np.asarray(submitted, dtype=np.float64).ravel()
    if first.size < 2 or second.size < 2:
        raise ValueError(f"need at least 2 values in each sample, got {first.size} and {second.size}")
    a, b = float(np.var(first, ddof=1)) / first.size, float(np.var(second, ddof=1)) / second.size
    if a + b == 0:
        return 0.0
    df = (a + b) ** 2 / (a * a / (first.size - 1) + b * b / (second.size - 1))
    return t_quantile(1 - alpha / 2, df) * math.sqrt(a + b)
