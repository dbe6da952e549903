"""The car env on a machine without a display: SDL starts quietly, a user's own driver is kept."""

from __future__ import annotations

import os
import subprocess
import sys

from hebbbench.envs.headless import HEADLESS_DRIVER, choose_headless_video_driver

#: Create, step and render car envs (the "human" mode starts SDL's video), then print the driver.
SCRIPT = """
import gymnasium as gym
import pygame

import hebbbench

for mode in (None, "rgb_array", "human"):
    env = gym.make("CarRacingDefault-v0", render_mode=mode)
    env.reset(seed=0)
    for _ in range(3):
        env.step(env.action_space.sample())
    if mode is not None:
        env.render()
    driver = pygame.display.get_driver() if pygame.display.get_init() else None
    env.close()
print(driver)
"""


def _run_headless(**environ: str) -> subprocess.CompletedProcess:
    """SCRIPT in a fresh Python as on a headless server (no display, no XDG_RUNTIME_DIR), plus ``environ``."""
    unset = ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER", "XDG_RUNTIME_DIR")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(environ)
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)


def test_creating_stepping_and_rendering_a_car_env_without_a_display_leaves_stderr_free_of_sdl_noise():
    done = _run_headless()
    assert done.returncode == 0, done.stderr[-2000:]
    assert "XDG_RUNTIME_DIR" not in done.stderr, done.stderr
    assert done.stdout.split()[-1] == HEADLESS_DRIVER


def test_a_video_driver_the_user_chose_is_kept():
    done = _run_headless(SDL_VIDEODRIVER="dummy")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "dummy"


def test_a_display_or_a_chosen_driver_leaves_the_environment_unchanged():
    for environ in ({"DISPLAY": ":0"}, {"WAYLAND_DISPLAY": "wayland-0"}, {"SDL_VIDEODRIVER": "x11"}):
        before = dict(environ)
        assert choose_headless_video_driver(environ) is None and environ == before
    headless: dict[str, str] = {}
    assert choose_headless_video_driver(headless) == HEADLESS_DRIVER and headless == {"SDL_VIDEODRIVER": "offscreen"}
