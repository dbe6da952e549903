"""Does a car policy look at the road? The diagnosis behind docs/baselines.md's "Why the
Hebbian car drives open-loop".

For each run directory given (its final mean, ``parameters.npy``, with sigma 0) or initial
mean ``init:AGENT:SCHEME:STD:SEED`` (``networks.initial_parameters``), drives the default
variation on tracks 1-4 (Hebbian weights from seed 1) and prints: return and episode length
per track; steering std within an episode; the correlation of the steering traces of
different tracks over steps 20-100 (near 1: the same steering whatever the road, i.e.
open-loop) and the mean |difference| of two tracks' steering over their common steps; the
conv features' std over time (per feature, averaged: 0 means the front end sees a constant
picture); for Hebbian runs, the return with plasticity switched off after step 30 and the
cosine between the layer-1 weights after 100 steps on tracks 1 and 2.

    python docs/baseline-pilots/car_open_loop.py leaderboard/agents/car-static-baseline \\
        leaderboard/agents/car-hebbian-baseline init:hebbian:fan-in:1.0:0
"""

import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from hebbbench.agents import networks
from hebbbench.envs import register_all
from hebbbench.training.run_dir import CONFIG_FILE, PARAMETERS_FILE, TrainConfig

TRACKS = (1, 2, 3, 4)


def drive(agent: str, params: torch.Tensor, track: int, freeze_at: int | None = None) -> dict:
    """One default-variation episode of the mean policy; steering, features, layer-1 weights."""
    env = gym.make("CarRacingFriction-v0")
    policy = networks.make_policy(agent, "car", params)
    policy.reset([1])
    obs, _ = env.reset(seed=track)
    steer, features, total, weights_100 = [], [], 0.0, None
    for step in range(1, 1001):
        if freeze_at is not None and step == freeze_at + 1:
            policy.rules = [tuple(torch.zeros_like(part) for part in rule) for rule in policy.rules]
        x = networks.car_observation(obs[None])
        features.append(networks.conv_features(x, policy.params["conv.1"], policy.params["conv.2"])[0].numpy())
        action = policy.act(obs[None])[0]
        steer.append(float(action[0]))
        obs, reward, terminated, truncated, _ = env.step(action)
        total += reward
        if agent == "hebbian" and step == 100:
            weights_100 = policy.weights[0][0].clone()
        if terminated or truncated:
            break
    env.close()
    return {"return": total, "steps": step, "steer": np.array(steer), "features": np.array(features),
            "weights_100": weights_100}


def load(source: str) -> tuple[str, torch.Tensor]:
    """The agent and its ``[1, D]`` parameters from a run directory or ``init:AGENT:SCHEME:STD:SEED``."""
    if source.startswith("init:"):
        _, agent, scheme, std, seed = source.split(":")
        generator = torch.Generator().manual_seed(int(seed))
        return agent, networks.initial_parameters(agent, "car", scheme, float(std), generator)[None]
    run_dir = Path(source)
    agent = TrainConfig.from_file(run_dir / CONFIG_FILE).agent
    return agent, torch.as_tensor(np.load(run_dir / PARAMETERS_FILE), dtype=torch.float32)[None]


def diagnose(source: str) -> dict:
    agent, params = load(source)
    episodes = [drive(agent, params, track) for track in TRACKS]
    length = min(100, *(len(e["steer"]) for e in episodes))
    traces = np.array([e["steer"][20:length] for e in episodes])
    pairs = np.triu_indices(len(TRACKS), 1)
    corr = np.corrcoef(traces)[pairs] if traces.shape[1] > 2 else np.full(len(pairs[0]), np.nan)
    common = np.array([e["steer"][:length] for e in episodes])
    differences = np.abs(common[:, None] - common[None, :]).mean(axis=2)[pairs]
    out = {
        "source": source,
        "returns": [round(e["return"], 1) for e in episodes],
        "steps": [e["steps"] for e in episodes],
        "steer_std": round(float(np.mean([e["steer"].std() for e in episodes])), 3),
        "trace_corr_min_mean": [round(float(corr.min()), 2), round(float(corr.mean()), 2)],  # NaN: under 23 steps
        "steer_difference_between_tracks": round(float(differences.mean()), 3),
        "feature_time_std": round(float(np.mean([e["features"][20:].std(0).mean() for e in episodes])), 4),
    }
    if agent == "hebbian":
        out["returns_frozen_after_30"] = [round(drive(agent, params, t, freeze_at=30)["return"], 1) for t in TRACKS[:2]]
        w1, w2 = episodes[0]["weights_100"], episodes[1]["weights_100"]
        if w1 is not None and w2 is not None:
            out["layer1_cos_tracks_1_2_at_100"] = round(float((w1 * w2).sum() / (w1.norm() * w2.norm())), 4)
    return out


if __name__ == "__main__":
    register_all()
    torch.set_num_threads(1)
    for source in sys.argv[1:]:
        print(json.dumps(diagnose(source)))
