"""Each variation does what it claims, measured in the physics (not by reading kwargs back)."""

import gymnasium as gym
import numpy as np
import pytest

from hebbbench.envs.ant_mjcf import ANKLE_GEOMS

CAR_STEPS = 80
# Full gas with a gentle left-right weave: enough speed for the tyre forces to matter.
CAR_ACTIONS = [np.array([0.4 * np.sin(t / 10), 1.0, 0.0], dtype=np.float32) for t in range(CAR_STEPS)]


def car_trajectory(env_id):
    """Hull positions (x, y) per step and the hull's initial right-pointing unit vector."""
    env = gym.make(env_id, max_negative_steps=CAR_STEPS + 1).unwrapped
    env.reset(seed=11)
    right = np.array(env.car.hull.GetWorldVector((1, 0)))
    positions = []
    for action in CAR_ACTIONS:
        env.step(action)
        positions.append(tuple(env.car.hull.position))
    env.close()
    return np.array(positions), right


def test_half_and_double_friction_give_different_trajectories():
    half, _ = car_trajectory("CarRacingHalfFriction-v0")
    double, _ = car_trajectory("CarRacingDoubleFriction-v0")
    default, _ = car_trajectory("CarRacingDefault-v0")
    assert np.linalg.norm(half[-1] - double[-1]) > 1.0
    assert np.linalg.norm(half[-1] - default[-1]) > 0.1
    assert np.linalg.norm(double[-1] - default[-1]) > 0.01


def test_pushes_drift_the_car_to_their_side_of_the_default_trajectory():
    default, right = car_trajectory("CarRacingDefault-v0")
    left_pushed, _ = car_trajectory("CarRacingPushedLeft-v0")
    right_pushed, _ = car_trajectory("CarRacingPushedRight-v0")
    left_drift = (left_pushed[-1] - default[-1]) @ right
    right_drift = (right_pushed[-1] - default[-1]) @ right
    assert left_drift < -0.5, f"pushed-left drifted {left_drift:+.2f} m to the right"
    assert right_drift > 0.5, f"pushed-right drifted {right_drift:+.2f} m to the right"


def test_default_car_matches_upstream_car_racing_v3_exactly():
    # Exact pixels need upstream's renderer; the fast one is checked in test_fast_car.py.
    ours = gym.make("CarRacingDefault-v0", max_negative_steps=CAR_STEPS + 1, render_backend="reference", camera="hull")
    upstream = gym.make("CarRacing-v3")
    for env in (ours, upstream):
        env.reset(seed=5)
    for action in CAR_ACTIONS[:40]:
        a, b = ours.step(action), upstream.step(action)
        assert a[1] == b[1]
        np.testing.assert_array_equal(a[0], b[0])
    assert tuple(ours.unwrapped.car.hull.position) == tuple(upstream.unwrapped.car.hull.position)


def ankle_extents(env_id):
    """Per-leg ankle capsule extent measured from pybullet's collision AABBs.

    With every joint at 0 and the torso unrotated, each ankle capsule lies along a
    horizontal diagonal: its AABB spans (extent + 2 * (radius + margin)) along x, while
    its z span is 2 * (radius + margin). The difference is the capsule's extent.
    """
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    client = env._p
    body = env.robot.robot_body.bodies[env.robot.robot_body.bodyIndex]
    client.resetBasePositionAndOrientation(body, [0, 0, 2], [0, 0, 0, 1])
    for joint in range(client.getNumJoints(body)):
        client.resetJointState(body, joint, 0.0)
    extents = []
    for foot in ("front_left_foot", "front_right_foot", "left_back_foot", "right_back_foot"):
        low, high = np.array(client.getAABB(body, env.parts[foot].bodyPartIndex))
        size = high - low
        extents.append(size[0] - size[2])
    env.close()
    return np.array(extents)


@pytest.mark.parametrize(
    "env_id, expected",
    [
        ("AntDefault-v0", [0.4, 0.4, 0.4, 0.4]),
        ("AntDamageLeft-v0", [0.1, 0.4, 0.4, 0.4]),
        ("AntDamageRight-v0", [0.4, 0.1, 0.4, 0.4]),
        ("AntLongBack-v0", [0.4, 0.4, 0.6, 0.6]),
        ("AntLongFront-v0", [0.6, 0.6, 0.4, 0.4]),
    ],
)
def test_ankle_collision_shapes_have_the_variations_lengths(env_id, expected):
    assert len(ANKLE_GEOMS) == 4
    np.testing.assert_allclose(ankle_extents(env_id), expected, atol=1e-6)


def test_ant_morphology_changes_the_walk(ant_actions):
    from helpers import rollout

    _, default_rewards, _ = rollout(gym.make("AntDefault-v0"), ant_actions, seed=2)
    _, damaged_rewards, _ = rollout(gym.make("AntDamageLeft-v0"), ant_actions, seed=2)
    assert not np.allclose(default_rewards, damaged_rewards)
