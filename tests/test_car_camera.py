"""The car's camera: gym 0.17's velocity-following view (the paper's) or CarRacing-v3's hull view."""

import math

import gymnasium as gym
import numpy as np
import pytest

from hebbbench.envs import env_settings, variations

GAS = np.array([0.0, 1.0, 0.0], dtype=np.float32)
IDLE = np.zeros(3, dtype=np.float32)


def frames(env_id: str, camera: str, backend: str, actions, seed: int = 2) -> list[np.ndarray]:
    env = gym.make(env_id, camera=camera, render_backend=backend, max_negative_steps=10_000)
    shown = [env.reset(seed=seed)[0]]
    shown += [env.step(action)[0] for action in actions]
    return shown


def mean_difference(one: np.ndarray, other: np.ndarray) -> float:
    return float(np.abs(one.astype(int) - other.astype(int)).mean())


def test_camera_is_validated_and_every_registered_car_id_uses_the_papers_velocity_camera():
    with pytest.raises(ValueError, match=r"camera must be one of \('velocity', 'hull'\), got 'chase'"):
        gym.make("CarRacingDefault-v0", camera="chase")
    for variation in variations("car"):
        assert gym.make(variation.env_id).unwrapped.camera == "velocity"
        assert env_settings(variation)["camera"] == "velocity"
    assert gym.make("CarRacingFriction-v0").unwrapped.camera == "velocity"


def test_camera_angle_follows_the_velocity_above_speed_half_and_the_hull_below():
    env = gym.make("CarRacingPushedRight-v0")
    env.reset(seed=5)
    car = env.unwrapped.car
    seen_fast = False
    for _ in range(120):
        env.step(np.array([0.3, 1.0, 0.0], dtype=np.float32))
        vx, vy = car.hull.linearVelocity
        expected = math.atan2(vx, vy) if math.hypot(vx, vy) > 0.5 else -car.hull.angle
        assert env.unwrapped.camera_angle() == expected
        seen_fast = seen_fast or math.hypot(vx, vy) > 0.5
    assert seen_fast
    hull = gym.make("CarRacingPushedRight-v0", camera="hull")
    hull.reset(seed=5)
    hull.step(GAS)
    assert hull.unwrapped.camera_angle() == -hull.unwrapped.car.hull.angle


@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_below_speed_half_both_cameras_show_the_same_frames(backend):
    slow = [np.array([0.0, 0.002, 0.0], dtype=np.float32)] * 12 + [IDLE] * 20  # creeping, below speed 0.5
    env = gym.make("CarRacingHalfFriction-v0")
    env.reset(seed=2)
    for action in slow:
        env.step(action)
        speed = math.hypot(*env.unwrapped.car.hull.linearVelocity)
        assert speed <= 0.5
    assert speed > 0.01  # the car does move
    for velocity, hull in zip(frames("CarRacingHalfFriction-v0", "velocity", backend, slow),
                              frames("CarRacingHalfFriction-v0", "hull", backend, slow)):
        np.testing.assert_array_equal(velocity, hull)


@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_with_a_push_the_cameras_differ_once_the_car_is_moving(backend):
    gas = [GAS] * 80
    velocity = frames("CarRacingPushedRight-v0", "velocity", backend, gas)
    hull = frames("CarRacingPushedRight-v0", "hull", backend, gas)
    assert mean_difference(velocity[-1], hull[-1]) > 5.0


def test_driving_straight_on_the_default_car_both_cameras_show_nearly_the_same_frames():
    gas = [GAS] * 60
    velocity = frames("CarRacingDefault-v0", "velocity", "fast", gas)
    hull = frames("CarRacingDefault-v0", "hull", "fast", gas)
    assert max(mean_difference(v, h) for v, h in zip(velocity, hull)) < 1.0


def test_reference_velocity_frame_is_the_hull_frame_of_a_hull_turned_to_the_velocity():
    """Exact check of the reference renderer against the rule: turn the hull of a
    hull-camera twin to the velocity's angle; every pixel away from the car's own
    polygon (which turns with it) and from the indicator bar (whose steering indicator
    reads the wheels' angle relative to the hull) is then the same."""
    action = np.array([0.4, 1.0, 0.0], dtype=np.float32)
    velocity = gym.make("CarRacingPushedRight-v0", render_backend="reference", max_negative_steps=10_000)
    twin = gym.make("CarRacingPushedRight-v0", camera="hull", render_backend="reference", max_negative_steps=10_000)
    velocity.reset(seed=7)
    twin.reset(seed=7)
    for _ in range(70):
        velocity.step(action)
        twin.step(action)
    v, t = velocity.unwrapped, twin.unwrapped
    assert tuple(v.car.hull.position) == tuple(t.car.hull.position)  # the camera never changes physics
    angle = v.camera_angle()
    assert abs(angle + v.car.hull.angle) > math.radians(3)  # the two views really differ here
    expected = v._render("state_pixels")
    t.car.hull.angle = -angle
    turned = t._render("state_pixels")
    away_from_car = np.ones(expected.shape[:2], dtype=bool)
    away_from_car[58:84, 36:60] = False  # the car sits at (48, 72) of the 96x96 frame
    away_from_car[84:] = False  # the indicator bar
    assert mean_difference(expected, turned) > 0  # the hull polygon did turn
    np.testing.assert_array_equal(expected[away_from_car], turned[away_from_car])


@pytest.mark.parametrize("camera", ["velocity", "hull"])
def test_fast_renderer_stays_within_a_level_of_the_reference_for_both_cameras(camera):
    weave = [np.array([0.5 * math.sin(t / 12), 1.0, 0.0], dtype=np.float32) for t in range(200)]
    fast = frames("CarRacingPushedRight-v0", camera, "fast", weave, seed=3)
    reference = frames("CarRacingPushedRight-v0", camera, "reference", weave, seed=3)
    assert np.mean([mean_difference(f, r) for f, r in zip(fast, reference)]) <= 1.0
