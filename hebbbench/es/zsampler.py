"""The paper's z = {h, k} sampler for the Gaussian mixture of shared rules (issue 30): its
gradient, which the mixture ES uses with ``gradient = "joint"`` (:mod:`hebbbench.es.gmm`).

The mixture ES (:mod:`hebbbench.es.gmm`) ascends ``1/P sum_i f_i grad log p(h_i)`` with the
*marginal* ``log p(h) = sum_n log sum_k softmax(lambda_n)_k N(h_n | mu_k, sigma)``: the inner
sum over the M rules costs ``P x N x M`` per update. The paper's proposal: an individual carries
its sampled coefficients ``h`` *and* the rule ``k_n`` each synapse drew, and the update ascends
the score of the *joint* ``log p(h, k) = sum_n [log softmax(lambda_n)_{k_n} + log N(h_n | mu_{k_n},
sigma)]``::

    d log p(h, k) / d lambda_nj = 1[k_n = j] - softmax(lambda_n)_j
    d log p(h, k) / d mu_j      = sum_{n: k_n = j} (h_n - mu_j) / sigma^2

**How it differs from the exact gradient.** Since ``(h, k)`` is drawn jointly, ``k_n`` given
``h_n`` follows the responsibilities ``r_nk``, and ``E[grad log p(h, k) | h] = grad log p(h)``:
both estimators have the same expectation (the gradient of expected fitness), and the joint one
replaces each ``r_n`` by a one-hot draw from it, which adds variance (most where responsibilities
are spread, none where they are one-hot). Per update it costs ``O(P N)`` for the sums over
individuals plus ``O(N M)`` once for the softmax term, instead of ``O(P N M)``.
"""

from __future__ import annotations

import math

import torch

COEFFICIENTS = 5


def sample_joint(logits: torch.Tensor, means: torch.Tensor, sigma: float, count: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` individuals of the mixture: rules ``[count, N, 5]`` and the rule each synapse
    drew, ``[count, N]`` (``logits`` ``[N, M]``, ``means`` ``[M, 5]``)."""
    probs = torch.softmax(logits, dim=1)
    clusters = torch.multinomial(probs, count, replacement=True, generator=generator).T  # [count, N]
    noise = torch.randn(*clusters.shape, COEFFICIENTS, generator=generator, dtype=means.dtype)
    return means[clusters] + sigma * noise, clusters


def joint_log_prob(logits: torch.Tensor, means: torch.Tensor, sigma: float, rules: torch.Tensor,
                   clusters: torch.Tensor) -> torch.Tensor:
    """``log p(h_i, k_i)`` ``[P]`` (nats) of rules ``[P, N, 5]`` drawn from rules ``clusters`` ``[P, N]``."""
    log_mix = torch.log_softmax(logits, dim=1).gather(1, clusters.T).T  # [P, N]
    sq = (rules - means[clusters]).square().sum(-1)
    const = -0.5 * COEFFICIENTS * math.log(2 * math.pi * sigma**2)
    return (log_mix + const - sq / (2 * sigma**2)).sum(1)


def joint_score_gradient(logits: torch.Tensor, means: torch.Tensor, sigma: float, rules: torch.Tensor,
                         clusters: torch.Tensor, utilities: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``1/P sum_i u_i grad log p(h_i, k_i)`` w.r.t. ``logits`` ``[N, M]`` and ``means`` ``[M, 5]``
    (module docstring), from rules ``[P, N, 5]``, their clusters ``[P, N]`` and utilities ``[P]``;
    no ``[P, N, M]`` array is formed."""
    population, synapses = clusters.shape
    num_rules = means.shape[0]
    device = logits.device
    u = utilities.to(device=device, dtype=logits.dtype)
    clusters, rules = clusters.to(device), rules.to(device)
    weights = u[:, None].expand(population, synapses).reshape(-1)
    flat = (clusters + torch.arange(synapses, device=device)[None, :] * num_rules).reshape(-1)  # into [N * M]
    counts = torch.zeros(synapses * num_rules, dtype=logits.dtype, device=device).index_add_(0, flat, weights)
    grad_logits = (counts.view(synapses, num_rules) - u.sum() * torch.softmax(logits, dim=1)) / population
    offsets = (rules - means[clusters]) * u[:, None, None].to(rules.dtype)
    grad_means = torch.zeros_like(means).index_add_(0, clusters.reshape(-1), offsets.reshape(-1, COEFFICIENTS))
    return grad_logits, grad_means / (population * sigma**2)
