"""Shared Hebbian rules: a Gaussian-mixture search distribution with an ask/tell interface.

The paper's shared-rule model (eq. 3): every synapse ``n`` of ``N`` draws a rule index
``k ~ softmax(lambda_n)`` from ``M`` learned rules, then its five ABCD coefficients
``h_n ~ N(mu_k, sigma^2 I_5)``. The search parameters are the mixing logits
``lambda`` ``[N, M]`` (start 0, uniform assignment) and the rule means ``mu`` ``[M, 5]``
(start N(0, 1)); ``sigma`` is fixed (by default; ``sigma_decay`` may shrink it per generation).
Two of the paper's post-hoc variants (section 5.5) are config settings: the means' initial
std (``means_init_std``; the paper tried N(0, 10)) and a random fixed assignment instead of
learned mixing weights (``assignment="random-fixed"``: synapse n always draws its rule
``a_n``, chosen uniformly from the seed, and lambda is never updated).

``tell`` ascends the score-function estimate of eq. 2,
``g = 1/P sum_i f_i grad log p(h_i | mu, lambda)``, with ``f`` the centered-rank,
z-scored fitness. The gradient is written in closed form with the responsibilities
``r_nk = softmax_k(lambda_nk + log N(h_n | mu_k, sigma))``::

    d log p / d lambda_nk = r_nk - softmax(lambda_n)_k
    d log p / d mu_k      = sum_n r_nk (h_n - mu_k) / sigma^2

and accumulated over blocks of (individuals x synapses x M), so memory stays at four
``lambda``-sized arrays (with Adam) plus two fixed work buffers. The upstream library instead kept one autograd
gradient per individual (``P x N x M x 4`` bytes), which is why the paper stopped at
``rho = 32``; here ``rho = 1`` on the ant (151M logits, population 500) peaks at 3.1 GiB.

An optional ``num_dense`` block of plain Gaussian parameters rides along, for weights that
are evolved but not plastic (the car's conv front end). As in the paper's car runs its
mean starts at zero and it is sampled unmirrored with a fixed std ``dense_sigma`` (0.1).
Individuals are flat vectors ``[num_dense + 5 N]``: the dense block first, then the rules
synapse-major (``h.reshape(N, 5)``, coefficient order eta, A, B, C, D).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

from hebbbench.es.base import ScheduledStrategy, ascent_step, check_settings, checked_fitness
from hebbbench.es.openai_es import shape_fitness
from hebbbench.es.population import ExplicitPopulation
from hebbbench.es.zsampler import joint_score_gradient

_COEFFICIENTS = 5
#: How synapses choose their rule: learned mixing weights (the paper's method) or one rule
#: each, drawn at random once (the paper's post-hoc variant).
ASSIGNMENTS = ("learned", "random-fixed")
#: How the update scores an individual: the marginal log p(h) (eq. 3) or the joint log p(h, k).
GRADIENTS = ("marginal", "joint")
#: How a rule mean's gradient scales with the synapses the rule serves (GaussianMixtureESConfig).
MEAN_GRADIENTS = ("sum", "per-synapse")


def rules_for_rho(num_synapses: int, rho: int | str) -> int:
    """Number of shared rules ``M = floor(N / rho)`` (at least 1); ``rho="N"`` gives 1.

    This is the paper's text (M = N / rho, N synapses). Its code used ``5 N / rho`` for the
    ant (counting coefficients, not synapses); see docs/shared-rules.md.
    """
    if isinstance(rho, str):
        if rho != "N":
            raise ValueError(f"rho must be a positive integer or 'N', got {rho!r}")
        return 1
    if rho < 1 or rho > num_synapses:
        raise ValueError(f"rho must be in [1, N={num_synapses}] or 'N', got {rho}")
    return max(1, num_synapses // rho)


def _rows_per_chunk(rows: int, row_elements: int, chunk_elements: int) -> int:
    return max(1, min(rows, chunk_elements // max(1, row_elements)))


def mixture_log_prob(logits: torch.Tensor, means: torch.Tensor, sigma: float,
                     rules: torch.Tensor, chunk_elements: int = 2**24) -> torch.Tensor:
    """``log p(h_i | mu, lambda)`` of eq. 3 for each individual, summed over synapses.

    ``logits`` ``[N, M]``, ``means`` ``[M, 5]``, ``rules`` ``[P, N, 5]`` -> ``[P]`` (nats).
    """
    population, synapses, _ = rules.shape
    num_rules = means.shape[0]
    total = torch.zeros(population, dtype=logits.dtype, device=logits.device)
    const = -0.5 * _COEFFICIENTS * math.log(2 * math.pi * sigma**2)
    step = _rows_per_chunk(synapses, population * num_rules, chunk_elements)
    for start in range(0, synapses, step):
        stop = min(start + step, synapses)
        h = rules[:, start:stop]
        sq_dist = torch.cdist(h.reshape(-1, _COEFFICIENTS), means,
                              compute_mode="donot_use_mm_for_euclid_dist").square_()
        joint = torch.log_softmax(logits[start:stop], dim=1) - sq_dist.view(
            population, stop - start, num_rules) / (2 * sigma**2)
        total += torch.logsumexp(joint, dim=2).sum(dim=1) + const * (stop - start)
    return total


def mixture_score_gradient(logits: torch.Tensor, means: torch.Tensor, sigma: float,
                           rules: torch.Tensor, weights: torch.Tensor,
                           chunk_elements: int = 2**24,
                           out: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``1/P sum_i w_i grad log p(h_i | mu, lambda)`` w.r.t. ``lambda`` and ``mu``, in closed form.

    ``logits`` ``[N, M]``, ``means`` ``[M, 5]``, ``rules`` ``[P, N, 5]``, ``weights`` ``[P]``.
    Returns ``(grad_logits [N, M], grad_means [M, 5])``; ``grad_logits`` is written into
    ``out`` when given (to reuse a buffer the size of ``lambda``). Works through blocks of
    ``[individuals, synapses, M]`` of at most about ``chunk_elements`` elements, so nothing
    per-individual of the parameters' size is ever held. Computes on ``logits``' device
    (``rules`` and ``weights`` are moved there).
    """
    population, synapses, _ = rules.shape
    num_rules = means.shape[0]
    dtype, device = logits.dtype, logits.device
    grad_logits = torch.zeros_like(logits) if out is None else out.zero_()
    weighted_h_t = torch.zeros(_COEFFICIENTS, num_rules, dtype=dtype, device=device)  # sum w r h, [5, M]
    weighted_r = torch.zeros(num_rules, dtype=dtype, device=device)  # sum w r, [M]
    weights = weights.to(device=device, dtype=dtype)
    rules = rules.to(device)
    inv_var = 1.0 / sigma**2
    half_sq_means = 0.5 * inv_var * means.square().sum(dim=1)  # [M]
    scaled_means_t = (means * inv_var).T.contiguous()  # [5, M]
    individuals = _rows_per_chunk(population, num_rules, chunk_elements)
    step = _rows_per_chunk(synapses, individuals * num_rules, chunk_elements)
    # Two work buffers reused by every block: fresh 64 MiB tensors per block would be
    # mmap-ed and page-faulted in again each time (a third of the run time in system calls).
    scores_buffer = torch.empty(individuals * step * num_rules, dtype=dtype, device=device)
    resp_buffer = torch.empty_like(scores_buffer)
    for start in range(0, synapses, step):
        stop = min(start + step, synapses)
        # log pi_k + log N(h | mu_k) up to terms constant in k: (h.mu_k - |mu_k|^2/2) / sigma^2
        log_mix = torch.log_softmax(logits[start:stop], dim=1) - half_sq_means  # [s, M]
        block = grad_logits[start:stop]
        for first in range(0, population, individuals):
            last = min(first + individuals, population)
            h = rules[first:last, start:stop]  # [b, s, 5]
            b, size = last - first, (last - first) * (stop - start) * num_rules
            scores = scores_buffer[:size].view(b, stop - start, num_rules)
            torch.baddbmm(log_mix.expand(b, -1, -1), h, scaled_means_t.expand(b, -1, -1),
                          out=scores)
            resp = resp_buffer[:size].view(b, -1)  # r_{b,(s,k)}
            torch.ops.aten._softmax.out(scores, 2, False, out=resp.view_as(scores))
            w = weights[first:last]
            block.view(-1).addmv_(resp.T, w)  # sum_b w_b r_b
            weighted_h_t.addmm_((h * w[:, None, None]).view(-1, _COEFFICIENTS).T,
                                resp.view(-1, num_rules))
        weighted_r += block.sum(dim=0)
        block -= weights.sum() * torch.softmax(logits[start:stop], dim=1)
    grad_logits /= population
    grad_means = ((weighted_h_t.T - means * weighted_r[:, None]) * (inv_var / population)).contiguous()
    return grad_logits, grad_means


def assigned_score_gradient(means: torch.Tensor, sigma: float, rules: torch.Tensor, weights: torch.Tensor,
                            assignment: torch.Tensor) -> torch.Tensor:
    """``1/P sum_i w_i grad_mu log p(h_i | mu)`` for a fixed hard assignment, ``[M, 5]``.

    With synapse n bound to rule ``a_n`` (``assignment`` ``[N]``), ``log p(h) = sum_n
    log N(h_n | mu_{a_n}, sigma)`` has no sum over rules, so
    ``d log p / d mu_k = sum_{n: a_n = k} (h_n - mu_k) / sigma^2``: one weighted sum over the
    population (``[N, 5]``) scattered onto the rules. ``means`` ``[M, 5]``, ``rules``
    ``[P, N, 5]``, ``weights`` ``[P]``. Computes on ``means``' device.
    """
    population, synapses, _ = rules.shape
    dtype, device = means.dtype, means.device
    weights = weights.to(device=device, dtype=dtype)
    assignment = assignment.to(device)
    weighted_h = (weights @ rules.to(device).reshape(population, -1)).view(synapses, _COEFFICIENTS)  # sum_i w_i h_i
    per_rule = torch.zeros_like(means).index_add_(0, assignment, weighted_h)  # [M, 5]
    counts = torch.bincount(assignment, minlength=means.shape[0]).to(dtype)  # synapses per rule, [M]
    return (per_rule - means * (counts * weights.sum())[:, None]) / (sigma**2 * population)


def random_assignment(num_synapses: int, num_rules: int, generator: torch.Generator) -> torch.Tensor:
    """Each synapse's fixed rule, drawn uniformly and independently from ``generator``: ``[N]``
    int64 in ``[0, M)`` (about ``N / M`` synapses per rule, not exactly)."""
    return torch.randint(num_rules, (num_synapses,), generator=generator)


def assignment_usage(assignment: torch.Tensor, num_rules: int) -> dict[str, int]:
    """:func:`rule_usage` of a fixed hard assignment ``[N]``: the rules some synapse uses
    and the synapses of the most used one."""
    counts = torch.bincount(assignment.cpu(), minlength=num_rules)
    return {"rules_in_use": int((counts > 0).sum()), "largest_rule_synapses": int(counts.max())}


def mean_entropy(logits: torch.Tensor, chunk_elements: int = 2**24) -> float:
    """Mean over synapses of the entropy (nats) of ``softmax(lambda_n)``; uniform is log M."""
    synapses, num_rules = logits.shape
    total = 0.0
    step = _rows_per_chunk(synapses, num_rules, chunk_elements)
    for start in range(0, synapses, step):
        log_p = torch.log_softmax(logits[start:start + step].to(torch.float64), dim=1)
        total -= float((log_p.exp() * log_p).sum())
    return total / synapses


def rule_usage(logits: torch.Tensor, chunk_elements: int = 2**24) -> dict[str, int]:
    """How many rules are some synapse's most probable one (``rules_in_use``) and how many
    synapses the most popular rule has (``largest_rule_synapses``): a mixture still uniform
    spreads its synapses over all M rules by ties' chance; one that learned concentrates them."""
    synapses, num_rules = logits.shape
    counts = torch.zeros(num_rules, dtype=torch.int64)
    step = _rows_per_chunk(synapses, num_rules, chunk_elements)
    for start in range(0, synapses, step):
        counts += torch.bincount(logits[start:start + step].argmax(dim=1).cpu(), minlength=num_rules)
    return {"rules_in_use": int((counts > 0).sum()), "largest_rule_synapses": int(counts.max())}


def half_precision_logits(logits: torch.Tensor, chunk_elements: int = 2**24) -> torch.Tensor:
    """``lambda`` ``[N, M]`` as float16, each row shifted so that its largest logit is 0.

    For keeping a small-rho mixture in half the bytes (ant rho = 16: 19 MB instead of 38).
    softmax ignores a row's shift, but float16's absolute error grows with magnitude (2^-11
    relative): shifted, the rules that carry the probability sit near 0 where float16 is
    finest, and the ones rounded coarsely are those 10 or more nats below the row's best.
    Measured (docs/shared-rules.md): total variation between the float32 and float16 rows'
    softmax below 4e-4 per synapse, against up to 5e-2 without the shift.
    """
    out = torch.empty(logits.shape, dtype=torch.float16, device=logits.device)
    step = _rows_per_chunk(logits.shape[0], logits.shape[1], chunk_elements)
    for start in range(0, logits.shape[0], step):
        rows = logits[start:start + step]
        out[start:start + step] = rows - rows.max(dim=1, keepdim=True).values
    return out


def compact_state(state: dict[str, Any]) -> dict[str, Any]:
    """A :meth:`GaussianMixtureES.state_dict` for sampling only, in about half the bytes:
    lambda as :func:`half_precision_logits`, no optimiser moments. It loads into a strategy
    like any state (the logits are widened on loading); samples drawn from it are those of a
    slightly different distribution, so a board entry made from it is evaluated as exported."""
    params = dict(state["params"])
    logits = params["logits"]
    if state["config"].get("assignment") == "random-fixed" and not logits.any():
        # lambda is never read nor updated under a fixed assignment: one zero stands for all
        # of them (loading broadcasts it back to [N, M]).
        params["logits"] = torch.zeros((1, 1), dtype=torch.float16)
    else:
        params["logits"] = half_precision_logits(logits)
    return {**state, "params": params, "moments": {}}


@dataclass(frozen=True)
class GaussianMixtureESConfig:
    """Hyper-parameters. Defaults as the paper's code ran: sigma 0.1 x 0.999 per generation
    (its ES library re-read the decayed std at every sample, although the paper's eq. 3
    writes a fixed variance: ``sigma_decay=1.0`` keeps it fixed), and the paper's post-hoc
    best optimiser for shared rules, Adam with lr 1.0 x 0.9931/gen (halving every 100).
    ``dense_sigma``: the fixed std of the plain Gaussian block (the car's conv weights).

    ``population_size``: individuals per generation, not mirrored (mixture sampling).
    ``chunk_elements``: size of the working block ``[individuals, synapses, M]`` of the
    gradient (2^24 float32 = 64 MiB); it changes memory and speed, never the numbers' meaning.

    The paper's post-hoc variants (section 5.5; the defaults are its pre-planned setting):
    ``means_init_std``: the rule means start at N(0, means_init_std^2) (default 1; the
    paper's "N(0, 10)" is std 10, as its N(h | mu, sigma) takes a std and torch's
    ``Normal(loc, scale)`` too). ``assignment``: ``"learned"`` (mixing logits lambda,
    updated by the gradient) or ``"random-fixed"`` (every synapse bound for the whole run to
    one rule drawn uniformly from the seed; lambda stays 0 and unused, only the means and
    the dense block learn).

    ``gradient``: ``"marginal"`` (default, the paper's eq. 3: the score of ``log p(h)``, the
    responsibilities summed over the M rules) or ``"joint"``, the paper's proposed z = {h, k}
    sampler (issue 30): each individual keeps the rule each synapse drew and the update
    ascends the score of ``log p(h, k)`` (:mod:`hebbbench.es.zsampler`: the same expectation,
    more variance, ``O(P N + N M)`` per update instead of ``O(P N M)``). Only with a learned
    assignment.

    ``mean_gradient``: the scale of each rule mean's gradient. ``"sum"`` (default, eq. 3 as
    written): ``d log p / d mu_k`` sums ``(h_n - mu_k) / sigma^2`` over the synapses the rule
    serves, so its size grows with their number (about rho: 128 at the paper's setting, N at
    rho = N) and one SGD step moves a shared rule ~rho times as far as the per-synapse
    Hebbian ES moves one synapse's rule at the same lr. ``"per-synapse"``: each rule's
    gradient divided by the synapses it serves (``n_k = sum_n softmax(lambda_n)_k``, or its
    count under a fixed assignment; at least 1), the natural-gradient scaling of a Gaussian
    mean: a rule's step is the average pull of its synapses, the per-synapse ES's scale, so
    the Hebbian baseline's lr applies at any rho. lambda's gradient is unchanged.
    """

    population_size: int
    sigma: float = 0.1
    sigma_decay: float = 0.999
    optimizer: str = "adam"
    lr: float = 1.0
    lr_decay: float = 0.9931
    chunk_elements: int = 2**24
    dense_sigma: float = 0.1
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    means_init_std: float = 1.0
    assignment: str = "learned"
    gradient: str = "marginal"
    mean_gradient: str = "sum"

    def __post_init__(self) -> None:
        if self.population_size < 2:
            raise ValueError(f"population_size must be at least 2, got {self.population_size}")
        check_settings(self, positive=("chunk_elements", "dense_sigma", "means_init_std"),
                       optimizers=("sgd", "adam"))
        if self.assignment not in ASSIGNMENTS:
            raise ValueError(f"assignment must be one of {', '.join(map(repr, ASSIGNMENTS))}, "
                             f"got {self.assignment!r}")
        if self.mean_gradient not in MEAN_GRADIENTS:
            raise ValueError(f"mean_gradient must be one of {', '.join(map(repr, MEAN_GRADIENTS))}, "
                             f"got {self.mean_gradient!r}")
        if self.gradient not in GRADIENTS:
            raise ValueError(f"gradient must be one of {', '.join(map(repr, GRADIENTS))}, got {self.gradient!r}")
        if self.gradient == "joint" and self.assignment != "learned":
            raise ValueError("gradient 'joint' scores the rule each synapse drew from its mixing weights, so it needs "
                             f"assignment 'learned', got assignment {self.assignment!r}")

    @property
    def fixed_assignment(self) -> bool:
        """Whether synapses keep one random rule (``assignment="random-fixed"``)."""
        return self.assignment == "random-fixed"


class GaussianMixtureES(ScheduledStrategy):
    """Ask/tell ES over shared Hebbian rules (eq. 3), optimised by SGD or Adam ascent.

    Args:
        num_synapses: N, the plastic synapses (ant 12,288; car 91,328).
        num_rules: M, the shared rules (see :func:`rules_for_rho`).
        config: population size, sigma, optimiser and their decays.
        num_dense: evolved, non-plastic parameters sampled from ``N(mean, sigma^2)``.
        seed: seeds the initial means (N(0, means_init_std^2)), then the fixed assignment
            (``assignment="random-fixed"``), then every sample.
        dtype: ``torch.float32`` (default) or ``torch.float64``.
        device: where lambda, mu, the optimiser's moments and the gradient live and compute
            (``"cuda"`` for the rho = 1 mixtures). Random numbers are drawn on the CPU, so
            every device samples the same noise; populations, samples, solutions and
            state dicts come back on the CPU.
    """

    config_class = GaussianMixtureESConfig
    #: A saved state in about half the bytes, for sampling only (``hebbbench snapshot --half-precision``).
    half_precision_state = staticmethod(compact_state)

    def __init__(self, num_synapses: int, num_rules: int, config: GaussianMixtureESConfig, *,
                 num_dense: int = 0, seed: int = 0, dtype: torch.dtype = torch.float32,
                 device: str | torch.device = "cpu"):
        if not 1 <= num_rules <= num_synapses:
            raise ValueError(f"num_rules must be in [1, {num_synapses}], got {num_rules}")
        self.config = config
        self.num_synapses, self.num_rules, self.num_dense = num_synapses, num_rules, num_dense
        self.population, self.chunk_elements = config.population_size, config.chunk_elements
        self.generation = 0
        self.device = torch.device(device)
        self._rng = torch.Generator().manual_seed(seed)
        self.logits = torch.zeros(num_synapses, num_rules, dtype=dtype, device=self.device)
        self.means = (torch.randn(num_rules, _COEFFICIENTS, generator=self._rng, dtype=dtype)
                      * config.means_init_std).to(self.device)
        #: ``[N]`` rule of each synapse when the assignment is fixed, else ``None``.
        self.assignment = (random_assignment(num_synapses, num_rules, self._rng).to(self.device)
                           if config.fixed_assignment else None)
        self.dense_mean = torch.zeros(num_dense, dtype=dtype, device=self.device)
        self._moments: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        if config.optimizer == "adam":
            self._moments = {name: (torch.zeros_like(p), torch.zeros_like(p))
                             for name, p in self._learned_parameters().items()}
        self._grad_logits = torch.zeros_like(self.logits)
        self._rng_before_ask = self._rng.get_state()
        self._pending: tuple[torch.Tensor, torch.Tensor] | None = None
        self._asked: torch.Tensor | None = None

    @property
    def num_params(self) -> int:
        """Length of one individual: ``num_dense + 5 N``."""
        return self.num_dense + _COEFFICIENTS * self.num_synapses

    def _parameters(self) -> dict[str, torch.Tensor]:
        return {"logits": self.logits, "means": self.means, "dense_mean": self.dense_mean}

    def _learned_parameters(self) -> dict[str, torch.Tensor]:
        """The parameters the optimiser moves: all but lambda under a fixed assignment."""
        params = self._parameters()
        if self.assignment is not None:
            del params["logits"]
        return params

    def ask(self) -> torch.Tensor:
        """Sample the generation: ``[P, num_dense + 5 N]`` (see the module docstring's layout)."""
        self._rng_before_ask = self._rng.get_state()
        rules, dense, clusters = self._draw(self.population, self._rng)
        # The rule each synapse drew is scored only by the joint gradient ([P, N] indices).
        self._pending = (rules, dense, clusters if self.config.gradient == "joint" else None)
        self._asked = torch.cat([dense, rules.view(self.population, -1)], dim=1).cpu()
        return self._asked

    def sample(self, seed: int, sigma: float | None = None) -> torch.Tensor:
        """One individual ``[num_dense + 5 N]`` of the current distribution, drawn from
        ``seed`` alone (the strategy's own random state is untouched): every synapse picks a
        rule k ~ softmax(lambda_n) (its fixed rule under ``assignment="random-fixed"``) and
        takes N(mu_k, sigma^2). How the paper evaluated.
        ``sigma``: the components' std (default: this generation's)."""
        rules, dense, _ = self._draw(1, torch.Generator().manual_seed(int(seed)), sigma)
        return torch.cat([dense[0], rules[0].reshape(-1)]).cpu()

    def _draw(self, count: int, generator: torch.Generator,
              sigma: float | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``count`` individuals: rules ``[count, N, 5]``, dense parameters ``[count, num_dense]``
        and the rule each synapse drew ``[count, N]``, with std ``sigma`` (default: this
        generation's for the rules, ``dense_sigma`` for the dense block)."""
        dense_sigma = self.config.dense_sigma if sigma is None else sigma
        sigma = self.sigma if sigma is None else sigma
        N, dtype = self.num_synapses, self.logits.dtype
        uniforms = None
        if self.assignment is None:
            uniforms = torch.rand(N, count, generator=generator, dtype=torch.float64).to(self.device)
        noise = torch.randn(count, N, _COEFFICIENTS, generator=generator, dtype=dtype).to(self.device)
        dense_noise = torch.randn(count, self.num_dense, generator=generator, dtype=dtype).to(self.device)
        if uniforms is None:
            clusters = self.assignment.expand(count, N)
        else:
            clusters = self._components(uniforms).T  # [count, N]
        rules = noise.mul_(sigma).add_(self.means[clusters])  # [count, N, 5]
        dense = dense_noise.mul_(dense_sigma).add_(self.dense_mean)
        return rules, dense, clusters

    def _components(self, uniforms: torch.Tensor) -> torch.Tensor:
        """Inverse-CDF sampling of ``k ~ softmax(lambda_n)``: uniforms ``[N, count]`` -> rule
        indices ``[N, count]``, in blocks of rows to bound the CDF's size."""
        N, M = self.num_synapses, self.num_rules
        components = torch.empty(N, uniforms.shape[1], dtype=torch.long, device=self.device)
        step = _rows_per_chunk(N, M, self.chunk_elements)
        for start in range(0, N, step):
            cdf = torch.softmax(self.logits[start:start + step].to(torch.float64), 1).cumsum_(1)
            u = uniforms[start:start + step] * cdf[:, -1:]
            components[start:start + step] = torch.searchsorted(cdf, u).clamp_(max=M - 1)
        return components

    def compact_population(self) -> ExplicitPopulation:
        """The population of the last ``ask()``, given explicitly: rebuilding a sample needs
        lambda (N x M floats), more than the sample itself (``5 N`` floats)."""
        if self._pending is None:
            raise RuntimeError("compact_population() describes the population of a preceding ask()")
        return ExplicitPopulation(self._asked)

    def tell(self, fitness: torch.Tensor | Any) -> dict[str, float]:
        """Update lambda, mu (and the dense mean) from the asked generation's fitness ``[P]``.

        Returns the generation's diagnostics: ``entropy`` (mean assignment entropy after
        the update, nats; ``log M`` is uniform), ``grad_norm_logits``, ``grad_norm_means``,
        ``grad_norm_dense`` (Frobenius norms of the ascent gradient), ``rules_in_use`` (rules
        that are some synapse's most probable one) and ``largest_rule_synapses`` (synapses
        whose most probable rule is the most popular one), and ``sigma``/``lr`` as used in
        this update. Under a fixed assignment lambda neither moves nor has a gradient
        (``grad_norm_logits`` 0) and the entropy is 0 (every synapse's rule is certain).
        """
        if self._pending is None:
            raise RuntimeError("tell() needs a population from ask() first")
        fitness = checked_fitness(fitness, self.population)
        rules, dense, clusters = self._pending
        sigma, lr = self.sigma, self.lr
        shaped = shape_fitness(fitness)
        if self.config.gradient == "joint":
            grad_logits, grad_means = joint_score_gradient(self.logits, self.means, sigma, rules, clusters, shaped)
        elif self.assignment is None:
            grad_logits, grad_means = mixture_score_gradient(
                self.logits, self.means, sigma, rules, shaped, self.chunk_elements,
                out=self._grad_logits)
        else:
            grad_logits = self._grad_logits  # stays 0: lambda is not a parameter here
            grad_means = assigned_score_gradient(self.means, sigma, rules, shaped, self.assignment)
        if self.config.mean_gradient == "per-synapse":
            grad_means = grad_means / self._synapses_per_rule()[:, None]
        weights = shaped.to(device=dense.device, dtype=dense.dtype)[:, None]
        grad_dense = ((dense - self.dense_mean) * weights).mean(dim=0) / self.config.dense_sigma**2
        grads = {"logits": grad_logits, "means": grad_means, "dense_mean": grad_dense}
        stats = {f"grad_norm_{name.removesuffix('_mean')}": float(torch.linalg.vector_norm(g))
                 for name, g in grads.items()}
        self.generation += 1
        for name, param in self._learned_parameters().items():
            self._step(name, param, grads[name], lr)
        stats.update(sigma=sigma, lr=lr, **self._assignment_stats())
        self._pending = self._asked = None
        self._rng_before_ask = self._rng.get_state()
        return stats

    def _synapses_per_rule(self) -> torch.Tensor:
        """``[M]``: how many synapses each rule serves, at least 1 (the expected count
        ``sum_n softmax(lambda_n)_k`` under a learned assignment), in blocks of rows."""
        if self.assignment is not None:
            counts = torch.bincount(self.assignment, minlength=self.num_rules).to(self.means.dtype)
        else:
            counts = torch.zeros(self.num_rules, dtype=self.means.dtype, device=self.device)
            step = _rows_per_chunk(self.num_synapses, self.num_rules, self.chunk_elements)
            for start in range(0, self.num_synapses, step):
                counts += torch.softmax(self.logits[start:start + step], dim=1).sum(0).to(counts.dtype)
        return counts.clamp_(min=1.0)

    def _assignment_stats(self) -> dict[str, float]:
        """``entropy``, ``rules_in_use`` and ``largest_rule_synapses`` of the current assignment."""
        if self.assignment is not None:
            return {"entropy": 0.0, **assignment_usage(self.assignment, self.num_rules)}
        return {"entropy": mean_entropy(self.logits, self.chunk_elements),
                **rule_usage(self.logits, self.chunk_elements)}

    def _step(self, name: str, param: torch.Tensor, grad: torch.Tensor, lr: float) -> None:
        """One ascent step on ``param`` in place, in blocks to bound the temporaries."""
        c = self.config
        ascent_step(param, grad, lr, optimizer=c.optimizer, moments=self._moments.get(name), step=self.generation,
                    betas=(c.adam_beta1, c.adam_beta2), eps=c.adam_eps, chunk_elements=self.chunk_elements)

    def solution(self) -> torch.Tensor:
        """The individual the distribution stands for, ``[num_dense + 5 N]``: the dense mean,
        then each synapse's most probable rule mean (its mode; ties go to the lowest index,
        so a uniform lambda gives every synapse rule 0), or its fixed rule's mean."""
        chosen = self.logits.argmax(dim=1) if self.assignment is None else self.assignment
        rules = self.means[chosen]
        return torch.cat([self.dense_mean, rules.reshape(-1)]).cpu()

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: config, parameters, optimiser moments,
        generation (sigma and lr follow from it) and the random state as it was before any
        pending ``ask`` (so a restored strategy asks that generation again, identically).

        Like ``nn.Module.state_dict``, the tensors are the live ones on the CPU (lambda alone is
        604 MB at ant rho = 1): save it (``torch.save``) or deep-copy it before the next
        ``tell``. On another device they are CPU copies, so a checkpoint loads anywhere."""
        return {
            "kind": "gaussian-mixture",
            "config": asdict(self.config),
            "shape": {"num_synapses": self.num_synapses, "num_rules": self.num_rules,
                      "num_dense": self.num_dense},
            "params": {name: p.cpu() for name, p in self._parameters().items()},
            "assignment": None if self.assignment is None else self.assignment.cpu(),
            "moments": {name: (m.cpu(), v.cpu()) for name, (m, v) in self._moments.items()},
            "generation": self.generation,
            "rng": self._rng_before_ask.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; N, M, the dense size and the assignment kind
        (learned or random-fixed) must match this strategy's."""
        if state.get("kind") != "gaussian-mixture":
            raise ValueError(f"not a Gaussian-mixture ES state (kind {state.get('kind')!r})")
        mine = self.state_dict()["shape"]
        if state["shape"] != mine:
            raise ValueError(f"state is for {state['shape']}, this strategy is {mine}")
        config = GaussianMixtureESConfig(**state["config"])
        if config.assignment != self.config.assignment:
            raise ValueError(f"state is for assignment {config.assignment!r}, this strategy uses "
                             f"{self.config.assignment!r}: a learned mixture and a random fixed "
                             "assignment are different models")
        if (config.optimizer == "adam") != bool(self._moments):
            raise ValueError(f"state is for optimizer {config.optimizer!r}, this strategy uses "
                             f"{self.config.optimizer!r}")
        self.config, self.population = config, config.population_size
        self.chunk_elements = config.chunk_elements
        for name, param in self._parameters().items():
            param.copy_(state["params"][name])
        if self.assignment is not None:
            self.assignment.copy_(state["assignment"])
        for name, (m, v) in self._moments.items():  # none saved for evaluation alone (best.pt): zeros
            saved = state.get("moments", {}).get(name, (torch.zeros_like(m), torch.zeros_like(v)))
            m.copy_(saved[0])
            v.copy_(saved[1])
        self.generation = int(state["generation"])
        self._rng.set_state(state["rng"])
        self._rng_before_ask = state["rng"].clone()
        self._pending = self._asked = None
