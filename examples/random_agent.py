"""A random agent: the smallest complete agent file, and the floor every agent should beat.

Evaluate it with::

    hebbbench evaluate examples/random_agent.py --task ant --episodes 5

An agent file defines ``make_agent(task, holdout, observation_space, action_space)``
returning an object with ``reset(seed)`` (called at the start of every episode) and
``act(observation) -> action``. This one draws each action uniformly from the action
space with a generator re-seeded in ``reset``, so every episode is reproducible.
"""

import numpy as np


class RandomAgent:
    def __init__(self, action_space):
        self.low = action_space.low.astype(np.float64)
        self.high = action_space.high.astype(np.float64)
        self.rng = np.random.default_rng(0)

    def reset(self, seed):
        self.rng = np.random.default_rng(seed)

    def act(self, observation):
        return self.rng.uniform(self.low, self.high)


def make_agent(task, holdout, observation_space, action_space):
    return RandomAgent(action_space)
