"""The paper's post-hoc shared-rule variants as mixture settings: the means' initial std and a
random fixed assignment of synapses to rules (section 5.5)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.distributions as D

from hebbbench.es.gmm import (
    GaussianMixtureES,
    GaussianMixtureESConfig,
    assigned_score_gradient,
    compact_state,
    half_precision_logits,
    rules_for_rho,
)


def _es(synapses=40, rules=4, population=8, seed=0, **config) -> GaussianMixtureES:
    return GaussianMixtureES(synapses, rules, GaussianMixtureESConfig(population, **config), seed=seed)


def _generation(es: GaussianMixtureES, seed: int = 0) -> dict[str, float]:
    es.ask()
    return es.tell(torch.randn(es.population, generator=torch.Generator().manual_seed(seed)))


def test_the_means_spread_follows_means_init_std():
    default = _es(synapses=500, rules=500).means
    wide = _es(synapses=500, rules=500, means_init_std=10.0).means
    assert abs(float(default.std()) - 1.0) < 0.05
    assert abs(float(wide.std()) - 10.0) < 0.5
    torch.testing.assert_close(wide, default * 10.0)  # same draws, scaled


def test_the_defaults_are_the_learned_mixture_unchanged():
    config = GaussianMixtureESConfig(8)
    assert (config.means_init_std, config.assignment) == (1.0, "learned")
    es = _es()
    assert es.assignment is None
    torch.testing.assert_close(es.means, torch.randn(4, 5, generator=torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_random_fixed_keeps_lambda_unchanged_and_moves_the_means(optimizer):
    es = _es(assignment="random-fixed", optimizer=optimizer)
    logits, means = es.logits.clone(), es.means.clone()
    stats = _generation(es)
    assert torch.equal(es.logits, logits)
    assert not torch.equal(es.means, means)
    assert stats["grad_norm_logits"] == 0.0 and stats["entropy"] == 0.0
    assert stats["rules_in_use"] == int(es.assignment.unique().numel())
    assert stats["largest_rule_synapses"] == int(torch.bincount(es.assignment).max())
    assert "logits" not in es._moments


def test_every_sample_of_a_synapse_uses_its_assigned_rule():
    es = _es(synapses=30, rules=5, population=16, assignment="random-fixed", sigma=1e-6)
    rules = es.ask().view(16, 30, 5)
    assert torch.allclose(rules, es.means[es.assignment].expand(16, -1, -1), atol=1e-4)
    one = es.sample(seed=3).view(30, 5)
    assert torch.allclose(one, es.means[es.assignment], atol=1e-4)
    torch.testing.assert_close(es.solution().view(30, 5), es.means[es.assignment])


def test_the_assignment_is_the_same_for_the_same_seed_and_differs_for_another():
    first, again = _es(assignment="random-fixed", seed=7), _es(assignment="random-fixed", seed=7)
    other = _es(assignment="random-fixed", seed=8)
    assert torch.equal(first.assignment, again.assignment)
    assert not torch.equal(first.assignment, other.assignment)
    assert first.assignment.min() >= 0 and first.assignment.max() < 4


def test_the_assigned_gradient_matches_autograd():
    g = torch.Generator().manual_seed(0)
    means = torch.randn(3, 5, generator=g, dtype=torch.float64)
    rules = torch.randn(6, 11, 5, generator=g, dtype=torch.float64)
    weights = torch.randn(6, generator=g, dtype=torch.float64)
    assignment = torch.randint(3, (11,), generator=g)
    mu = means.clone().requires_grad_()
    log_p = D.Normal(mu[assignment], 0.7).log_prob(rules).sum(dim=(1, 2))
    (want,) = torch.autograd.grad((weights * log_p).mean(), mu)
    torch.testing.assert_close(assigned_score_gradient(means, 0.7, rules, weights, assignment), want)


def test_a_random_fixed_state_restores_exactly():
    es = _es(assignment="random-fixed")
    _generation(es)
    state = copy.deepcopy(es.state_dict())
    twin = _es(assignment="random-fixed", seed=99)
    twin.load_state_dict(state)
    assert torch.equal(twin.assignment, es.assignment)
    assert torch.equal(twin.ask(), es.ask())


@pytest.mark.parametrize("saved, loading", [("learned", "random-fixed"), ("random-fixed", "learned")])
def test_a_state_cannot_be_loaded_into_the_other_assignment(saved, loading):
    state = _es(assignment=saved).state_dict()
    with pytest.raises(ValueError, match="assignment"):
        _es(assignment=loading).load_state_dict(state)


@pytest.mark.parametrize("setting, message", [
    ({"means_init_std": 0.0}, "means_init_std"), ({"means_init_std": -1.0}, "means_init_std"),
    ({"means_init_std": float("nan")}, "means_init_std"), ({"assignment": "random"}, "assignment"),
])
def test_bad_posthoc_settings_are_refused_naming_the_field(setting, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixtureESConfig(8, **setting)


def test_sixteen_rules_on_the_ant_is_rho_768():
    assert rules_for_rho(12_288, 768) == 16


def test_a_compact_state_keeps_the_assignment_probabilities_within_a_small_total_variation():
    es = _es(synapses=300, rules=50, optimizer="adam")
    g = torch.Generator().manual_seed(1)
    es.logits.copy_(20 * torch.randn(300, 50, generator=g) + 100 * torch.randn(300, 1, generator=g))
    state = compact_state(es.state_dict())
    assert state["params"]["logits"].dtype == torch.float16 and state["moments"] == {}
    assert state["params"]["logits"].max(dim=1).values.eq(0).all()
    assert es.logits.dtype == torch.float32  # the live strategy is untouched
    twin = _es(synapses=300, rules=50, optimizer="sgd")  # a sampling strategy keeps no moments
    twin.load_state_dict({**state, "config": {**state["config"], "optimizer": "sgd"}})
    assert twin.logits.dtype == torch.float32
    distance = 0.5 * (torch.softmax(es.logits.double(), 1) - torch.softmax(twin.logits.double(), 1)).abs().sum(1)
    assert float(distance.max()) < 1e-3
    torch.testing.assert_close(twin.means, es.means)


def test_half_precision_logits_work_through_blocks_of_rows():
    logits = torch.randn(37, 5, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(half_precision_logits(logits, chunk_elements=7), half_precision_logits(logits))


def _means_step(es: GaussianMixtureES, fitness: torch.Tensor) -> torch.Tensor:
    before = es.means.clone()
    es.ask()
    es.tell(fitness)
    return es.means - before


@pytest.mark.parametrize("assignment", ["learned", "random-fixed"])
def test_a_per_synapse_mean_gradient_divides_each_rules_step_by_the_synapses_it_serves(assignment):
    fitness = torch.randn(8, generator=torch.Generator().manual_seed(4))
    steps = {scale: _means_step(_es(synapses=60, rules=4, optimizer="sgd", lr=0.1, assignment=assignment,
                                    mean_gradient=scale), fitness) for scale in ("sum", "per-synapse")}
    if assignment == "learned":  # lambda starts at 0: every rule serves N / M = 15 synapses in expectation
        served = torch.full((4,), 15.0)
    else:
        served = torch.bincount(_es(synapses=60, rules=4, assignment=assignment).assignment, minlength=4).float()
    assert steps["sum"].abs().sum() > 0
    torch.testing.assert_close(steps["per-synapse"], steps["sum"] / served.clamp(min=1)[:, None])


def test_a_single_shared_rule_moves_by_its_synapses_average_pull_not_their_sum():
    # rho = N: one rule for 3,000 synapses. The summed gradient is ~N times a synapse's pull,
    # the per-synapse one is their average.
    fitness = torch.randn(8, generator=torch.Generator().manual_seed(5))
    summed, averaged = (_means_step(_es(synapses=3000, rules=1, optimizer="sgd", lr=0.1, mean_gradient=scale),
                                    fitness) for scale in ("sum", "per-synapse"))
    torch.testing.assert_close(averaged * 3000, summed, rtol=1e-4, atol=1e-3)  # float32 steps on means ~1
    assert float(averaged.abs().max()) < 0.1 < float(summed.abs().max())


def test_an_unknown_mean_gradient_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="mean_gradient must be one of 'sum', 'per-synapse', got 'natural'"):
        GaussianMixtureESConfig(8, mean_gradient="natural")
