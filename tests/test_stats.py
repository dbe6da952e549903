import numpy as np
import pytest

from hebbbench.evaluation import stats


def test_iqm_drops_the_outer_quartiles():
    assert stats.iqm([1, 2, 3, 4, 5, 6, 7, 100]) == pytest.approx(np.mean([3, 4, 5, 6]))
    assert stats.iqm([5.0]) == 5.0


def test_std_is_population_std():
    assert stats.std([1, 3]) == 1.0


def test_bootstrap_ci_brackets_the_mean_and_is_reproducible():
    values = np.random.default_rng(0).normal(10.0, 2.0, size=100)
    low, high = stats.bootstrap_ci(values, seed=3)
    assert low < values.mean() < high
    assert (low, high) == stats.bootstrap_ci(values, seed=3)
    assert 0.5 < high - low < 1.2  # about 2 * 1.96 * 2 / sqrt(100) = 0.78


def test_stratified_bootstrap_resamples_within_groups():
    # Two groups with no spread: every resample reproduces each group, so the CI collapses.
    low, high = stats.stratified_bootstrap_ci([[1.0] * 5, [3.0] * 50], stats.row_mean)
    assert low == pytest.approx(155 / 55) and high == pytest.approx(155 / 55)
    low, high = stats.stratified_bootstrap_ci([[1.0] * 5, [3.0] * 50], stats.row_iqm)
    assert low == high == 3.0


def test_vectorised_bootstrap_draws_what_one_resample_at_a_time_draws():
    """Results files store CIs: the replicates must be the classic loop's, draw for draw."""
    values = np.random.default_rng(1).normal(size=37)
    rng = np.random.default_rng(5)
    loop = np.array([values[rng.integers(0, values.size, values.size)].mean() for _ in range(500)])
    expected = tuple(float(x) for x in np.percentile(loop, [2.5, 97.5]))
    assert stats.bootstrap_ci(values, resamples=500, seed=5) == pytest.approx(expected, rel=1e-12)


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        stats.bootstrap_ci([])
    with pytest.raises(ValueError):
        stats.iqm([])


@pytest.mark.parametrize("probability, df, expected", [
    (0.999, 19, 3.5794001489547154), (0.975, 3, 3.1824463052837078), (0.001, 4, -7.1731822197823085),
    (0.9995, 99, 3.391528833363685), (0.99999, 1, 31830.988608051957),
])
def test_t_quantile_matches_scipy_to_nine_digits(probability, df, expected):
    assert stats.t_quantile(probability, df) == pytest.approx(expected, rel=1e-9)


def test_t_quantile_names_the_bad_value_and_its_range():
    with pytest.raises(ValueError, match=r"probability must be in \(0, 1\), got 1.5"):
        stats.t_quantile(1.5, 3)
    with pytest.raises(ValueError, match="degrees of freedom must be > 0, got 0"):
        stats.t_quantile(0.5, 0)


def test_mean_tolerance_fails_honest_normal_samples_at_its_stated_rate_and_catches_a_shift():
    rng = np.random.default_rng(1)
    alpha, trials = 0.05, 4000
    alarms = sum(abs(np.mean(s) - np.mean(m)) > stats.mean_tolerance(m, s, alpha)
                 for m, s in ((rng.normal(3, 2, 20), rng.normal(3, 2, 100)) for _ in range(trials)))
    assert abs(alarms / trials - alpha) < 0.015
    measured, shifted = rng.normal(0, 1, 20), rng.normal(3, 1, 100)
    assert abs(np.mean(shifted) - np.mean(measured)) > stats.mean_tolerance(measured, shifted, 0.001)
    assert stats.mean_tolerance([2.0, 2.0], [2.0, 2.0, 2.0], 0.01) == 0.0


def test_the_difference_ci_of_two_entries_is_centred_on_their_difference_and_excludes_zero_only_when_they_differ():
    from hebbbench.evaluation.stats import mean_difference_ci

    rng = np.random.default_rng(3)
    first = [rng.normal(100, 10, 100), rng.normal(50, 10, 100)]
    low, high = mean_difference_ci(first, [group + 5 for group in first])
    assert low < -5 < high and high < 0
    low, high = mean_difference_ci(first, [rng.normal(100, 10, 100), rng.normal(50, 10, 100)])
    assert low < 0 < high
    with pytest.raises(ValueError, match="confidence must be in"):
        mean_difference_ci(first, first, confidence=1.5)
    with pytest.raises(ValueError, match="every group needs at least one value"):
        mean_difference_ci(first, [[]])
