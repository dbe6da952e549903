"""Rule sharing that learns: evolve-and-merge and EM-style alternation (issue 30).

Both strategies search over a Hebbian agent's flat parameter vector ``[D]`` whose rule
coefficients, a contiguous slice of ``N`` rows ``[N, 5]`` = (eta, A, B, C, D) (``rule_slice``;
default the whole vector, which is the ant's Hebbian layout), are **tied** by an assignment
synapse -> rule: ``N`` synapses share ``M`` rules. An inner mean-based strategy (PGPE or
OpenAI-ES, :data:`INNER`) runs over the *reduced* vector ``[head, rules M x 5, tail]`` (head
and tail: the parameters before and after the rules, e.g. the car's conv weights, kept
per-parameter); ``ask()`` expands each reduced individual into the full per-synapse vector
(:func:`expand`), so the plain ``hebbian`` (or ``modulated``) policy runs it unchanged and
noise is shared by the synapses of a rule, as the reduced model's samples are.

* :class:`EvolveMerge` (Pedersen & Risi 2021, "Evolving and merging Hebbian learning
  rules"): it starts with one rule per synapse (M = N, identity assignment) and every
  ``merge_every`` generations clusters the current rules by k-means into
  ``max(target_rules, min(M - 1, ceil(M * merge_factor)))`` clusters, replaces each
  synapse's rule by its cluster's centre and continues on the smaller vector, until
  ``target_rules``. The k-means is weighted by how many synapses each rule serves, so a
  centre is the mean over the cluster's *synapses* (initially every weight is 1, plain
  k-means); it is deterministic (k-means++ initialisation from a seed of (seed, generation),
  then ``kmeans_iterations`` Lloyd steps) and exact on exact clusters (a centre is formed as
  a member plus the mean offset from it, so identical members give that member's bits).
* :class:`EMRules` (the paper's "alternately learning the assignment and the learning
  rules"): ``rules`` rules from k-means of the initial per-synapse rules, then cycles of
  ``m_step`` generations of the inner strategy with the assignment fixed (M-step) and one
  *probe* generation (E-step). The probe population is per-synapse Gaussian noise of std
  ``e_sigma`` around the expanded mean (mirrored, rule coordinates only); its fitness gives
  an OpenAI-ES estimate ``g_n`` ``[N, 5]`` of the fitness gradient with respect to each
  synapse's own coefficients, and synapse n is reassigned to the rule nearest
  (Euclidean, coefficient space) to ``h_n + e_step * g_n``, its own rule after one gradient
  step. "Best" is therefore the first-order fitness gain of switching to rule k under a
  trust region: ``argmax_k g_n . (mu_k - h_n) - |mu_k - h_n|^2 / (2 e_step)`` is that
  nearest rule. Why: it needs one generation of the population per cycle (no per-rule
  evaluations: M x N candidate switches would be), costs O(P D) for the gradient and
  O(N M) for the nearest rules, and it keeps a synapse where it is unless its own gradient
  points towards another rule. Rules left without synapses are dropped, so the E-step never
  increases the number of rules.

**Restarts.** When the reduced vector changes (a merge, or an E-step that dropped rules)
the inner strategy restarts on the new vector: a fresh inner strategy whose initial lr
(and OpenAI-ES's sigma) are the values the schedules had reached, so the schedules
continue; PGPE's per-parameter sigma is carried (a new rule takes the synapse-weighted mean
of its members' stds); the optimiser state (Adam moments, ClipUp velocity) and the
optimiser's step count start afresh (averaging momenta of rules that were searched as
independent coordinates has no meaning for the merged one). Each phase draws its noise
from its own seed (phase 0 from ``seed`` itself, so before the first restart the strategy
gives exactly the inner strategy's numbers).

The compact population (:class:`TiedPopulation`) is the inner's compact population (reduced
mean, sigma, seeds) plus the assignment ``[N]`` int32: workers rebuild rows themselves.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from hebbbench.es.base import check_numbers, checked_fitness
from hebbbench.es.openai_es import OpenAIES, shape_fitness
from hebbbench.es.pgpe import PGPE
from hebbbench.es.population import MirroredPopulation

COEFFICIENTS = 5
#: Inner strategies by the name ``inner`` gives.
INNER = {"pgpe": PGPE, "openai-es": OpenAIES}
#: Bound on the temporaries of distance computations (floats per block).
CHUNK_ELEMENTS = 2**22


# ----------------------------------------------------------------------------- tying


def expand(reduced: torch.Tensor, assignment: torch.Tensor, rule_start: int) -> torch.Tensor:
    """Reduced rows ``[P, R]`` = (head ``[rule_start]``, rules ``[M, 5]``, tail) -> full rows
    ``[P, D]`` with synapse n's coefficients the rule ``assignment[n]`` (``assignment``:
    ``[N]`` ints in 0..M-1; ``M`` is fixed by ``R``, ``D`` and ``N`` through the tail's length,
    which both vectors share)."""
    reduced = reduced.reshape(reduced.shape[0], -1) if reduced.ndim == 2 else reduced.reshape(1, -1)
    num_rules = int(assignment.max()) + 1 if assignment.numel() else 0
    stop = rule_start + COEFFICIENTS * num_rules
    rules = reduced[:, rule_start:stop].reshape(reduced.shape[0], num_rules, COEFFICIENTS)
    tied = rules[:, assignment.long()].reshape(reduced.shape[0], -1)
    return torch.cat([reduced[:, :rule_start], tied, reduced[:, stop:]], dim=1)


@dataclass(frozen=True)
class TiedPopulation:
    """A tied population in the form that travels to workers: the inner strategy's compact
    population over the reduced vector and the assignment ``[N]`` (int32). ``rows`` expands
    (:func:`expand`); bit-identical to the ``ask()`` it stands for."""

    inner: Any
    assignment: torch.Tensor
    rule_start: int

    @property
    def size(self) -> int:
        return self.inner.size

    def rows(self, start: int, stop: int) -> torch.Tensor:
        """Individuals ``start .. stop - 1``: ``[stop - start, D]`` float32."""
        return expand(self.inner.rows(start, stop), self.assignment, self.rule_start)

    def part(self, start: int, stop: int) -> "TiedPopulation":
        """What a worker needs for rows ``start .. stop - 1`` (the inner's part; compact)."""
        return TiedPopulation(self.inner.part(start, stop), self.assignment, self.rule_start)


# ----------------------------------------------------------------------------- k-means


def nearest(points: torch.Tensor, centres: torch.Tensor, chunk_elements: int = CHUNK_ELEMENTS) -> torch.Tensor:
    """Index ``[M]`` of the nearest centre (Euclidean; ties to the lower index) of each point
    ``[M, 5]`` among ``centres`` ``[k, 5]``, in blocks of at most ``chunk_elements`` distances.
    Exact distances (no matrix-product shortcut), so a point equal to a centre is at 0."""
    block = max(1, chunk_elements // max(1, centres.shape[0]))
    parts = [torch.cdist(points[start:start + block], centres, compute_mode="donot_use_mm_for_euclid_dist").argmin(1)
             for start in range(0, points.shape[0], block)]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)


def _kmeans_plus_plus(points: torch.Tensor, weights: torch.Tensor, clusters: int,
                      generator: torch.Generator) -> torch.Tensor:
    """Weighted k-means++ seeding: indices of up to ``clusters`` distinct points, each drawn
    with probability proportional to weight x squared distance to the chosen ones (fewer
    when fewer points are distinct)."""
    chosen = [int(torch.multinomial(weights, 1, generator=generator))]
    dist = (points - points[chosen[0]]).square().sum(1)
    while len(chosen) < clusters:
        mass = weights * dist
        if not float(mass.sum()) > 0:
            break
        chosen.append(int(torch.multinomial(mass, 1, generator=generator)))
        dist = torch.minimum(dist, (points - points[chosen[-1]]).square().sum(1))
    return torch.tensor(chosen)


def weighted_centres(points: torch.Tensor, weights: torch.Tensor, labels: torch.Tensor, count: int) -> torch.Tensor:
    """``[count, 5]`` weighted means of the points of each label, each formed as one member
    plus the weighted mean offset from it (exact when the members are equal); a label
    without points gets NaN."""
    anchor_of = torch.full((count,), -1, dtype=torch.long)
    anchor_of[labels.flip(0)] = torch.arange(len(labels) - 1, -1, -1)  # first member of each label
    anchors = points[anchor_of.clamp(min=0)]
    offsets = (points - anchors[labels]) * weights[:, None]
    total = torch.zeros(count, points.shape[1], dtype=points.dtype).index_add_(0, labels, offsets)
    mass = torch.zeros(count, dtype=points.dtype).index_add_(0, labels, weights)
    centres = anchors + total / mass[:, None]
    centres[anchor_of < 0] = float("nan")
    return centres


def weighted_kmeans(points: torch.Tensor, weights: torch.Tensor, clusters: int, iterations: int,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic weighted k-means of ``points`` ``[M, 5]`` (float64) with ``weights``
    ``[M]`` > 0: k-means++ seeding from ``generator``, ``iterations`` Lloyd steps (an empty
    cluster keeps its centre), a final assignment. Returns labels ``[M]`` in 0..k'-1 and the
    centres ``[k', 5]`` of the k' <= ``clusters`` non-empty clusters (in order of seeding)."""
    centres = points[_kmeans_plus_plus(points, weights, clusters, generator)]
    for _ in range(iterations):
        labels = nearest(points, centres)
        moved = weighted_centres(points, weights, labels, centres.shape[0])
        centres = torch.where(torch.isnan(moved), centres, moved)
    labels = nearest(points, centres)
    used = torch.unique(labels)  # sorted
    relabel = torch.full((centres.shape[0],), -1, dtype=torch.long)
    relabel[used] = torch.arange(len(used))
    labels = relabel[labels]
    return labels, weighted_centres(points, weights, labels, len(used))


def _seed(*numbers: int) -> int:
    """A 63-bit seed from a tuple of numbers (for generators and inner strategies)."""
    return int(np.random.SeedSequence(list(numbers)).generate_state(1, np.uint64)[0] >> np.uint64(1))


# ----------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class TiedRulesConfig:
    """The inner strategy and its settings, shared by :class:`EvolveMergeConfig` and
    :class:`EMRulesConfig`. ``inner``: ``"pgpe"`` or ``"openai-es"``; every other field
    below left ``None`` takes that strategy's default (``sigma_decay`` is OpenAI-ES's only,
    ``sigma_lr`` and ``sigma_max_change`` PGPE's only); ``kmeans_iterations``: Lloyd steps."""

    population_size: int
    inner: str = "pgpe"
    kmeans_iterations: int = 20
    sigma: float | None = None
    lr: float | None = None
    lr_decay: float | None = None
    sigma_decay: float | None = None
    sigma_lr: float | None = None
    sigma_max_change: float | None = None
    optimizer: str | None = None
    clipup_momentum: float | None = None
    max_speed: float | None = None
    adam_beta1: float | None = None
    adam_beta2: float | None = None
    adam_eps: float | None = None
    weight_decay: float | None = None

    def __post_init__(self) -> None:
        if self.inner not in INNER:
            raise ValueError(f"inner must be one of {', '.join(INNER)}, got {self.inner!r}")
        _check_count(self, "kmeans_iterations", 1)
        self.inner_config()

    def inner_config(self) -> Any:
        """The inner strategy's config from the settings given (``ValueError`` naming a
        setting that strategy does not have, or its own check's)."""
        cls = INNER[self.inner].config_class
        given = {name: getattr(self, name) for name in INNER_SETTINGS if getattr(self, name) is not None}
        foreign = sorted(set(given) - {f.name for f in dataclasses.fields(cls)})
        if foreign:
            raise ValueError(f"{', '.join(foreign)}: not a setting of the {self.inner} inner strategy")
        return cls(population_size=self.population_size, **given)


#: The fields of :class:`TiedRulesConfig` handed to the inner strategy's config.
INNER_SETTINGS = ("sigma", "lr", "lr_decay", "sigma_decay", "sigma_lr", "sigma_max_change", "optimizer",
                  "clipup_momentum", "max_speed", "adam_beta1", "adam_beta2", "adam_eps", "weight_decay")


def _check_count(config: Any, name: str, low: int) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


@dataclass(frozen=True)
class EvolveMergeConfig(TiedRulesConfig):
    """:class:`EvolveMerge`'s settings: merge every ``merge_every`` generations (>= 1) to
    ``ceil(M * merge_factor)`` rules (``merge_factor`` in (0, 1); at least one rule fewer
    each time), never below ``target_rules`` (>= 1; the ant's issue-30 target N/32 = 384 by
    default). The inner strategy's fields: :class:`TiedRulesConfig`."""

    merge_every: int = 50
    merge_factor: float = 0.5
    target_rules: int = 384

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_count(self, "merge_every", 1)
        _check_count(self, "target_rules", 1)
        check_numbers(self, positive=("merge_factor",))
        check_numbers(self, unit=("merge_factor",))


@dataclass(frozen=True)
class EMRulesConfig(TiedRulesConfig):
    """:class:`EMRules`' settings: ``rules`` (>= 1) shared rules at the start; cycles of
    ``m_step`` (>= 1) inner generations and one probe generation whose per-synapse noise has
    std ``e_sigma`` (> 0); a synapse moves to the rule nearest to its own coefficients plus
    ``e_step`` (> 0) times its estimated gradient. The inner strategy's fields:
    :class:`TiedRulesConfig`."""

    rules: int = 384
    m_step: int = 20
    e_sigma: float = 0.1
    e_step: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_count(self, "rules", 1)
        _check_count(self, "m_step", 1)
        check_numbers(self, positive=("e_sigma", "e_step"))


# ----------------------------------------------------------------------------- strategies


class TiedRules:
    """What both strategies share: the assignment, the inner strategy over the reduced
    vector, expansion, restarts and exact state. Subclasses decide when the tying changes."""

    kind = ""
    config_class: type = TiedRulesConfig
    #: Tells a trainer to pass ``rule_slice``, where the agent's rule coefficients lie.
    ties_rules = True
    #: Its inner strategies (OpenAI-ES, PGPE) and its probes ask for mirrored pairs (i, i + P/2).
    mirrored = True

    def __init__(self, mean: torch.Tensor, config: TiedRulesConfig, seed: int, rule_slice: slice | None = None) -> None:
        mean = torch.as_tensor(mean, dtype=torch.float32).clone().reshape(-1)
        rule_slice = slice(0, mean.numel()) if rule_slice is None else rule_slice
        start, stop, step = rule_slice.indices(mean.numel())
        if step != 1 or stop <= start or (stop - start) % COEFFICIENTS:
            raise ValueError(f"rule_slice must be a contiguous slice of [N, {COEFFICIENTS}] rows within the "
                             f"{mean.numel()} parameters, got {rule_slice}")
        self.config = config
        self.seed = int(seed)
        self.size = mean.numel()
        self.rule_start, self.rule_stop = start, stop
        self.generation = 0
        self.phase = 0
        self.assignment = torch.arange((stop - start) // COEFFICIENTS, dtype=torch.int32)
        self.inner = INNER[config.inner](mean, config.inner_config(), seed=self.seed)
        self._asked: Any = None

    @property
    def num_synapses(self) -> int:
        return (self.rule_stop - self.rule_start) // COEFFICIENTS

    @property
    def num_rules(self) -> int:
        """The distinct rules now (M, the reduced rule table's rows; every one serves a synapse)."""
        return int(self.assignment.max()) + 1

    def _rules(self, reduced: torch.Tensor) -> torch.Tensor:
        """The rule table ``[M, 5]`` of a reduced vector ``[R]``."""
        return reduced[self.rule_start:self.rule_start + COEFFICIENTS * self.num_rules].reshape(-1, COEFFICIENTS)

    def _expand(self, reduced: torch.Tensor) -> torch.Tensor:
        return expand(reduced, self.assignment, self.rule_start)

    def solution(self) -> torch.Tensor:
        """The full vector ``[D]`` of the inner strategy's mean."""
        return self._expand(self.inner.solution())[0]

    def sample(self, seed: int, sigma: float | None = None) -> torch.Tensor:
        """One full individual ``[D]``: the inner strategy's sample (from ``seed`` alone, std
        ``sigma`` or its own), expanded; the synapses of a rule share its noise."""
        return self._expand(self.inner.sample(seed, sigma))[0]

    def ask(self) -> torch.Tensor:
        """This generation's population, full vectors ``[P, D]`` float32."""
        reduced = self.inner.ask()
        self._asked = TiedPopulation(self.inner.compact_population(), self.assignment.clone(), self.rule_start)
        return self._expand(reduced)

    def compact_population(self) -> Any:
        """The last asked population: the inner's compact form plus the assignment."""
        if self._asked is None:
            raise RuntimeError("compact_population() describes the population of a preceding ask()")
        return self._asked

    def _inner_tell(self, fitness: Any) -> dict[str, float]:
        if self._asked is None:
            raise RuntimeError("tell() needs the population of a preceding ask()")
        logged = self.inner.tell(fitness)
        self.generation += 1
        self._asked = None
        return logged

    def _retie(self, rules: torch.Tensor, labels: torch.Tensor) -> None:
        """Continue on new rules ``[M', 5]`` (float32): old rule k becomes rule ``labels[k]``
        (``[M]`` onto 0..M'-1; -1 for a rule no synapse uses any more), each synapse's rule
        mapped so; a restart of the inner strategy (see the module docstring)."""
        old_inner, old_rules = self.inner, len(labels)
        counts = torch.bincount(self.assignment.long(), minlength=old_rules).to(torch.float64)
        reduced, rule_stop = old_inner.mean, self.rule_start + COEFFICIENTS * old_rules
        mean = torch.cat([reduced[:self.rule_start], rules.reshape(-1), reduced[rule_stop:]])
        inner_config = dataclasses.replace(self.config.inner_config(), lr=old_inner.lr)
        if self.config.inner == "openai-es":
            inner_config = dataclasses.replace(inner_config, sigma=old_inner.sigma)
        self.assignment = labels[self.assignment.long()].to(torch.int32)
        self.phase += 1
        self.inner = INNER[self.config.inner](mean, inner_config, seed=_seed(self.seed, self.phase))
        if self.config.inner == "pgpe":  # each new rule: the synapse-weighted mean of its members' stds
            kept = labels >= 0
            old_sigma = old_inner.sigma
            weighted = old_sigma[self.rule_start:rule_stop].reshape(-1, COEFFICIENTS).to(torch.float64)
            weighted = (weighted * counts[:, None])[kept]
            total = torch.zeros(rules.shape, dtype=torch.float64).index_add_(0, labels[kept], weighted)
            mass = torch.zeros(rules.shape[0], dtype=torch.float64).index_add_(0, labels[kept], counts[kept])
            merged = (total / mass[:, None]).to(torch.float32).reshape(-1)
            self.inner.sigma = torch.cat([old_sigma[:self.rule_start], merged, old_sigma[rule_stop:]])

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: config, seed, counters, the vector's
        shape, the assignment and the inner strategy's own state."""
        return {"kind": self.kind, "config": asdict(self.config), "seed": self.seed, "generation": self.generation,
                "phase": self.phase, "size": self.size, "rule_start": self.rule_start, "rule_stop": self.rule_stop,
                "assignment": self.assignment.clone(), "inner": self.inner.state_dict(), **self._own_state()}

    def _own_state(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; the next ``ask()`` is the one the saved run would
        have made (whatever vector this object was built with)."""
        if state.get("kind") != self.kind:
            raise ValueError(f"not a {self.kind} state (kind {state.get('kind')!r})")
        self.config = self.config_class(**state["config"])
        self.seed, self.generation, self.phase = int(state["seed"]), int(state["generation"]), int(state["phase"])
        self.size, self.rule_start, self.rule_stop = int(state["size"]), int(state["rule_start"]), \
            int(state["rule_stop"])
        self.assignment = state["assignment"].clone().to(torch.int32)
        inner_state = state["inner"]
        self.inner = INNER[self.config.inner](inner_state["mean"], self.config.inner_config(), seed=self.seed)
        self.inner.load_state_dict(inner_state)
        self._asked = None


class EvolveMerge(TiedRules):
    """Evolve per-synapse rules, merge them by k-means every ``merge_every`` generations
    down to ``target_rules`` (module docstring). Built as
    ``EvolveMerge(mean, EvolveMergeConfig(population_size=P, ...), seed=seed, rule_slice=...)``."""

    kind = "evolve-merge"
    config_class = EvolveMergeConfig

    def tell(self, fitness: Any) -> dict[str, float]:
        """The inner strategy's update (its logged numbers), then a merge when due. Adds
        ``rules`` (distinct rules after this generation) and ``merged`` (1.0 if it merged)."""
        logged = self._inner_tell(fitness)
        c = self.config
        due = self.generation % c.merge_every == 0 and self.num_rules > c.target_rules
        if due:
            self.merge()
        return {**logged, "rules": float(self.num_rules), "merged": float(due)}

    def merge(self) -> None:
        """Cluster the current rules into ``max(target, min(M - 1, ceil(M * factor)))`` and
        continue on the cluster centres (each synapse's rule -> its cluster's centre)."""
        c = self.config
        clusters = max(c.target_rules, min(self.num_rules - 1, math.ceil(self.num_rules * c.merge_factor)))
        rules = self._rules(self.inner.mean).to(torch.float64)
        counts = torch.bincount(self.assignment.long(), minlength=self.num_rules).to(torch.float64)
        generator = torch.Generator().manual_seed(_seed(self.seed, self.generation, 1))
        labels, centres = weighted_kmeans(rules, counts, clusters, c.kmeans_iterations, generator)
        self._retie(centres.to(torch.float32), labels)


class EMRules(TiedRules):
    """Alternate M-steps (``m_step`` inner generations, assignment fixed) and E-steps (one
    probe generation, then each synapse to the rule nearest its own gradient step; module
    docstring). Built as ``EMRules(mean, EMRulesConfig(population_size=P, rules=M, ...),
    seed=seed, rule_slice=...)``; the initial M rules are k-means centres of ``mean``'s
    per-synapse rules."""

    kind = "em-rules"
    config_class = EMRulesConfig

    def __init__(self, mean: torch.Tensor, config: EMRulesConfig, seed: int, rule_slice: slice | None = None) -> None:
        super().__init__(mean, config, seed, rule_slice)
        if config.rules < self.num_rules:
            generator = torch.Generator().manual_seed(_seed(self.seed, 0, 2))
            rules = self._rules(self.inner.mean).to(torch.float64)
            labels, centres = weighted_kmeans(rules, torch.ones(len(rules), dtype=torch.float64), config.rules,
                                              config.kmeans_iterations, generator)
            self._retie(centres.to(torch.float32), labels)
        self.cycle_generation = 0  # generations since the last E-step

    @property
    def probing(self) -> bool:
        """Whether this generation is an E-step's probe (after ``m_step`` inner generations)."""
        return self.cycle_generation >= self.config.m_step

    def _probe_sigma(self) -> torch.Tensor:
        """``[D]``: ``e_sigma`` on the rule coordinates, 0 elsewhere (head and tail stay at the mean)."""
        sigma = torch.zeros(self.size)
        sigma[self.rule_start:self.rule_stop] = self.config.e_sigma
        return sigma

    def ask(self) -> torch.Tensor:
        """The inner strategy's population, expanded; on a probe generation the mirrored
        per-synapse noise population around the expanded mean instead."""
        if not self.probing:
            return super().ask()
        population = MirroredPopulation(self.solution(), self._probe_sigma(), _seed(self.seed, self.generation, 3),
                                        self.generation, self.config.population_size)
        self._asked = population
        return population.rows(0, population.size)

    def tell(self, fitness: Any) -> dict[str, float]:
        """An M-step generation: the inner strategy's update. A probe generation: the
        E-step (the inner strategy untouched). Adds ``rules``, ``e_step`` (1.0 on a probe)
        and, on a probe, ``reassigned`` (synapses that changed rule)."""
        if not self.probing:
            logged = self._inner_tell(fitness)
            self.cycle_generation += 1
            return {**logged, "rules": float(self.num_rules), "e_step": 0.0}
        if self._asked is None:
            raise RuntimeError("tell() needs the population of a preceding ask()")
        fitness = checked_fitness(fitness, self.config.population_size)
        reassigned = self.e_step(self._gradient(fitness, self._asked))
        self.generation += 1
        self.cycle_generation = 0
        self._asked = None
        return {"rules": float(self.num_rules), "e_step": 1.0, "reassigned": float(reassigned)}

    def _gradient(self, fitness: torch.Tensor, population: MirroredPopulation, block: int = 64) -> torch.Tensor:
        """OpenAI-ES estimate ``[N, 5]`` of the fitness gradient w.r.t. each synapse's own
        coefficients: ``mean_i(u_i eps_i) / e_sigma`` (u: centered ranks, z-scored), over
        blocks of ``block`` noise rows (``block x D`` floats at a time)."""
        utilities = shape_fitness(fitness).to(torch.float32)
        total = torch.zeros(self.size)
        for start in range(0, len(utilities), block):
            stop = min(start + block, len(utilities))
            total += utilities[start:stop] @ population.noise(start, stop)
        gradient = total / (len(utilities) * self.config.e_sigma)
        return gradient[self.rule_start:self.rule_stop].reshape(-1, COEFFICIENTS)

    def proposed_assignment(self, gradient: torch.Tensor, step: float | None = None) -> torch.Tensor:
        """``[N]`` int64: the rule nearest ``h_n + step * gradient[n]`` for each synapse n
        (``gradient`` ``[N, 5]``; ``step``: ``e_step`` unless given). Changes nothing."""
        rules = self._rules(self.inner.mean)
        own = rules[self.assignment.long()]
        step = self.config.e_step if step is None else step
        return nearest((own + step * gradient).to(torch.float64), rules.to(torch.float64))

    def e_step(self, gradient: torch.Tensor) -> int:
        """Reassign each synapse to its :meth:`proposed_assignment`; drop rules left without
        synapses (a restart if any). Returns how many synapses moved."""
        rules = self._rules(self.inner.mean)
        chosen = self.proposed_assignment(gradient)
        moved = int((chosen != self.assignment.long()).sum())
        used = torch.unique(chosen)
        if len(used) == self.num_rules:
            self.assignment = chosen.to(torch.int32)
            return moved
        labels = torch.full((len(rules),), -1, dtype=torch.long)
        labels[used] = torch.arange(len(used))
        self.assignment = chosen.to(torch.int32)  # old rule indices, all of them used ones
        self._retie(rules[used].clone(), labels)
        return moved

    def _own_state(self) -> dict[str, Any]:
        return {"cycle_generation": self.cycle_generation}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.cycle_generation = int(state["cycle_generation"])
