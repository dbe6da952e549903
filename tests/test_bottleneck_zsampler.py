"""The z = {h, k} sampler's gradient (hebbbench.es.zsampler) on a tiny mixture, and the mixture
ES that ascends it (``gradient = "joint"``)."""

import dataclasses

import torch

from hebbbench.es.gmm import mixture_log_prob
from hebbbench.es.zsampler import joint_log_prob, joint_score_gradient, sample_joint


def _tiny(seed=0):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(4, 3, generator=generator, dtype=torch.float64)
    means = torch.randn(3, 5, generator=generator, dtype=torch.float64)
    rules, clusters = sample_joint(logits, means, 0.5, 6, generator)
    utilities = torch.randn(6, generator=generator, dtype=torch.float64)
    return logits, means, rules, clusters, utilities


def _objective(logits, means, rules, clusters, utilities):
    return float((utilities * joint_log_prob(logits, means, 0.5, rules, clusters)).mean())


def test_the_joint_score_gradient_matches_finite_differences():
    logits, means, rules, clusters, utilities = _tiny()
    grad_logits, grad_means = joint_score_gradient(logits, means, 0.5, rules, clusters, utilities)
    step = 1e-6
    for param, grad in ((logits, grad_logits), (means, grad_means)):
        for index in range(param.numel()):
            flat = param.view(-1)
            saved = float(flat[index])
            flat[index] = saved + step
            up = _objective(logits, means, rules, clusters, utilities)
            flat[index] = saved - step
            down = _objective(logits, means, rules, clusters, utilities)
            flat[index] = saved
            assert abs((up - down) / (2 * step) - float(grad.view(-1)[index])) < 1e-6


def test_summing_the_joint_over_the_clusters_gives_the_mixtures_marginal():
    logits, means, rules, _, _ = _tiny(1)
    one = rules[:1]
    total = torch.zeros(())
    for assignment in torch.cartesian_prod(*[torch.arange(3)] * 4):  # every k for the 4 synapses
        total = total + joint_log_prob(logits, means, 0.5, one, assignment[None]).exp()[0]
    torch.testing.assert_close(total.log(), mixture_log_prob(logits, means, 0.5, one)[0])


def _strategy(gradient, population=64, synapses=30, rules=4, **config):
    from hebbbench.es.gmm import GaussianMixtureES, GaussianMixtureESConfig

    config = GaussianMixtureESConfig(population, optimizer="sgd", lr=0.5, gradient=gradient, **config)
    # float64: the marginal's closed form sums w r h - mu sum w r, which cancels in float32
    # when the rules lie far from 0 and 0.01 from their means.
    return GaussianMixtureES(synapses, rules, config, seed=5, dtype=torch.float64)


def _fitness(population):
    """A fitness that prefers rules near 1 (so the gradient has a direction, not only noise)."""
    return -(population - 1.0).square().sum(1)


def test_with_separated_rules_the_joint_update_equals_the_marginal_one_on_the_same_population():
    # Rules 10 std apart at sigma 0.01: each synapse's responsibilities are one-hot on the rule
    # it drew, where the joint and the marginal score coincide.
    joint, marginal = (_strategy(g, means_init_std=10.0, sigma=0.01) for g in ("joint", "marginal"))
    for generation in range(3):
        asked = joint.ask()
        # The gradient never changes the sampling: the same draws from (nearly) the same mixture.
        torch.testing.assert_close(asked, marginal.ask(), rtol=1e-9, atol=1e-9)
        stats = [es.tell(_fitness(asked)) for es in (joint, marginal)]
        assert stats[0]["grad_norm_means"] > 0 and stats[0]["grad_norm_logits"] > 0
        torch.testing.assert_close(joint.logits, marginal.logits, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(joint.means, marginal.means, rtol=1e-9, atol=1e-9)


def test_with_overlapping_rules_the_joint_gradient_is_the_marginal_one_plus_zero_mean_noise():
    # Rules within one std of each other: the one-hot draw replaces spread responsibilities, so
    # one population's two gradients differ, but over many populations they agree on average.
    from hebbbench.es.gmm import mixture_score_gradient

    generator = torch.Generator().manual_seed(5)
    logits = torch.zeros(30, 4, dtype=torch.float64)
    means = torch.randn(4, 5, generator=generator, dtype=torch.float64)
    sums = {"joint": 0.0, "marginal": 0.0}
    for population in range(40):  # every population drawn from the same mixture
        rules, clusters = sample_joint(logits, means, 1.0, 256, generator)
        utilities = _fitness(rules.reshape(256, -1))
        utilities = (utilities - utilities.mean()) / utilities.std()
        joint = joint_score_gradient(logits, means, 1.0, rules, clusters, utilities)[1]
        marginal = mixture_score_gradient(logits, means, 1.0, rules.contiguous(), utilities)[1]
        sums["joint"], sums["marginal"] = sums["joint"] + joint, sums["marginal"] + marginal
    single = float(torch.linalg.vector_norm(joint - marginal))  # the last population's two gradients
    averaged = float(torch.linalg.vector_norm(sums["joint"] - sums["marginal"])) / 40
    assert single > 0.05 * float(torch.linalg.vector_norm(joint))  # one population: they differ
    assert averaged < single / 3  # the difference averages out (about 1/sqrt(40) of one population's)
    cosine = torch.nn.functional.cosine_similarity(sums["joint"].view(-1), sums["marginal"].view(-1), dim=0)
    assert float(cosine) > 0.95


def test_the_joint_gradient_needs_a_learned_assignment_and_a_known_name():
    import pytest

    from hebbbench.es.gmm import GaussianMixtureESConfig

    with pytest.raises(ValueError, match="needs assignment 'learned', got assignment 'random-fixed'"):
        GaussianMixtureESConfig(8, gradient="joint", assignment="random-fixed")
    with pytest.raises(ValueError, match="gradient must be one of 'marginal', 'joint', got 'exact'"):
        GaussianMixtureESConfig(8, gradient="exact")


def test_a_shared_ant_run_with_the_joint_gradient_trains_logs_and_resumes_exactly(tmp_path):
    from hebbbench.training.train import TrainConfig, read_log, resume, train

    config = TrainConfig(agent="shared", task="ant", rho=256, population=4, generations=2, seed=3,
                         max_episode_steps=10, variations=("default",), backend="inprocess",
                         es={"optimizer": "sgd", "lr": 0.1, "gradient": "joint"})
    whole = train(config, tmp_path / "whole", progress=False)
    split = train(dataclasses.replace(config, generations=1), tmp_path / "split", progress=False)
    resume(split, generations=2, progress=False)
    rows, again = read_log(whole), read_log(split)
    assert len(rows) == 2 and rows[-1]["grad_norm_logits"] > 0
    for key in ("fitness_mean", "grad_norm_logits", "grad_norm_means", "entropy"):
        assert [r[key] for r in rows] == [r[key] for r in again]
