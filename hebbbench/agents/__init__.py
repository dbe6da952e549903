"""The reference agents: static, LSTM and Hebbian networks, batched over a population.

``make_policy(agent, task, population)`` gives one policy acting for K individuals
(``[K, D]`` parameters); ``ReferenceAgent(agent, task, parameters)`` is the single-agent
(K=1) case with the ``reset(seed)`` / ``act(observation)`` interface of any agent.
"""

from hebbbench.agents.networks import (
    AGENTS,
    INIT_SCHEMES,
    car_observation,
    hebbian_slice,
    initial_parameters,
    make_policy,
    parameter_count,
)
from hebbbench.agents.normalization import ObservationNormalizer, ObservationStats
from hebbbench.agents.reference import ReferenceAgent

__all__ = [
    "AGENTS",
    "INIT_SCHEMES",
    "ObservationNormalizer",
    "ObservationStats",
    "ReferenceAgent",
    "car_observation",
    "hebbian_slice",
    "initial_parameters",
    "make_policy",
    "parameter_count",
]
