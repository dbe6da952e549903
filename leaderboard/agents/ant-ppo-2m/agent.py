"""Agent file written by examples/sb3_ppo.py: SB3 PPO trained on ant, 'long-front' held out."""

from pathlib import Path

import numpy as np
from stable_baselines3 import PPO

HERE = Path(__file__).parent


class PPOAgent:
    def __init__(self, model, normalisation):
        self.model = model
        self.normalisation = normalisation

    def reset(self, seed):
        pass  # deterministic policy without memory: nothing to reset

    def act(self, observation):
        if self.normalisation is not None:  # as SB3's VecNormalize did in training
            n = self.normalisation
            observation = np.clip((observation - n["obs_mean"]) / np.sqrt(n["obs_var"] + n["epsilon"]),
                                  -n["clip_obs"], n["clip_obs"]).astype(np.float32)
        action, _ = self.model.predict(observation, deterministic=True)
        return np.asarray(action, dtype=np.float32)


def make_agent(task, holdout, observation_space, action_space):
    stats = HERE / "normalisation.npz"
    normalisation = dict(np.load(stats)) if stats.exists() else None
    return PPOAgent(PPO.load(HERE / "model.zip", device="cpu"), normalisation)
