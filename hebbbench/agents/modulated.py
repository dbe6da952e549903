"""Reward-modulated Hebbian rules: plasticity scaled by the reward the agent receives.

The paper's last paragraph: a Hebbian agent that cannot see the reward cannot adapt to it.
This family is the reference Hebbian network (same synapses, same per-synapse ABCD rules
``hebb.i`` ``[n_in, n_out, 5]`` = (eta, A, B, C, D), same U(-0.1, 0.1) weights drawn at each
episode start) whose weight updates are scaled by a modulatory signal computed from the
reward (neuromodulated plasticity, Soltoggio et al. 2007/2008: a modulatory signal
multiplies the Hebbian term, so the same rule learns faster, slower or not at all depending
on how the last step turned out against the recent ones). Per step:

* ``act``: every layer computes ``post = act(pre @ W)`` with the current weights and keeps
  its ``pre`` and ``post`` (``[K, n_in]`` and ``[K, n_out]``: the Hebbian term's factors,
  kept instead of the ``[K, n_in, n_out]`` term itself); the weights do not change;
* ``observe(rewards, done)``: for individual k, ``m_k = bias + tanh(gain * (r_k - b_k))``
  where ``b_k`` is its running reward baseline (0 at reset, then ``b <- decay * b + (1 - decay) r``
  after each step), and every layer takes
  ``W += m * eta * (A pre post^T + B pre + C post + D)`` (then, on the car, ``W /= max|W|``
  as the reference Hebbian car does, for the individuals with ``m != 0``). An individual
  whose episode is over (``done``) is not updated, nor is its baseline.

The modulation's parameters are **fixed**, not evolved: ``bias`` 1.0, ``gain`` 1.0 and
``baseline_decay`` 0.9 (a baseline over about the last ten steps), class attributes a
subclass may change. So the evolved parameters are exactly the Hebbian family's, laid out
the same way (the car's conv front end, then the rules): the coefficient penalty covers all
of them (``rule_prefix``), and the rule-sharing strategies (:mod:`hebbbench.es.merge`) run
this family unchanged. (Evolving the three numbers would add a tensor to the layout that is
neither a weight with a fan-in nor a rule table; the registry's fan-in test treats every
registered tensor as one or the other.) What is evolved is how strongly and in which
direction each synapse responds, and the reward sets how much it learns at each step.

``bias = 1``: a step that pays what the recent ones paid takes the plain Hebbian update, a
better one up to twice it, a worse one down to none; with a zero reward the network learns
as the Hebbian family does (to float rounding). Without the bias (a pure gate,
``m = tanh(gain (r - b))``, this family's first form) the network cannot start: an ant that
stands still earns exactly 0 per step and one moving by U(-0.1, 0.1) weights about 1e-3, so
``m`` stays near 0, the weights stay at their random start and the ES sees no differences
to rank (measured: a population mean of 1-5 over the first 14 generations of its first ant
run, where the per-synapse Hebbian network was at 13-21 by generations 6-12;
docs/bottleneck.md).

A network that never observes (``observe`` never called) is a static network with random
weights.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from hebbbench.agents.networks import HebbianPolicy, _layer, max_abs


class ModulatedHebbianPolicy(HebbianPolicy):
    """Per-synapse ABCD rules applied only through :meth:`observe`, scaled by
    ``m_k = bias + tanh(gain * (r_k - b_k))`` (see the module docstring)."""

    agent = "modulated"
    uses_reward = True
    #: The plasticity at a reward equal to its baseline: ``m = bias + tanh(g (r - b))`` (fixed).
    bias = 1.0
    #: The modulation's gain g (fixed, not evolved).
    gain = 1.0
    #: The per-step decay of the running reward baseline b (fixed, not evolved).
    baseline_decay = 0.9

    def reset(self, seeds: Sequence[int]) -> None:
        """Draw the weights as the Hebbian agent does; baselines start at 0 and no step is pending."""
        super().reset(seeds)
        self.baseline = torch.zeros(self.size, device=self.device)
        self._pending: list[tuple[torch.Tensor, torch.Tensor]] = []

    def _dense(self, x: torch.Tensor) -> torch.Tensor:
        """Forward pass with the current weights, keeping each layer's (pre ``[K, n_in]``,
        post ``[K, n_out]``) for the update :meth:`observe` makes."""
        self._pending = []
        for weight, act in zip(self.weights, self.arch.activations):
            post = act(_layer(x, weight))
            self._pending.append((x, post))
            x = post
        return x

    def modulation(self, rewards: torch.Tensor, done: torch.Tensor) -> torch.Tensor:
        """``[K]`` rewards and done flags -> ``[K]`` modulation ``bias + tanh(gain (r - b))``,
        0 for an individual whose episode is over; moves the running baselines of the others."""
        signal = self.bias + torch.tanh(self.gain * (rewards - self.baseline))
        signal = torch.where(done, torch.zeros_like(signal), signal)
        moved = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * rewards
        self.baseline = torch.where(done, self.baseline, moved)
        return signal

    @torch.no_grad()
    def observe(self, rewards: np.ndarray, done: np.ndarray) -> None:
        """Apply the last :meth:`act`'s Hebbian terms, each individual's scaled by its
        modulation: ``rewards`` ``[K]`` float, ``done`` ``[K]`` bool. A call without a
        preceding ``act`` (or a second one after it) changes nothing."""
        if not self._pending:
            return
        rewards_t = torch.as_tensor(np.asarray(rewards, dtype=np.float32)).to(self.device).reshape(-1)
        done_t = torch.as_tensor(np.asarray(done, dtype=bool)).to(self.device).reshape(-1)
        if rewards_t.numel() != self.size or done_t.numel() != self.size:
            raise ValueError(f"expected {self.size} rewards and done flags, got {rewards_t.numel()} and "
                             f"{done_t.numel()}")
        rewards_t = torch.nan_to_num(rewards_t, nan=0.0, posinf=0.0, neginf=0.0)
        scale = self.modulation(rewards_t, done_t).view(-1, 1, 1)
        layers = zip(self.weights, self._scratch, self.rules, self._pending)
        for weight, scratch, (eta_a, eta_b, eta_c, eta_d), (pre, post) in layers:
            pre_col, post_row = pre.unsqueeze(2), post.unsqueeze(1)
            # dW = pre * (eta A post + eta B) + (eta C post + eta D), as the Hebbian agent
            # forms it, then W += m dW (each individual's dW scaled by its own m).
            torch.addcmul(eta_b, eta_a, post_row, out=scratch)
            scratch.mul_(pre_col)
            scratch.add_(eta_d).addcmul_(eta_c, post_row)
            weight.addcmul_(scratch, scale)
            if self.arch.normalise_hebbian:  # only the layers that changed (m != 0)
                weight.copy_(torch.where(scale == 0, weight, weight / max_abs(weight)))
        self._pending = []
