"""The reference agents: static, LSTM and Hebbian networks, batched over a population.

``make_policy(agent, task, population)`` gives one policy acting for K individuals
(``[K, D]`` parameters); ``ReferenceAgent(agent, task, parameters)`` is the single-agent
(K=1) case with the ``reset(seed)`` / ``act(observation)`` interface of any agent.
"""

from hebbbench.agents.layout import ParamLayout
from hebbbench.agents.networks import (
    AGENTS,
    BatchedPolicy,
    architecture,
    car_observation,
    hebbian_slice,
    make_policy,
    param_layout,
    parameter_count,
)
from hebbbench.agents.reference import ReferenceAgent

__all__ = [
    "AGENTS",
    "BatchedPolicy",
    "ParamLayout",
    "ReferenceAgent",
    "architecture",
    "car_observation",
    "hebbian_slice",
    "make_policy",
    "param_layout",
    "parameter_count",
]
