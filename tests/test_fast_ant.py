"""The batched ant step gives pybullet_envs_gymnasium's observations and rewards (to 1e-6)."""

import gymnasium as gym
import numpy as np
import pybullet_envs_gymnasium  # noqa: F401  (registers AntBulletEnv-v0)
import pytest

STEPS = 1000  # simulation steps per rollout, burn-in included


def upstream_and_ours(seed: int):
    """Both envs reset with ``seed``, upstream advanced through our 40-step zero-action burn-in."""
    upstream = gym.make("AntBulletEnv-v0").unwrapped
    ours = gym.make("AntDefault-v0").unwrapped
    upstream.reset(seed=0)  # as ours: every episode starts through upstream's restore path
    upstream_obs, _ = upstream.reset(seed=seed)
    for _ in range(ours.burn_in_steps):
        upstream_obs, *_ = upstream.step(np.zeros(8))
    ours_obs, _ = ours.reset(seed=seed)
    return upstream, upstream_obs, ours, ours_obs


@pytest.mark.parametrize("seed", [0, 3])
def test_batched_step_matches_ant_bullet_env_over_a_seeded_rollout(seed):
    upstream, upstream_obs, ours, ours_obs = upstream_and_ours(seed)
    assert np.abs(ours_obs - upstream_obs).max() <= 1e-6
    actions = np.random.default_rng(seed).uniform(-1, 1, size=(STEPS - ours.burn_in_steps, 8))
    obs_diff = progress_diff = reward_diff = 0.0
    feet_seen = set()
    for action in actions:
        upstream_obs, upstream_reward, upstream_done, _, _ = upstream.step(action)
        # Keep stepping past our episode's end: the comparison is of the simulation itself.
        ours_obs, progress, *_ = ours.step(action)
        obs_diff = max(obs_diff, float(np.abs(ours_obs - upstream_obs).max()))
        progress_diff = max(progress_diff, abs(progress - upstream.rewards[1]))
        reward_diff = max(reward_diff, abs(sum(ours.rewards) - upstream_reward))
        assert (ours._alive < 0) == upstream_done
        assert ours_obs.dtype == upstream_obs.dtype == np.float32
        feet_seen.update(ours_obs[24:].tolist())
    assert obs_diff <= 1e-6 and progress_diff <= 1e-6 and reward_diff <= 1e-6
    # Feet touched the ground, so the contact term was exercised.
    assert 1.0 in feet_seen


@pytest.mark.parametrize("velocity", [(30.0, -30.0, 20.0), (float("nan"),) * 3])
def test_clipped_and_non_finite_states_match_ant_bullet_env(velocity):
    """Entries beyond +-5 are clipped and a NaN state ends the episode, as upstream does."""
    upstream, _, ours, _ = upstream_and_ours(0)
    for env in (upstream, ours):
        body = env.robot.robot_body
        env._p.resetBaseVelocity(body.bodies[body.bodyIndex], velocity, (0.0, 0.0, 0.0))
    action = np.full(8, 0.5)
    upstream_obs, upstream_reward, upstream_done, _, _ = upstream.step(action)
    ours_obs, progress, done = ours._batched_step.step(action.tolist())
    non_finite = bool(np.isnan(velocity).any())
    # The velocity entries (0.3 x ~30 m/s) went past 5, or everything became NaN.
    assert np.isnan(ours_obs).any() if non_finite else np.abs(ours_obs).max() == 5.0
    np.testing.assert_allclose(ours_obs, upstream_obs, rtol=0, atol=1e-6)  # NaN where upstream has NaN
    assert ours_obs.dtype == np.float32
    assert done == upstream_done == non_finite
