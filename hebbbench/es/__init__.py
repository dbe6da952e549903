"""Ask/tell evolution strategies; they know nothing about environments.

A strategy is an object with

* ``ask() -> Tensor[P, D]``: this generation's population of flat parameter vectors;
* ``tell(fitness[P]) -> dict[str, float]``: update the search distribution, return numbers
  worth logging (e.g. ``sigma``, ``lr``);
* ``compact_population()``: the last asked population in the smallest form that rebuilds
  any of its rows on a rollout worker (:mod:`hebbbench.es.population`);
* ``solution() -> Tensor[D]``: the one parameter vector the distribution stands for;
* ``sample(seed) -> Tensor[D]``: one individual of the distribution, drawn from ``seed``
  alone (how a trained distribution is evaluated, one sample per episode);
* ``state_dict()`` / ``load_state_dict(state)``: exact save and restore.

Strategies are registered by name in :data:`STRATEGIES`. The trainer
(:mod:`hebbbench.training.train`) uses only these seven (:class:`~hebbbench.es.base.Strategy`),
so any strategy with them plugs in; :mod:`hebbbench.es.base` holds what strategies share.
"""

from hebbbench.es.base import Strategy
from hebbbench.es.gmm import GaussianMixtureES, GaussianMixtureESConfig, rules_for_rho
from hebbbench.es.merge import EMRules, EMRulesConfig, EvolveMerge, EvolveMergeConfig
from hebbbench.es.openai_es import OpenAIES, OpenAIESConfig, centered_ranks, shape_fitness
from hebbbench.es.penalty import coefficient_penalty
from hebbbench.es.pgpe import PGPE, PGPEConfig
from hebbbench.es.population import ExplicitPopulation

#: Strategies by the name a training config gives (``strategy = "pgpe"``): a name and a
#: class whose ``config_class`` holds its hyper-parameters; a new strategy is one class and
#: one line here.
STRATEGIES = {"openai-es": OpenAIES, "pgpe": PGPE, "gaussian-mixture": GaussianMixtureES, "evolve-merge": EvolveMerge,
              "em-rules": EMRules}

__all__ = [
    "EMRules",
    "EMRulesConfig",
    "EvolveMerge",
    "EvolveMergeConfig",
    "ExplicitPopulation",
    "GaussianMixtureES",
    "GaussianMixtureESConfig",
    "OpenAIES",
    "OpenAIESConfig",
    "PGPE",
    "PGPEConfig",
    "STRATEGIES",
    "Strategy",
    "centered_ranks",
    "coefficient_penalty",
    "rules_for_rho",
    "shape_fitness",
]
