"""variation_sampling: who plays which training variation, and the stratified ranking of per-pair."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import outcomes

from hebbbench.es.openai_es import centered_ranks
from hebbbench.training.sampling import VARIATION_SAMPLING
from hebbbench.training.train import TrainConfig, read_log, train


def _config(**overrides) -> TrainConfig:
    values = dict(agent="static", task="ant", population=8, generations=2, seed=5, max_episode_steps=15,
                  backend="inprocess", variation_sampling="per-pair")
    values.update(overrides)
    return TrainConfig(**values)


def _variation_of(population: int, variations: int) -> np.ndarray:
    played = np.full(population, -1)
    for v, start, stop in VARIATION_SAMPLING["per-pair"].players(population, variations):
        assert (played[start:stop] == -1).all(), "an individual plays twice"
        played[start:stop] = v
    return played


def test_per_pair_gives_each_variation_an_equal_block_of_mirrored_pairs():
    played = _variation_of(128, 4)
    assert (played >= 0).all()
    assert np.array_equal(played[:64], played[64:])  # pair (i, i + P/2) plays one variation
    assert np.array_equal(np.bincount(played), [32, 32, 32, 32])
    assert VARIATION_SAMPLING["all"].players(6, 2) == [(0, 0, 6), (1, 0, 6)]


def test_per_pair_tells_ranks_within_each_variation_which_the_strategies_ranking_keeps():
    played = _variation_of(16, 4)
    returns = np.full((16, 4), np.nan)
    rng = np.random.default_rng(0)
    fitness = rng.normal(size=16) + 1000.0 * (played == 2)  # one variation pays far more
    returns[np.arange(16), played] = fitness
    played_mask = VARIATION_SAMPLING["per-pair"].played(16, 4)
    assert np.array_equal(played_mask, ~np.isnan(returns))
    told = VARIATION_SAMPLING["per-pair"].told(fitness, played_mask)
    for v in range(4):
        members = played == v
        assert np.allclose(told[members], centered_ranks(torch.as_tensor(fitness[members])).numpy())
    # The strategies rank what they are told again: with equal blocks and no ties that is an
    # affine map of the ranks within each variation, so the stratified ranking reaches the update.
    again = centered_ranks(torch.as_tensor(told)).numpy()
    slope, intercept = np.polyfit(told, again, 1)
    assert slope > 0 and np.allclose(again, slope * told + intercept)
    assert VARIATION_SAMPLING["all"].told(fitness, played_mask) is fitness


def test_a_broken_episode_reaches_the_strategy_which_refuses_it_in_both_schemes():
    from hebbbench.es import OpenAIES, OpenAIESConfig

    for name in VARIATION_SAMPLING:
        played = VARIATION_SAMPLING[name].played(8, 4)
        fitness = np.arange(8.0)
        fitness[3] = np.nan
        told = VARIATION_SAMPLING[name].told(fitness, played)
        strategy = OpenAIES(torch.zeros(3), OpenAIESConfig(population_size=8), seed=0)
        strategy.ask()
        with pytest.raises(ValueError, match="(?i)nan|finite"):
            strategy.tell(told)


def test_per_pair_batches_give_every_worker_work_without_cutting_ranges_to_single_episodes():
    from hebbbench.training.train import generation_batches

    for workers in (2, 16):
        batches = generation_batches(_config(population=128), 0, workers)
        assert len(batches) >= workers and min(b.size for b in batches) >= 128 // (2 * 4) // 2
        full = generation_batches(_config(population=128, variation_sampling="all"), 0, workers)
        assert all(sum(b.env_id == env for b in full) >= workers for env in {b.env_id for b in full})


class _Returns:
    """Callback keeping each generation's returns ``[P, V]``."""

    def __init__(self):
        self.seen = []

    def __call__(self, report):
        self.seen.append(report.returns.copy())


def test_a_per_pair_run_plays_each_individual_on_its_variation_of_the_full_run(tmp_path):
    per_pair, full = _Returns(), _Returns()
    run = train(_config(), tmp_path / "pairs", progress=False, callbacks=[per_pair])
    train(_config(variation_sampling="all", generations=1), tmp_path / "all", progress=False, callbacks=[full])
    played = _variation_of(8, 4)
    first = per_pair.seen[0]
    assert np.isnan(first).sum() == 8 * 3  # one variation each
    # Same population, same episode seeds per variation: the very episodes of the full run.
    assert np.array_equal(first[np.arange(8), played], full.seen[0][np.arange(8), played])
    rows = read_log(run)
    assert rows[0]["env_steps"] == 8 * 15 and read_log(tmp_path / "all")[0]["env_steps"] == 4 * 8 * 15
    assert all(np.isfinite(row[f"return_{name}"]) for row in rows for name in _config().variations)
    assert rows[0]["fitness_mean"] == pytest.approx(np.mean(first[np.arange(8), played]))


def test_a_per_pair_run_gives_the_same_numbers_with_two_workers(tmp_path):
    alone = train(_config(generations=1), tmp_path / "a", progress=False)
    pooled = train(_config(generations=1, backend="local", workers=2), tmp_path / "b", progress=False)
    assert outcomes(alone) == outcomes(pooled)
    assert np.array_equal(np.load(alone / "parameters.npy"), np.load(pooled / "parameters.npy"))


@pytest.mark.parametrize("overrides, message", [
    (dict(variation_sampling="one"), "unknown variation_sampling 'one'; allowed: all, per-pair"),
    (dict(population=12), "population/2 must be a multiple of 4, got population 12"),
    (dict(agent="shared", population=8), "needs mirrored pairs"),
])
def test_bad_variation_sampling_is_refused_naming_what_to_change(overrides, message):
    with pytest.raises(ValueError, match=message):
        _config(**overrides)
