"""One env that plays a fold's training variations: the leave-one-out protocol for RL users."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from hebbbench.envs.registry import PAPER_HOLDOUT, get_variation, variations


class FoldTrainingEnv(gym.Env):
    """Every ``reset`` plays one of a fold's training variations; the held-out one never.

    ## Description
    For gradient RL (PPO, SAC, ...) and meta-RL on the benchmark's leave-one-out protocol:
    train on ``gym.make("hebbbench:AntTrain-v0", holdout="long-front")`` (or
    ``"hebbbench:CarRacingTrain-v0"``), then evaluate the policy with ``hebbbench
    evaluate`` on every variation, the held-out one included. Each ``reset`` draws one of
    the four training variations uniformly from the env's seeded generator, so
    ``reset(seed=s)`` always gives the same variation and the same episode, and resets
    without a seed continue the sequence. Spaces, rewards and episode ends are the
    variations' own (they share spaces within a task).

    ## Info
    ``info["variation"]``: the name of the variation this episode plays (every step).

    ## Arguments
    * ``task``: ``"ant"`` or ``"car"`` (set by the registered ID).
    * ``holdout`` (default: the paper's fold): the variation never played.
    * ``render_mode`` and any other keyword argument are passed to every variation's env,
      e.g. ``max_negative_steps=None`` to switch off the car's 20-step rule for training.

    ```python
    import gymnasium as gym
    env = gym.make("hebbbench:CarRacingTrain-v0", holdout="pushed-right", max_negative_steps=None)
    ```

    ## Version History
    * v0: first release (hebbbench 0.2).
    """

    def __init__(self, task: str, holdout: str | None = None, render_mode: str | None = None,
                 **env_kwargs: Any) -> None:
        self.task = task
        self.holdout = PAPER_HOLDOUT[task] if holdout is None else holdout
        get_variation(task, self.holdout)
        self.training = [v.name for v in variations(task) if v.name != self.holdout]
        self._envs = {
            name: gym.make(get_variation(task, name).env_id, render_mode=render_mode, disable_env_checker=True,
                           **env_kwargs).unwrapped
            for name in self.training
        }
        first = self._envs[self.training[0]]
        self.observation_space, self.action_space = first.observation_space, first.action_space
        self.render_mode = render_mode
        self.variation = self.training[0]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.variation = self.training[int(self.np_random.integers(len(self.training)))]
        episode_seed = int(self.np_random.integers(np.iinfo(np.int64).max))
        observation, info = self._envs[self.variation].reset(seed=episode_seed, options=options)
        return observation, {**info, "variation": self.variation}

    def step(self, action: Any):
        observation, reward, terminated, truncated, info = self._envs[self.variation].step(action)
        return observation, reward, terminated, truncated, {**info, "variation": self.variation}

    @property
    def metadata(self) -> dict[str, Any]:
        """The variations' metadata (render modes and fps depend on the task). A property, so
        that ``gym.make`` checks ``render_mode`` against the task's env, not this class."""
        return self._envs[self.training[0]].metadata

    def render(self):
        return self._envs[self.variation].render()

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
