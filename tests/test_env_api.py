"""Gymnasium conventions on every registered ID: check_env, make_vec, bad kwargs, rendering."""

import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from hebbbench.envs import TASKS, VARIATIONS, variations
from hebbbench.envs.validation import ActionCheck, checked_action

ALL_IDS = ([v.env_id for v in VARIATIONS] + [t.parametric_id for t in TASKS.values()]
           + [t.training_id for t in TASKS.values()])


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_check_env_passes_with_its_render_checks(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped)  # as a user runs it: every render mode the env lists is tried
    env.close()


def test_ant_human_rendering_without_a_display_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(ValueError, match="needs a display, but DISPLAY is not set; use render_mode='rgb_array'"):
        gym.make("AntDefault-v0", render_mode="human")
    assert "human" not in gym.make("AntDefault-v0").unwrapped.metadata["render_modes"]


def test_car_observations_survive_a_pygame_quit_between_envs():
    """A pygame.quit() (closing a human-mode car env does one) kills cached fonts."""
    import pygame

    from hebbbench.envs.car_render import score_patch

    gym.make("CarRacingDefault-v0").reset(seed=0)
    pygame.init()
    pygame.quit()
    score_patch.cache_clear()  # a score not drawn before, so its font is needed again
    observation, _ = gym.make("CarRacingDefault-v0").reset(seed=1)
    assert observation.shape == (96, 96, 3)


@pytest.mark.parametrize("env_id", ["CarRacingPushedLeft-v0", "AntDamageRight-v0"])
def test_make_vec_steps_two_envs(env_id):
    envs = gym.make_vec(env_id, num_envs=2)
    observations, _ = envs.reset(seed=3)
    assert observations.shape[0] == 2
    for _ in range(3):
        observations, rewards, *_ = envs.step(envs.action_space.sample() * 0.5)
    assert np.all(np.isfinite(rewards))
    envs.close()


@pytest.mark.parametrize(
    "env_id, kwargs, message",
    [
        ("CarRacingFriction-v0", {"friction": 0.0}, "friction must be a finite number"),
        ("CarRacingFriction-v0", {"friction": -1.0}, "friction must be a finite number"),
        ("CarRacingFriction-v0", {"friction": float("nan")}, "friction must be a finite number"),
        ("CarRacingFriction-v0", {"friction": "slippy"}, "friction must be a number"),
        ("CarRacingFriction-v0", {"side_force": float("inf")}, "side_force must be a finite number"),
        ("CarRacingFriction-v0", {"side_force": 1e6}, r"side_force must be a finite number in \[-100, 100\]"),
        ("AntMorphology-v0", {"ankle_lengths": (0.4, 0.0, 0.4, 0.4)}, "ankle length of front_right"),
        ("AntMorphology-v0", {"ankle_lengths": (0.4, 0.4, 0.4, 50.0)},
         r"back_right must be a finite number in \(0, 1.6\]"),
        ("AntMorphology-v0", {"ankle_lengths": (0.4, 0.4)}, "must have 4 entries"),
        ("AntMorphology-v0", {"ankle_lengths": (0.4, 0.4, float("nan"), 0.4)}, "back_left"),
        ("CarRacingFriction-v0", {"friction": True}, "friction must be a number, got True"),
        ("CarRacingFriction-v0", {"max_negative_steps": 0.5}, "max_negative_steps must be an integer >= 1"),
        ("CarRacingFriction-v0", {"max_negative_steps": 0}, "max_negative_steps must be an integer >= 1"),
        ("CarRacingFriction-v0", {"render_mode": "screen"}, "render_mode must be None or one of"),
        ("AntMorphology-v0", {"ankle_lengths": ("0.4", 0.4, 0.4, 0.4)}, "front_left must be a number"),
        ("AntMorphology-v0", {"burn_in_steps": True}, r"burn_in_steps must be an integer in \[0, 1000\]"),
        ("AntMorphology-v0", {"burn_in_steps": 10**6}, r"burn_in_steps must be an integer in \[0, 1000\], got 1000000"),
        ("AntMorphology-v0", {"render_mode": "screen"}, "render_mode must be None or one of"),
        ("CarRacingFriction-v0", {"friction": 10**400}, "friction must be a finite number, got an integer of 401"),
        ("CarRacingFriction-v0", {"camera": "chase"}, r"camera must be one of \('velocity', 'hull'\)"),
    ],
)
def test_bad_kwargs_raise_value_error_naming_the_value(env_id, kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make(env_id, **kwargs)


@pytest.mark.parametrize(
    "env_id, action, message",
    [
        ("CarRacingDefault-v0", [0.0, float("nan"), 0.0], "must be finite"),
        ("CarRacingDefault-v0", [0.0, 1.5, 0.0], "outside the action space"),
        ("CarRacingDefault-v0", [0.0, 1.0], "must have shape"),
        ("AntDefault-v0", [0.0] * 7 + [float("inf")], "must be finite"),
        ("AntDefault-v0", [0.0] * 7 + [float("nan")], "must be finite"),
        ("AntDefault-v0", [float("nan")] + [2.0] * 7, "must be finite"),
        ("AntDefault-v0", [2.0] + [0.0] * 7, "never clips"),
        ("AntDefault-v0", [0.0] * 9, "must have shape"),
        ("AntDefault-v0", [2.0] + [0.0] * 7, "clip in your agent's act"),
        ("CarRacingDefault-v0", ["0", "1", "0"], "must be an array of real numbers"),
        ("CarRacingDefault-v0", [False, True, False], "must be an array of real numbers"),
        ("CarRacingDefault-v0", np.array([0, 1, 0], dtype=complex), "must be an array of real numbers"),
        ("AntDefault-v0", {"torques": [0.0] * 8}, "must be an array of real numbers"),
    ],
)
def test_bad_actions_raise_instead_of_being_clipped(env_id, action, message):
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(np.array(action))
    env.close()


def test_car_step_none_is_an_action_error_outside_reset():
    """Upstream's reset calls step(None) internally; a user's step(None) is a bad action."""
    env = gym.make("CarRacingDefault-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be an array of real numbers .*, got None"):
        env.step(None)
    env.close()


@pytest.mark.parametrize("env_id", ["AntDefault-v0", "CarRacingDefault-v0"])
def test_unseeded_resets_start_differently(env_id):
    """reset() without a seed draws a random start, as Gymnasium's envs do (seeded ones repeat)."""
    first, second = (gym.make(env_id) for _ in range(2))
    assert not np.array_equal(first.reset()[0], second.reset()[0])
    assert np.array_equal(first.reset(seed=4)[0], second.reset(seed=4)[0])
    first.close()
    second.close()


def test_action_check_agrees_with_checked_action():
    space = gym.spaces.Box(-1.0, 1.0, (8,), np.float32)
    check = ActionCheck(space)
    rng = np.random.default_rng(0)
    actions = [rng.uniform(-1, 1, 8).astype(np.float32), rng.uniform(-1, 1, 8), np.ones(8), [-1] * 8, np.zeros(8, int)]
    for action in actions:
        assert check(action) == checked_action(action, space).tolist()
        assert all(type(value) is float for value in check(action))
    nan = float("nan")
    bad = [[nan] * 8, [0.5, nan] + [0.0] * 6, [-np.inf] + [0.0] * 7, [1.0 + 1e-9] + [0.0] * 7, np.zeros((8, 1))]
    for action in bad:
        with pytest.raises(ValueError) as expected:
            checked_action(action, space)
        with pytest.raises(ValueError, match=re.escape(str(expected.value))):
            check(action)


def test_action_check_refuses_per_dimension_bounds():
    with pytest.raises(ValueError, match="one low and one high bound"):
        ActionCheck(gym.make("CarRacingDefault-v0").action_space)


@pytest.mark.parametrize("env_id, shape", [("CarRacingDefault-v0", (400, 600, 3)), ("AntDefault-v0", (240, 320, 3))])
def test_rgb_array_rendering_works_headless(env_id, shape):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(env.action_space.sample() * 0.5)
    frame = env.render()
    assert frame.shape == shape and frame.dtype == np.uint8
    assert frame.std() > 1.0  # a real picture, not a blank frame
    env.close()


def test_importing_pybullet_through_hebbbench_prints_nothing():
    import subprocess
    import sys

    code = "import gymnasium as gym, hebbbench; env = gym.make('AntDefault-v0'); env.reset(seed=0); env.close()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pybullet build time" not in result.stdout + result.stderr
    assert result.stdout == ""


def test_ant_reset_prints_nothing_to_stdout(capfd):
    env = gym.make("AntDefault-v0")
    env.reset(seed=0)
    env.close()
    assert capfd.readouterr().out == ""  # pybullet's connect would print "argv[0]=" per env


def test_mjcf_cache_folder_is_made_private_and_reused(tmp_path, monkeypatch):
    import os

    from hebbbench.envs.ant_mjcf import ant_mjcf_path

    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    folder = tmp_path / f"hebbbench-mjcf-{os.getuid()}"
    folder.mkdir(mode=0o775)  # as an older hebbbench made it under umask 002
    folder.chmod(0o775)
    path = ant_mjcf_path((0.4, 0.4, 0.4, 0.8))
    assert os.path.dirname(path) == str(folder) and folder.stat().st_mode & 0o777 == 0o700
    assert ant_mjcf_path((0.4, 0.4, 0.4, 0.8)) == path and "0.8" in open(path).read()


@pytest.mark.parametrize("task", list(TASKS))
def test_a_fold_training_env_plays_only_training_variations_seeded(task):
    holdout = variations(task)[1].name
    env = gym.make(f"hebbbench:{TASKS[task].training_id}", holdout=holdout)
    played = []
    for seed in range(12):
        observation, info = env.reset(seed=seed)
        played.append(info["variation"])
        again, info_again = env.reset(seed=seed)
        assert info_again["variation"] == info["variation"]
        np.testing.assert_array_equal(observation, again)  # same seed, same variation and episode
        _, _, _, _, step_info = env.step(env.action_space.sample() * 0)
        assert step_info["variation"] == info["variation"]
    assert holdout not in played
    assert set(played) == {v.name for v in variations(task)} - {holdout}
    assert env.spec.max_episode_steps == TASKS[task].max_episode_steps
    with pytest.raises(ValueError, match="unknown variation"):
        gym.make(TASKS[task].training_id, holdout="upside-down")


@pytest.mark.parametrize("task", list(TASKS))
def test_a_fold_training_env_takes_its_tasks_render_modes_without_a_warning(task, recwarn):
    """gym.make checks render_mode against the entry point's metadata: the fold env's is its
    task's (SB3's make_vec_env asks for rgb_array)."""
    env = gym.make(f"hebbbench:{TASKS[task].training_id}", render_mode="rgb_array")
    assert not [w for w in recwarn if "render_mode" in str(w.message)]
    assert env.unwrapped.metadata == gym.make(variations(task)[0].env_id).unwrapped.metadata
    with pytest.raises(ValueError, match="render_mode"):
        gym.make(f"hebbbench:{TASKS[task].training_id}", render_mode="ascii")


def test_module_prefixed_ids_work_in_async_vector_envs():
    """Subprocess workers import hebbbench through the "hebbbench:" prefix (SB3's
    make_vec_env with SubprocVecEnv needs the same)."""
    envs = gym.make_vec("hebbbench:AntTrain-v0", num_envs=2, vectorization_mode="async")
    observations, infos = envs.reset(seed=5)
    assert observations.shape == (2, 28) and len(infos["variation"]) == 2
    envs.step(np.zeros((2, 8), dtype=np.float32))
    envs.close()


def test_car_training_env_can_switch_the_negative_reward_rule_off():
    env = gym.make("hebbbench:CarRacingTrain-v0", max_negative_steps=None)
    env.reset(seed=0)
    rewards = []
    for _ in range(60):  # standing still: after the start tile, negative reward every step
        _, reward, terminated, truncated, _ = env.step(np.zeros(3, dtype=np.float32))
        rewards.append(reward)
        assert not (terminated or truncated)
    assert all(reward < 0 for reward in rewards[5:])
    ruled = gym.make("CarRacingDefault-v0")
    ruled.reset(seed=0)
    infos = [ruled.step(np.zeros(3, dtype=np.float32))[4] for _ in range(30)]
    assert infos[-1]["truncation_reason"] == "negative_reward_streak"
