"""The shared-rule Gaussian-mixture ES: closed-form gradient, sampling, optimisers, state."""

from __future__ import annotations

import copy
import io
import math

import pytest
import torch
import torch.distributions as D

from hebbbench.es import shape_fitness
from hebbbench.es.gmm import (
    GaussianMixtureES,
    GaussianMixtureESConfig,
    mean_entropy,
    mixture_log_prob,
    mixture_score_gradient,
    rules_for_rho,
)

_CONFIG_KEYS = {"sigma", "sigma_decay", "optimizer", "lr", "lr_decay", "chunk_elements", "dense_sigma"}


def _es(synapses: int, rules: int, population: int, **kwargs) -> GaussianMixtureES:
    config = {k: kwargs.pop(k) for k in list(kwargs) if k in _CONFIG_KEYS}
    return GaussianMixtureES(synapses, rules, GaussianMixtureESConfig(population, **config), **kwargs)


def _mixture(logits: torch.Tensor, means: torch.Tensor, sigma: float) -> D.Distribution:
    """eq. 3 as torch.distributions: per synapse, a mixture over M isotropic 5-D Gaussians."""
    synapses, num_rules = logits.shape
    components = D.Independent(D.Normal(means.expand(synapses, num_rules, 5), sigma), 1)
    return D.MixtureSameFamily(D.Categorical(logits=logits), components)


def _case(seed: int, population=6, synapses=9, num_rules=4, sigma=0.8):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(synapses, num_rules, generator=g, dtype=torch.float64)
    means = torch.randn(num_rules, 5, generator=g, dtype=torch.float64)
    rules = torch.randn(population, synapses, 5, generator=g, dtype=torch.float64)
    weights = torch.randn(population, generator=g, dtype=torch.float64)
    return logits, means, sigma, rules, weights


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("chunk_elements", [1, 7, 10**6])
def test_closed_form_gradient_matches_autograd(seed, chunk_elements):
    logits, means, sigma, rules, weights = _case(seed)
    lam, mu = logits.clone().requires_grad_(), means.clone().requires_grad_()
    objective = (weights * _mixture(lam, mu, sigma).log_prob(rules).sum(dim=1)).mean()
    want_lam, want_mu = torch.autograd.grad(objective, (lam, mu))
    got_lam, got_mu = mixture_score_gradient(logits, means, sigma, rules, weights, chunk_elements)
    for got, want in ((got_lam, want_lam), (got_mu, want_mu)):
        assert got.shape == want.shape
        assert (torch.linalg.vector_norm(got - want) / torch.linalg.vector_norm(want)) < 1e-5
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


def test_closed_form_gradient_with_peaked_responsibilities():
    """Small sigma: responsibilities near one-hot, the regime of the paper's sigma = 0.1."""
    logits, means, _, _, weights = _case(3, num_rules=6)
    rules = means[torch.randint(0, 6, (6, 9), generator=torch.Generator().manual_seed(0))]
    rules = rules + 0.1 * torch.randn(rules.shape, dtype=torch.float64)
    lam, mu = logits.clone().requires_grad_(), means.clone().requires_grad_()
    objective = (weights * _mixture(lam, mu, 0.1).log_prob(rules).sum(dim=1)).mean()
    want = torch.autograd.grad(objective, (lam, mu))
    got = mixture_score_gradient(logits, means, 0.1, rules, weights, chunk_elements=5)
    for g, w in zip(got, want):
        assert torch.linalg.vector_norm(g - w) / torch.linalg.vector_norm(w) < 1e-5


def test_gradient_reuses_the_given_buffer():
    logits, means, sigma, rules, weights = _case(0)
    buffer = torch.full_like(logits, 123.0)
    got, _ = mixture_score_gradient(logits, means, sigma, rules, weights, out=buffer)
    assert got.data_ptr() == buffer.data_ptr()
    torch.testing.assert_close(got, mixture_score_gradient(logits, means, sigma, rules, weights)[0])


@pytest.mark.parametrize("chunk_elements", [3, 10**6])
def test_log_prob_matches_torch_distributions(chunk_elements):
    logits, means, sigma, rules, _ = _case(4)
    want = _mixture(logits, means, sigma).log_prob(rules).sum(dim=1)
    torch.testing.assert_close(mixture_log_prob(logits, means, sigma, rules, chunk_elements), want)


def test_rules_for_rho():
    assert rules_for_rho(12_288, 1) == 12_288
    assert rules_for_rho(12_288, 128) == 96
    assert rules_for_rho(91_328, 128) == 713
    assert rules_for_rho(12_288, "N") == 1
    assert rules_for_rho(12_288, 12_288) == 1
    for bad in (0, 12_289, "M"):
        with pytest.raises(ValueError, match="rho"):
            rules_for_rho(12_288, bad)


def test_ask_shapes_and_layout():
    es = _es(30, 4, 7, num_dense=3, seed=0)
    assert es.num_params == 3 + 5 * 30
    population = es.ask()
    assert population.shape == (7, 153) and population.dtype == torch.float32
    rules = population[:, 3:].reshape(7, 30, 5)
    # every synapse's rule lies within a few sigma of one of the M means
    nearest = torch.cdist(rules.reshape(-1, 5), es.means).min(dim=1).values
    assert float(nearest.max()) < 0.1 * 6
    assert mean_entropy(es.logits) == pytest.approx(math.log(4))


def test_ask_samples_components_by_the_logits():
    es = _es(200, 3, 50, sigma=1e-3, seed=1)
    es.logits[:] = torch.log(torch.tensor([0.6, 0.3, 0.1]))
    rules = es.ask().reshape(50, 200, 5)
    component = torch.cdist(rules.reshape(-1, 5), es.means).argmin(dim=1)
    share = torch.bincount(component, minlength=3) / component.numel()
    torch.testing.assert_close(share, torch.tensor([0.6, 0.3, 0.1]), atol=0.02, rtol=0)
    es.logits[:, 2] = 1e4  # a deterministic assignment
    rules = es.ask().reshape(50, 200, 5)
    assert float((rules - es.means[2]).abs().max()) < 1e-2


def _run(es: GaussianMixtureES, generations: int) -> list[dict]:
    """``generations`` of ask/tell on a noisy sphere; the noise depends only on the generation."""
    logs = []
    for _ in range(generations):
        g = torch.Generator().manual_seed(es.generation)
        population = es.ask()
        fitness = -population.square().mean(dim=1) + 0.01 * torch.randn(es.population, generator=g)
        logs.append(es.tell(fitness))
    return logs


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_ask_tell_is_reproducible(optimizer):
    def make():
        return _es(40, 5, 8, num_dense=2, optimizer=optimizer, lr=0.1, seed=3)
    a, b = make(), make()
    assert _run(a, 3) == _run(b, 3)
    for name, tensor in a.state_dict()["params"].items():
        assert torch.equal(tensor, b.state_dict()["params"][name])
    assert not torch.equal(a.means, _es(40, 5, 8, seed=4).means)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_state_save_and_restore_is_exact(optimizer):
    def make():
        return _es(40, 5, 8, num_dense=2, optimizer=optimizer, seed=5)
    straight = make()
    _run(straight, 4)
    first = make()
    _run(first, 2)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    resumed = make()
    resumed.load_state_dict(torch.load(buffer))
    _run(resumed, 2)
    for name, tensor in straight.state_dict()["params"].items():
        assert torch.equal(tensor, resumed.state_dict()["params"][name]), name
    assert (resumed.sigma, resumed.lr, resumed.generation) == (
        straight.sigma, straight.lr, straight.generation)


def test_state_saved_between_ask_and_tell_asks_the_same_generation_again():
    es = _es(20, 3, 4, seed=6)
    asked = es.ask()
    state = copy.deepcopy(es.state_dict())
    other = _es(20, 3, 4, seed=99)
    other.load_state_dict(state)
    assert torch.equal(other.ask(), asked)
    with pytest.raises(ValueError, match="state is for"):
        _es(20, 4, 4).load_state_dict(state)
    with pytest.raises(ValueError, match="optimizer"):
        _es(20, 3, 4, optimizer="sgd").load_state_dict(state)
    with pytest.raises(ValueError, match="not a Gaussian-mixture"):
        _es(20, 3, 4).load_state_dict({"kind": "openai-es"})


def test_solution_is_each_synapse_most_probable_rule():
    es = _es(6, 3, 4, num_dense=2, seed=0)
    es.logits[:, 1] = 1.0
    es.logits[4, 2] = 5.0
    solution = es.solution().reshape(-1)
    assert torch.equal(solution[:2], es.dense_mean)
    want = es.means[torch.tensor([1, 1, 1, 1, 2, 1])]
    assert torch.equal(solution[2:].reshape(6, 5), want)


def test_sgd_step_is_the_scaled_gradient_and_decays():
    es = _es(10, 3, 6, num_dense=2, optimizer="sgd", lr=0.3, lr_decay=0.5,
                           sigma=0.5, sigma_decay=0.9, dense_sigma=0.2, seed=0, dtype=torch.float64)
    before = {k: v.clone() for k, v in es.state_dict()["params"].items()}
    population = es.ask()
    fitness = torch.arange(6.0)
    rules = population[:, 2:].reshape(6, 10, 5)
    shaped = shape_fitness(fitness)
    g_lam, g_mu = mixture_score_gradient(before["logits"], before["means"], 0.5, rules, shaped)
    g_dense = (shaped[:, None] * (population[:, :2] - before["dense_mean"])).mean(0) / 0.2**2
    stats = es.tell(fitness)
    torch.testing.assert_close(es.logits, before["logits"] + 0.3 * g_lam)
    torch.testing.assert_close(es.means, before["means"] + 0.3 * g_mu)
    torch.testing.assert_close(es.dense_mean, before["dense_mean"] + 0.3 * g_dense)
    assert stats["grad_norm_logits"] == pytest.approx(float(g_lam.norm()))
    assert stats["grad_norm_means"] == pytest.approx(float(g_mu.norm()))
    assert (stats["lr"], stats["sigma"], es.lr, es.sigma) == (0.3, 0.5, 0.15, 0.45)


def test_adam_matches_torch_adam_ascent():
    es = _es(12, 3, 6, optimizer="adam", lr=0.05, lr_decay=1.0, seed=2,
                           chunk_elements=5, dtype=torch.float64)
    lam, mu = es.logits.clone(), es.means.clone()
    reference = torch.optim.Adam([lam, mu], lr=0.05, maximize=True)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        population = es.ask()
        fitness = torch.randn(6, generator=g)
        rules = population.reshape(6, 12, 5)
        lam.grad, mu.grad = mixture_score_gradient(lam, mu, es.sigma, rules,
                                                   shape_fitness(fitness))
        reference.step()
        es.tell(fitness)
        torch.testing.assert_close(es.logits, lam)
        torch.testing.assert_close(es.means, mu)


def test_tell_validates_fitness_and_order():
    es = _es(10, 2, 4)
    with pytest.raises(RuntimeError, match="ask"):
        es.tell(torch.zeros(4))
    es.ask()
    with pytest.raises(ValueError, match="expected 4 fitness values"):
        es.tell(torch.zeros(3))
    with pytest.raises(ValueError, match="NaN or infinite"):
        es.tell(torch.tensor([0.0, 1.0, float("nan"), 2.0]))
    with pytest.raises(ValueError, match="optimizer"):
        _es(10, 2, 4, optimizer="rmsprop")
    with pytest.raises(ValueError, match="sigma"):
        _es(10, 2, 4, sigma=0.0)


def test_learns_a_shared_target_rule():
    """Fitness = closeness of every synapse's rule to one target: the rules move to it."""
    target = torch.tensor([0.5, -1.0, 0.0, 1.5, -0.5])
    es = _es(16, 2, 32, optimizer="adam", lr=0.1, lr_decay=1.0, seed=0)
    def distance():
        return float(torch.cdist(es.means, target[None]).min())
    start = distance()
    for _ in range(60):
        rules = es.ask().reshape(32, 16, 5)
        es.tell(-(rules - target).square().sum(dim=(1, 2)))
    assert distance() < 0.25 * start


def test_sample_is_one_individual_drawn_by_the_logits_from_its_seed_alone():
    es = _es(2_000, 3, 4, num_dense=2, sigma=1e-3, dense_sigma=1e-3, seed=1)
    twin = _es(2_000, 3, 4, num_dense=2, sigma=1e-3, dense_sigma=1e-3, seed=1)
    for strategy in (es, twin):
        strategy.logits[:] = torch.log(torch.tensor([0.6, 0.3, 0.1]))
    sample = es.sample(11)
    assert sample.shape == (es.num_params,) and torch.equal(sample, es.sample(11))
    assert not torch.equal(sample, es.sample(12))
    component = torch.cdist(sample[2:].reshape(-1, 5), es.means).argmin(dim=1)
    share = torch.bincount(component, minlength=3) / component.numel()
    torch.testing.assert_close(share, torch.tensor([0.6, 0.3, 0.1]), atol=0.03, rtol=0)
    assert float((sample[:2] - es.dense_mean).abs().max()) < 1e-2
    assert torch.equal(es.ask(), twin.ask())  # sampling left the strategy's random state alone


def test_defaults_decay_sigma_as_the_papers_code_and_keep_the_dense_block_as_its_car_runs():
    """The paper's code: sigma 0.1 x 0.999 per generation; the car's conv block starts at
    zero and is sampled with a fixed std of 0.1 whatever the generation."""
    es = _es(50, 5, 400, num_dense=300, seed=2)
    assert torch.equal(es.dense_mean, torch.zeros(300))
    for _ in range(3):
        es.ask()
        es.tell(torch.zeros(400))
    assert es.sigma == pytest.approx(0.1 * 0.999**3)
    dense = es.ask()[:, :300]
    assert float((dense - es.dense_mean).std()) == pytest.approx(0.1, rel=0.02)
    fixed = _es(50, 5, 4, sigma_decay=1.0)
    fixed.generation = 100
    assert fixed.sigma == 0.1


def test_rule_usage_counts_the_rules_that_are_some_synapses_most_probable_one():
    from hebbbench.es.gmm import rule_usage

    logits = torch.zeros(6, 4)
    logits[[0, 1, 2], 1] = 3.0  # three synapses prefer rule 1
    logits[[3, 4], 2] = 1.0  # two prefer rule 2; synapse 5 ties everywhere (argmax: rule 0)
    assert rule_usage(logits, chunk_elements=8) == {"rules_in_use": 3, "largest_rule_synapses": 3}
    strategy = GaussianMixtureES(12, 3, GaussianMixtureESConfig(population_size=4), seed=0)
    strategy.ask()
    stats = strategy.tell(torch.arange(4.0))
    assert 1 <= stats["rules_in_use"] <= 3 and stats["largest_rule_synapses"] >= 4
