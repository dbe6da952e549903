"""One reference agent: the K=1 case of a batched policy, with the agent interface.

The interface is the one ``hebbbench evaluate`` calls for any agent: ``reset(seed)`` at each
episode start, then ``act(observation) -> action``.
"""

from __future__ import annotations

import numpy as np
import torch

from hebbbench.agents.networks import make_policy, parameter_count
from hebbbench.agents.normalization import ObservationNormalizer


class ReferenceAgent:
    """The ``agent`` network (static, lstm or hebbian) on ``task`` with fixed parameters.

    ``parameters``: the flat vector of :func:`parameter_count` floats, e.g. the final mean
    of a training run. A Hebbian agent draws fresh weights from the seed given to
    :meth:`reset`; an LSTM agent zeroes its state there. ``normalizer``: the observation
    normalisation the parameters were trained with (``None``: none).
    """

    def __init__(self, agent: str, task: str, parameters: torch.Tensor | np.ndarray,
                 normalizer: ObservationNormalizer | None = None) -> None:
        parameters = torch.as_tensor(np.asarray(parameters), dtype=torch.float32).reshape(-1)
        expected = parameter_count(agent, task)
        if parameters.numel() != expected:
            raise ValueError(f"{agent} agent on {task} needs {expected} parameters, got {parameters.numel()}")
        self.agent, self.task = agent, task
        self.policy = make_policy(agent, task, parameters.unsqueeze(0), normalizer=normalizer)
        self.policy.reset([0])
        if self.policy.uses_reward:  # evaluation then passes each step's reward (agent interface)
            self.observe = self._observe

    def reset(self, seed: int | None) -> None:
        """Start an episode; ``seed`` fixes the Hebbian agent's initial weights (``None``: 0)."""
        self.policy.reset([0 if seed is None else int(seed)])

    def act(self, observation: np.ndarray) -> np.ndarray:
        """One observation -> one float32 action within the env's bounds."""
        return self.policy.act(np.asarray(observation)[None])[0]

    def _observe(self, reward: float, terminated: bool, truncated: bool) -> None:
        self.policy.observe(np.array([float(reward)]), np.array([bool(terminated or truncated)]))
