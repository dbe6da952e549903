"""The z = {h, k} sampler's gradient (hebbbench.es.zsampler) on a tiny mixture."""

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
