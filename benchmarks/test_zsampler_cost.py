"""The z = {h, k} sampler's gradient (``gradient = "joint"``) against the mixture's exact one
(``"marginal"``), per update, on the ant at the paper's rho = 128 and at rho = 16.

The marginal score sums the responsibilities over all M rules for every individual and
synapse (``O(P N M)``); the joint one indexes the rule each synapse drew (``O(P N + N M)``).
Both run on the same population in the same process, so the printed ratio compares them
under the same load. Run: ``pytest benchmarks/test_zsampler_cost.py --benchmark-only -s``.
"""

from __future__ import annotations

import pytest
import torch

from hebbbench.es.gmm import mixture_score_gradient, rules_for_rho
from hebbbench.es.zsampler import joint_score_gradient, sample_joint

ANT_SYNAPSES = 28 * 128 + 128 * 64 + 64 * 8  # 12,288
POPULATION = 128
_SECONDS: dict[tuple[int, str], float] = {}


def _population(rho: int):
    g = torch.Generator().manual_seed(0)
    rules = rules_for_rho(ANT_SYNAPSES, rho)
    logits, means = 0.1 * torch.randn(ANT_SYNAPSES, rules, generator=g), torch.randn(rules, 5, generator=g)
    samples, clusters = sample_joint(logits, means, 0.1, POPULATION, g)
    return logits, means, samples.contiguous(), clusters, torch.randn(POPULATION, generator=g)


GRADIENTS = {
    "marginal": lambda logits, means, samples, clusters, u: mixture_score_gradient(logits, means, 0.1, samples, u),
    "joint": lambda logits, means, samples, clusters, u: joint_score_gradient(logits, means, 0.1, samples,
                                                                              clusters, u),
}


@pytest.mark.parametrize("rho", [128, 16])
@pytest.mark.parametrize("gradient", list(GRADIENTS))
def test_score_gradient(benchmark, rho, gradient):
    inputs = _population(rho)
    benchmark.pedantic(GRADIENTS[gradient], args=inputs, rounds=3, iterations=1, warmup_rounds=1)
    _SECONDS[rho, gradient] = benchmark.stats.stats.mean
    benchmark.extra_info.update(rho=rho, rules=rules_for_rho(ANT_SYNAPSES, rho), population=POPULATION)


def teardown_module(module):
    for rho in (128, 16):
        if (rho, "joint") in _SECONDS and (rho, "marginal") in _SECONDS:
            joint, marginal = _SECONDS[rho, "joint"], _SECONDS[rho, "marginal"]
            print(f"\nant rho={rho} (M={rules_for_rho(ANT_SYNAPSES, rho)}), P={POPULATION}: marginal "
                  f"{marginal:.3f} s, joint {joint:.3f} s per gradient; marginal/joint {marginal / joint:.1f}x")
