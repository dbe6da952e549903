"""A gradient-RL baseline: Stable-Baselines3 PPO trained on a fold's training env.

    pip install -e ".[sb3]"
    python examples/sb3_ppo.py --task ant --steps 2000000 --out runs/ppo-ant
    python examples/sb3_ppo.py --out runs/ppo-ant --resume      # after an interruption
    python examples/sb3_ppo.py --out runs/ppo-ant --plot curve.png  # the training curve
    hebbbench evaluate runs/ppo-ant --task ant

PPO trains on ``hebbbench:AntTrain-v0`` (or ``CarRacingTrain-v0``, with the 20-step rule
switched off for training), which plays one of the fold's four training variations per
episode; the held-out variation is never seen. ``--steps`` is the budget in env steps.

Settings. Ant: RL Baselines3 Zoo's tuned PPO settings for pybullet's ``AntBulletEnv-v0``
(``hyperparams/ppo.yml``: 16 envs, 512 steps per env per update, minibatch 128, 20 epochs,
lr 3e-5, clip 0.4, gamma 0.99, GAE lambda 0.9, gSDE resampled every 4 steps with
log_std_init -1, ReLU 256x256 actor and critic, observation and reward normalisation). The
benchmark's ant rewards progress only and has its own episode rules, so these settings are
a documented starting point, not tuned for it. Car: SB3's defaults with ``CnnPolicy``.

The run directory holds ``config.json`` (task, fold, seed, budget), ``model.zip`` (the SB3
model), ``normalisation.npz`` (the running observation and return statistics, ant only),
``progress.csv`` (one row per checkpoint: env steps, wall seconds, mean return and length
of the last 100 training episodes) and ``agent.py``, the agent file ``hebbbench evaluate``
runs (deterministic actions, which SB3 clips to the action space, from normalised
observations). Every file is written atomically at each checkpoint; ``--resume`` continues
from the last one. A resumed run restarts its training episodes, so it does not replay an
uninterrupted run bit for bit.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from hebbbench.system.files import write_atomic, write_text_atomic

AGENT_FILE = '''"""Agent file written by examples/sb3_ppo.py: SB3 PPO trained on {task}, {holdout!r} held out."""

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
'''

#: RL Baselines3 Zoo's tuned PPO settings for pybullet's AntBulletEnv-v0 (hyperparams/ppo.yml).
ANT_SETTINGS = dict(n_steps=512, batch_size=128, n_epochs=20, learning_rate=3e-5, clip_range=0.4, gamma=0.99,
                    gae_lambda=0.9, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5, use_sde=True, sde_sample_freq=4)
ANT_ENVS = 16
CAR_ENVS = 8


def _policy_kwargs(task: str) -> dict:
    if task == "car":
        return {}
    import torch

    return dict(log_std_init=-1, ortho_init=False, activation_fn=torch.nn.ReLU,
                net_arch=dict(pi=[256, 256], vf=[256, 256]))


def _make_env(config: dict):
    """The fold's training env, vectorised (and normalised for the ant)."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    import hebbbench  # noqa: F401  (registers the env IDs)
    from hebbbench.envs import TASKS

    task = config["task"]
    env_kwargs = {"holdout": config["holdout"]} | ({"max_negative_steps": None} if task == "car" else {})
    vec = make_vec_env(f"hebbbench:{TASKS[task].training_id}", n_envs=config["envs"], seed=config["seed"],
                       env_kwargs=env_kwargs)
    return vec if task == "car" else VecNormalize(vec, gamma=ANT_SETTINGS["gamma"])


def _save_normalisation(vec, path: Path) -> None:
    def write(handle):
        np.savez(handle, obs_mean=vec.obs_rms.mean, obs_var=vec.obs_rms.var, obs_count=vec.obs_rms.count,
                 ret_mean=vec.ret_rms.mean, ret_var=vec.ret_rms.var, ret_count=vec.ret_rms.count,
                 clip_obs=vec.clip_obs, epsilon=vec.epsilon)

    write_atomic(path, write)


def _load_normalisation(vec, path: Path) -> None:
    stats = np.load(path)
    for prefix, running in (("obs", vec.obs_rms), ("ret", vec.ret_rms)):
        running.mean, running.var = stats[f"{prefix}_mean"], stats[f"{prefix}_var"]
        running.count = float(stats[f"{prefix}_count"])


def _checkpoint(model, vec, out: Path, config: dict) -> None:
    """Write the model, the normalisation statistics and one progress row, each atomically."""
    write_atomic(out / "model.zip", model.save)
    if config["task"] != "car":
        _save_normalisation(vec, out / "normalisation.npz")
    episodes = list(model.ep_info_buffer)
    mean_return = float(np.mean([e["r"] for e in episodes])) if episodes else float("nan")
    mean_length = float(np.mean([e["l"] for e in episodes])) if episodes else float("nan")
    progress = out / "progress.csv"
    rows = progress.read_text() if progress.exists() else "env_steps,wall_s,mean_return_100,mean_length_100\n"
    wall_s = config["wall_s"]
    write_text_atomic(progress, rows + f"{model.num_timesteps},{wall_s:.1f},{mean_return:.2f},{mean_length:.1f}\n")
    print(f"{model.num_timesteps:>9,} steps  {wall_s / 60:7.1f} min  mean return (last 100 episodes) "
          f"{mean_return:8.1f}  mean length {mean_length:6.1f}", flush=True)


def train_ppo(task: str, holdout: str, steps: int, out: Path, seed: int = 0, envs: int | None = None,
              n_steps: int | None = None, checkpoint_steps: int = 100_000) -> Path:
    """Train PPO for ``steps`` env steps on the fold's training env into the run directory
    ``out`` (see the module docstring for its files), checkpointing every ``checkpoint_steps``
    env steps. Returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    if (out / "config.json").exists():
        raise ValueError(f"{out} already holds a PPO run: continue it with resume_ppo, or choose a new folder")
    envs = envs or (CAR_ENVS if task == "car" else ANT_ENVS)
    config = dict(task=task, holdout=holdout, steps=steps, seed=seed, envs=envs, checkpoint_steps=checkpoint_steps,
                  n_steps=n_steps or (2048 if task == "car" else ANT_SETTINGS["n_steps"]), wall_s=0.0)
    write_text_atomic(out / "config.json", json.dumps(config, indent=2) + "\n")
    write_text_atomic(out / "agent.py", AGENT_FILE.format(task=task, holdout=holdout))
    return resume_ppo(out)


def resume_ppo(out: Path) -> Path:
    """Continue the PPO run in ``out`` from its last checkpoint to its budget. Returns ``out``."""
    from stable_baselines3 import PPO

    config = json.loads((out / "config.json").read_text())
    vec = _make_env(config)
    if (out / "model.zip").exists():
        model = PPO.load(out / "model.zip", env=vec, device="cpu")
        if config["task"] != "car":
            _load_normalisation(vec, out / "normalisation.npz")
    else:
        settings = {} if config["task"] == "car" else ANT_SETTINGS
        model = PPO("CnnPolicy" if config["task"] == "car" else "MlpPolicy", vec,
                    **(settings | {"n_steps": config["n_steps"], "batch_size": min(
                        settings.get("batch_size", 64), config["n_steps"] * config["envs"])}),
                    policy_kwargs=_policy_kwargs(config["task"]), seed=config["seed"], device="cpu", verbose=0)
    while model.num_timesteps < config["steps"]:
        started = time.monotonic()
        chunk = min(config["checkpoint_steps"], config["steps"] - model.num_timesteps)
        model.learn(total_timesteps=chunk, reset_num_timesteps=False)
        config["wall_s"] += time.monotonic() - started
        _checkpoint(model, vec, out, config)
        write_text_atomic(out / "config.json", json.dumps(config, indent=2) + "\n")
    vec.close()
    return out


def plot_progress(out: Path, png: Path) -> Path:
    """Plot ``out/progress.csv`` (mean training return over env steps) to ``png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [line.split(",") for line in (out / "progress.csv").read_text().splitlines()[1:]]
    config = json.loads((out / "config.json").read_text())
    figure, axes = plt.subplots(figsize=(8, 4.5), layout="constrained")
    axes.plot([int(r[0]) / 1e6 for r in rows], [float(r[2]) for r in rows])
    axes.set_xlabel("env steps (millions)")
    axes.set_ylabel("mean return, last 100 training episodes")
    axes.set_title(f"SB3 PPO on {config['task']}, {config['holdout']} held out (training variations, "
                   "stochastic policy)", fontsize=10)
    axes.grid(alpha=0.3)
    write_atomic(png, lambda handle: figure.savefig(handle, format="png", dpi=110))
    plt.close(figure)
    return png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["ant", "car"], help="task to train on (not with --resume)")
    parser.add_argument("--holdout", help="held-out variation (default: the paper's fold)")
    parser.add_argument("--steps", type=int, default=2_000_000, help="training budget in env steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-steps", type=int, default=100_000, help="env steps between checkpoints")
    parser.add_argument("--out", type=Path, required=True, help="run directory to write")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--plot", type=Path, metavar="PNG", help="only plot --out's progress.csv to PNG")
    args = parser.parse_args()
    from hebbbench.envs import PAPER_HOLDOUT

    if args.plot:
        print(f"wrote {plot_progress(args.out, args.plot)}")
        return
    if args.resume:
        out = resume_ppo(args.out)
    elif args.task is None:
        parser.error("--task is required for a new run")
    else:
        out = train_ppo(args.task, args.holdout or PAPER_HOLDOUT[args.task], args.steps, args.out, args.seed,
                        checkpoint_steps=args.checkpoint_steps)
    task = json.loads((out / "config.json").read_text())["task"]
    print(f"done; evaluate with: hebbbench evaluate {out} --task {task}")


if __name__ == "__main__":
    main()
