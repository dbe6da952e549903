"""The benchmark's episode rules live inside the registered envs."""

import gymnasium as gym
import numpy as np


def test_car_ends_after_20_consecutive_negative_rewards():
    env = gym.make("CarRacingDefault-v0")
    env.reset(seed=1)
    idle = np.zeros(3, dtype=np.float32)
    rewards = []
    for _ in range(100):
        _, reward, terminated, truncated, info = env.step(idle)
        rewards.append(reward)
        if terminated or truncated:
            break
    # The first step collects the start tile's reward; then 20 idle steps at -0.1 each.
    assert rewards[0] > 0 and len(rewards) == 21 and all(r < 0 for r in rewards[1:])
    assert truncated and not terminated
    assert info["truncation_reason"] == "negative_reward_streak"


def test_car_time_limit_is_a_truncation_with_a_reason():
    env = gym.make("CarRacingDefault-v0", max_episode_steps=5, max_negative_steps=50)
    env.reset(seed=1)
    for step in range(1, 10):
        *_, terminated, truncated, info = env.step(np.array([0.0, 1.0, 0.0], dtype=np.float32))
        if terminated or truncated:
            break
    assert step == 5 and truncated and not terminated and "truncation_reason" not in info


def test_ant_burn_in_happens_inside_reset():
    env = gym.make("AntDefault-v0").unwrapped
    observation, info = env.reset(seed=0)
    assert info == {"distance": 0.0}
    # 40 zero-action steps let the ant settle: its torso is on the ground, not at 0.75 m.
    assert env.robot.body_xyz[2] < 0.3
    assert env.observation_space.contains(observation)


def test_ant_reward_is_progress_only_and_distance_is_in_metres(ant_actions):
    env = gym.make("AntDefault-v0").unwrapped
    env.reset(seed=0)
    total = 0.0
    for action in ant_actions:
        _, reward, _, _, info = env.step(action)
        assert reward == env.rewards[1]
        total += reward
    assert np.isclose(info["distance"], total * 0.0165)


def test_ant_ignores_falls_for_201_policy_steps_then_ends_on_a_fall():
    env = gym.make("AntDefault-v0").unwrapped
    env.reset(seed=0)
    # Zero torque: the ant lies still, pybullet calls it fallen (torso < 0.26 m) at once.
    for step in range(1, 400):
        _, _, terminated, truncated, info = env.step(np.zeros(8, dtype=np.float32))
        if terminated or truncated:
            break
    assert step == 202 and terminated


def test_registered_time_limits_are_1000_steps_including_the_ant_burn_in():
    assert gym.spec("CarRacingPushedRight-v0").max_episode_steps == 1000
    env = gym.make("AntLongBack-v0")
    assert env.spec.max_episode_steps + env.unwrapped.burn_in_steps == 1000


def test_ant_truncates_after_more_than_30_steps_without_progress_once_the_grace_is_over():
    """Real physics underneath; the progress the env sees is made negative at every step
    (an ant that walks away from its target) and pybullet's fall signal is ignored, so
    only the no-progress rule can end the episode."""
    env = gym.make("AntDefault-v0").unwrapped
    env.reset(seed=0)
    physics_step = env._batched_step.step

    def walking_away(action):
        state, progress, _ = physics_step(action)
        return state, -abs(progress) - 1e-3, False

    env._batched_step.step = walking_away
    for step in range(1, 400):
        _, reward, terminated, truncated, info = env.step(np.zeros(8, dtype=np.float32))
        assert reward < 0
        if terminated or truncated:
            break
    # Rules apply from the 202nd policy step; the 31st negative step after that ends it.
    assert step == 232 and truncated and not terminated and info["truncation_reason"] == "no_progress"
