"""A gradient-RL baseline: Stable-Baselines3 PPO trained on a fold's training env.

    pip install -e ".[sb3]"
    python examples/sb3_ppo.py --task ant --holdout long-front --steps 1000000 --out runs/ppo-ant
    hebbbench evaluate runs/ppo-ant --task ant --holdout long-front

PPO trains on ``hebbbench:AntTrain-v0`` (or ``CarRacingTrain-v0``, with the 20-step rule
switched off for training), which plays one of the fold's four training variations per
episode; the held-out variation is never seen. The run directory gets ``model.zip`` (the
SB3 model) and ``agent.py`` (the agent file ``hebbbench evaluate`` runs: deterministic
actions, which SB3 clips to the action space). PPO's settings are SB3's defaults for
continuous control, with 8 parallel envs; ``--steps`` is the budget in env steps.
"""

from __future__ import annotations

import argparse
from pathlib import Path

AGENT_FILE = '''"""Agent file written by examples/sb3_ppo.py: SB3 PPO trained on {task}, {holdout!r} held out."""

from pathlib import Path

import numpy as np
from stable_baselines3 import PPO


class PPOAgent:
    def __init__(self, model):
        self.model = model

    def reset(self, seed):
        pass  # deterministic policy without memory: nothing to reset

    def act(self, observation):
        action, _ = self.model.predict(observation, deterministic=True)
        return np.asarray(action, dtype=np.float32)


def make_agent(task, holdout, observation_space, action_space):
    return PPOAgent(PPO.load(Path(__file__).parent / "model.zip", device="cpu"))
'''


def train_ppo(task: str, holdout: str, steps: int, out: Path, seed: int = 0, envs: int = 8,
              n_steps: int = 256) -> Path:
    """Train PPO for ``steps`` env steps on the fold's training env; write ``out/model.zip``
    and ``out/agent.py``. Returns ``out``."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    import hebbbench  # noqa: F401  (registers the env IDs)
    from hebbbench.envs import TASKS

    env_kwargs = {"holdout": holdout} | ({"max_negative_steps": None} if task == "car" else {})
    vec = make_vec_env(f"hebbbench:{TASKS[task].training_id}", n_envs=envs, seed=seed, env_kwargs=env_kwargs)
    model = PPO("CnnPolicy" if task == "car" else "MlpPolicy", vec, n_steps=n_steps, seed=seed, device="cpu",
                verbose=0)
    model.learn(total_timesteps=steps)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.zip")
    (out / "agent.py").write_text(AGENT_FILE.format(task=task, holdout=holdout))
    vec.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["ant", "car"], required=True)
    parser.add_argument("--holdout", help="held-out variation (default: the paper's fold)")
    parser.add_argument("--steps", type=int, default=1_000_000, help="training budget in env steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="run directory to write")
    args = parser.parse_args()
    from hebbbench.envs import PAPER_HOLDOUT

    out = train_ppo(args.task, args.holdout or PAPER_HOLDOUT[args.task], args.steps, args.out, args.seed)
    print(f"wrote {out / 'model.zip'} and {out / 'agent.py'}; evaluate with: "
          f"hebbbench evaluate {out} --task {args.task}")


if __name__ == "__main__":
    main()
