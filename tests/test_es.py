"""OpenAI-ES: mirrored sampling, fitness shaping, updates, exact save/restore, penalty."""

from __future__ import annotations

import pytest
import torch

from hebbbench.es import OpenAIES, OpenAIESConfig, centered_ranks, coefficient_penalty, shape_fitness


def _sphere(population: torch.Tensor) -> torch.Tensor:
    """Fitness to maximise: minus the squared distance to the point (1, ..., 1)."""
    return -((population - 1) ** 2).sum(dim=1)


def test_ask_gives_mirrored_pairs_around_the_mean():
    es = OpenAIES(torch.zeros(5), OpenAIESConfig(population_size=6), seed=0)
    population = es.ask()
    assert population.shape == (6, 5) and population.dtype == torch.float32
    torch.testing.assert_close(population[:3] + population[3:], torch.zeros(3, 5))


def test_centered_ranks_then_z_scores():
    fitness = torch.tensor([10.0, -3.0, 7.0, 5.0])
    torch.testing.assert_close(centered_ranks(fitness), torch.tensor([0.5, -0.5, 1 / 6, -1 / 6], dtype=torch.float64))
    shaped = shape_fitness(fitness)
    assert float(shaped.mean()) == pytest.approx(0, abs=1e-12)
    assert float(shaped.std()) == pytest.approx(1)


def test_tied_fitness_shares_the_mean_rank_whatever_the_positions():
    fitness = torch.tensor([7.0, 10.0, 7.0, -3.0, 7.0])
    # the three 7s span ranks 1..3 and each gets 2; ranks / 4 - 0.5
    torch.testing.assert_close(centered_ranks(fitness), torch.tensor([0.0, 0.5, 0.0, -0.5, 0.0], dtype=torch.float64))


def test_a_tied_mirrored_pair_does_not_move_the_mean():
    """Pairs (i, i + P/2) with equal fitness carry no information: with every pair tied the
    update is zero (breaking ties by position made it a full step along -eps)."""
    es = OpenAIES(torch.zeros(5), OpenAIESConfig(population_size=6, lr=0.3), seed=0)
    es.ask()
    stats = es.tell(torch.tensor([1.0, 2.0, 3.0, 1.0, 2.0, 3.0]))
    assert stats["grad_norm"] < 1e-5  # zero up to float32 rounding (a position tie-break: ~1)
    torch.testing.assert_close(es.mean, torch.zeros(5), atol=1e-6, rtol=0)
    before = es.mean.clone()
    es.ask()
    stats = es.tell(torch.full((6,), 4.0))  # every individual tied: no step, and no NaN
    assert stats["grad_norm"] == 0 and torch.equal(es.mean, before)


def test_sgd_step_is_the_shaped_gradient_times_the_learning_rate():
    config = OpenAIESConfig(population_size=4, sigma=0.5, lr=0.3)
    es = OpenAIES(torch.zeros(3), config, seed=1)
    population = es.ask()
    fitness = torch.tensor([1.0, 4.0, 2.0, 3.0])
    noise = population / 0.5
    expected = 0.3 * shape_fitness(fitness).float() @ noise / (4 * 0.5)
    stats = es.tell(fitness)
    torch.testing.assert_close(es.mean, expected)
    assert stats["sigma"] == 0.5 and stats["lr"] == 0.3


def test_sigma_and_learning_rate_decay_per_generation():
    es = OpenAIES(torch.zeros(2), OpenAIESConfig(population_size=2), seed=0)
    for _ in range(3):
        es.ask()
        es.tell(torch.tensor([0.0, 1.0]))
    assert es.sigma == pytest.approx(0.1 * 0.999**3)
    assert es.lr == pytest.approx(0.2 * 0.995**3)


@pytest.mark.parametrize("optimizer, lr", [("sgd", 0.05), ("adam", 0.05)])
def test_es_climbs_a_sphere(optimizer, lr):
    es = OpenAIES(torch.zeros(10), OpenAIESConfig(population_size=20, lr=lr, optimizer=optimizer, lr_decay=1.0), seed=3)
    start = float(_sphere(es.mean[None])[0])
    for _ in range(60):
        es.tell(_sphere(es.ask()))
    assert float(_sphere(es.mean[None])[0]) > start / 4


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_state_restored_from_a_file_continues_exactly(optimizer, tmp_path):
    config = OpenAIESConfig(population_size=8, optimizer=optimizer)
    straight = OpenAIES(torch.randn(6, generator=torch.Generator().manual_seed(0)), config, seed=11)
    for _ in range(5):
        straight.tell(_sphere(straight.ask()))

    first = OpenAIES(torch.randn(6, generator=torch.Generator().manual_seed(0)), config, seed=11)
    for _ in range(2):
        first.tell(_sphere(first.ask()))
    torch.save(first.state_dict(), tmp_path / "es.pt")
    second = OpenAIES(torch.zeros(6), OpenAIESConfig(population_size=8), seed=99)
    second.load_state_dict(torch.load(tmp_path / "es.pt"))
    for _ in range(3):
        second.tell(_sphere(second.ask()))
    assert torch.equal(second.mean, straight.mean)
    assert torch.equal(second.adam_v, straight.adam_v) and second.generation == 5


def test_tell_checks_its_input():
    es = OpenAIES(torch.zeros(2), OpenAIESConfig(population_size=4), seed=0)
    with pytest.raises(RuntimeError, match="preceding ask"):
        es.tell(torch.zeros(4))
    es.ask()
    with pytest.raises(ValueError, match="expected 4 fitness values"):
        es.tell(torch.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        es.tell(torch.tensor([0.0, float("nan"), 1.0, 2.0]))


def test_config_rejects_odd_populations_and_unknown_optimizers():
    with pytest.raises(ValueError, match="even number"):
        OpenAIESConfig(population_size=5)
    with pytest.raises(ValueError, match="allowed: sgd, adam"):
        OpenAIESConfig(population_size=4, optimizer="rmsprop")


def test_coefficient_penalty_is_minus_a_hundredth_of_the_mean_square():
    population = torch.tensor([[9.0, 1.0, 3.0], [9.0, 0.0, 0.0]])
    torch.testing.assert_close(coefficient_penalty(population, slice(1, 3)),
                               torch.tensor([-0.05, 0.0], dtype=torch.float64))
    assert torch.equal(coefficient_penalty(population, None), torch.zeros(2, dtype=torch.float64))


def test_sample_draws_from_the_current_distribution_by_seed_alone():
    es = OpenAIES(torch.zeros(20_000), OpenAIESConfig(population_size=4), seed=0)
    es.tell(_sphere(es.ask()))
    reference = OpenAIES(torch.zeros(20_000), OpenAIESConfig(population_size=4), seed=0)
    reference.tell(_sphere(reference.ask()))
    sample = es.sample(7)
    assert torch.equal(sample, es.sample(7)) and not torch.equal(sample, es.sample(8))
    eps = (sample - es.mean) / es.sigma
    assert abs(float(eps.mean())) < 0.05 and abs(float(eps.std()) - 1) < 0.05
    assert torch.equal(es.ask(), reference.ask())  # sampling left the strategy's noise alone
