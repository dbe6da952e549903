"""Same seed and same actions give identical episodes, in one process and across processes."""

import hashlib
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from helpers import rollout

SCRIPT = """
import hashlib, sys
import gymnasium as gym, numpy as np
import hebbbench
sys.path.insert(0, {tests!r})
from helpers import rollout
env_id, seed, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
env = gym.make(env_id)
actions = np.random.default_rng(7).uniform(-1, 1, size=(steps, env.action_space.shape[0])).astype(np.float32)
actions = np.clip(actions, env.action_space.low, env.action_space.high)
obs, rewards, _ = rollout(env, actions, seed)
print(hashlib.sha256(obs.tobytes() + rewards.tobytes()).hexdigest())
"""


def digest(env_id, seed, steps, env=None):
    env = env or gym.make(env_id)
    actions = np.random.default_rng(7).uniform(-1, 1, size=(steps, env.action_space.shape[0])).astype(np.float32)
    actions = np.clip(actions, env.action_space.low, env.action_space.high)
    obs, rewards, _ = rollout(env, actions, seed)
    return hashlib.sha256(obs.tobytes() + rewards.tobytes()).hexdigest()


@pytest.mark.parametrize("env_id, steps", [("AntLongBack-v0", 60), ("CarRacingPushedLeft-v0", 15)])
def test_same_seed_same_episode_in_fresh_and_reused_envs(env_id, steps):
    fresh = digest(env_id, 4, steps)
    reused_env = gym.make(env_id)
    digest(env_id, 9, steps, env=reused_env)  # an earlier, different episode
    assert digest(env_id, 4, steps, env=reused_env) == fresh
    assert digest(env_id, 5, steps) != fresh


@pytest.mark.parametrize("env_id, steps", [("AntDamageRight-v0", 60), ("CarRacingHalfFriction-v0", 15)])
def test_same_seed_same_episode_across_processes(env_id, steps, tmp_path):
    script = tmp_path / "episode.py"
    from pathlib import Path

    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent)))
    outputs = [
        subprocess.run([sys.executable, str(script), env_id, "4", str(steps)], capture_output=True, text=True,
                       check=True)
        .stdout.strip().splitlines()[-1]
        for _ in range(2)
    ]
    assert outputs[0] == outputs[1] == digest(env_id, 4, steps)
