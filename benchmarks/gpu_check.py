"""The ``--device cuda`` checks and timings of docs/scaling.md, as one script for a GPU machine.

Run: ``python benchmarks/gpu_check.py --out DIR [--workers W]`` on a machine with a CUDA GPU
(the car only: it needs gymnasium[box2d], not pybullet). It writes ``DIR/gpu_check.json``
and prints it. What it does, each part timed and checked:

1. **Mixture update** (docs/shared-rules.md): one ``tell`` of the ant's shared rules at
   rho = 1 (N = M = 12,288, population 500) on the GPU (goal: under 5 s), twice from the
   same seed (must be identical), and at rho = 128 on both devices (how close they are).
2. **Car Hebbian training, same job on both devices**: population 64, 3 generations,
   episodes cut at 150 steps, the paper's fold, ``W`` workers (default: every core). It
   reports env steps per CPU core per second of the steady generations on each device
   (goal: >= 3x with cuda; cuda also with a quarter of the workers, so bigger GPU
   batches), whether two cuda runs give the same log rows, and how far the cuda run's
   fitness lies from the CPU run's.
3. **A GPU run evaluates on the CPU**: the cuda run's directory loaded as an agent file
   and played for one short episode with the policy on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from hebbbench.envs import get_variation
from hebbbench.es import GaussianMixtureES, GaussianMixtureESConfig
from hebbbench.evaluation.agent_file import load_agent_factory
from hebbbench.training.train import TrainConfig, read_log, train

ANT_SYNAPSES = 12_288
CAR_JOB = dict(agent="hebbian", task="car", population=64, generations=3, seed=0, max_episode_steps=150)


def _mixture_tell_seconds(num_rules: int, device: str) -> tuple[float, GaussianMixtureES]:
    strategy = GaussianMixtureES(ANT_SYNAPSES, num_rules, GaussianMixtureESConfig(population_size=500),
                                 seed=0, device=device)
    strategy.ask()
    fitness = np.random.default_rng(0).normal(size=500)
    if device != "cpu":
        torch.cuda.synchronize()
    start = time.perf_counter()
    strategy.tell(fitness)
    if device != "cpu":
        torch.cuda.synchronize()
    return time.perf_counter() - start, strategy


def mixture_checks() -> dict:
    seconds, first = _mixture_tell_seconds(ANT_SYNAPSES, "cuda")
    again_seconds, again = _mixture_tell_seconds(ANT_SYNAPSES, "cuda")
    small = {device: _mixture_tell_seconds(ANT_SYNAPSES // 128, device) for device in ("cpu", "cuda")}
    cpu_means, gpu_means = (small[d][1].state_dict()["params"]["means"] for d in ("cpu", "cuda"))
    return {
        "rho1_tell_seconds_cuda": [round(seconds, 3), round(again_seconds, 3)],
        "rho1_cuda_repeatable": all(torch.equal(a, b) for a, b in zip(first.state_dict()["params"].values(),
                                                                        again.state_dict()["params"].values())),
        "rho128_tell_seconds": {d: round(small[d][0], 4) for d in small},
        "rho128_means_max_abs_diff_cpu_vs_cuda": float((cpu_means - gpu_means).abs().max()),
    }


def _car_job(run_dir: Path, device: str, workers: int) -> dict:
    start = time.perf_counter()
    train(TrainConfig(**CAR_JOB, workers=workers, device=device), run_dir, progress=False)
    rows = read_log(run_dir)  # env_steps and seconds are cumulative; the first generation warms up
    steps = rows[-1]["env_steps"] - rows[0]["env_steps"]
    seconds = rows[-1]["seconds"] - rows[0]["seconds"]
    return {"whole_seconds": round(time.perf_counter() - start, 1), "steady_generations": len(rows) - 1,
            "steady_seconds": round(seconds, 2), "steady_env_steps": steps,
            "env_steps_per_core_second": round(steps / seconds / workers, 1),
            "fitness_mean": [r["fitness_mean"] for r in rows]}


def car_checks(out: Path, workers: int) -> dict:
    cpu = _car_job(out / "car-cpu", "cpu", workers)
    cuda = _car_job(out / "car-cuda", "cuda", workers)
    cuda_again = _car_job(out / "car-cuda-again", "cuda", workers)
    # Fewer workers give each GPU batch more episodes (and share the GPU among fewer processes).
    cuda_quarter = _car_job(out / "car-cuda-quarter", "cuda", max(1, workers // 4))
    return {
        "workers": workers, "cpu": cpu, "cuda": cuda, "cuda_quarter_workers": cuda_quarter,
        "speedup_env_steps_per_core_second": round(cuda["env_steps_per_core_second"]
                                                   / cpu["env_steps_per_core_second"], 2),
        "cuda_repeatable": cuda["fitness_mean"] == cuda_again["fitness_mean"],
        "fitness_mean_max_abs_diff_cpu_vs_cuda": float(np.max(np.abs(np.subtract(cuda["fitness_mean"],
                                                                                  cpu["fitness_mean"])))),
    }


def evaluate_on_cpu(run_dir: Path) -> dict:
    import gymnasium as gym

    env = gym.make(get_variation("car", "default").env_id, max_episode_steps=30)
    config = json.loads((run_dir / "config.json").read_text())
    agent = load_agent_factory(run_dir)("car", config["holdout"], env.observation_space, env.action_space)
    observation, _ = env.reset(seed=0)
    agent.reset(0)
    total, done = 0.0, False
    while not done:
        observation, reward, terminated, truncated, _ = env.step(agent.act(observation))
        total, done = total + reward, terminated or truncated
    return {"config_device": config["device"], "cpu_episode_return": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__,
              "gpu": torch.cuda.get_device_name(0), "cores": os.cpu_count()}
    report["mixture"] = mixture_checks()
    report["car"] = car_checks(args.out, args.workers)
    report["evaluate_gpu_run_on_cpu"] = evaluate_on_cpu(args.out / "car-cuda")
    text = json.dumps(report, indent=2)
    (args.out / "gpu_check.json").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
