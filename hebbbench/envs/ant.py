"""pybullet's Ant with changed ankle lengths, under the benchmark's episode rules."""

from __future__ import annotations

import os
import sys
from typing import Any, Sequence

import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle

# isort: off
from hebbbench.envs.quiet import c_output_silenced  # first: imports pybullet quietly
from pybullet_envs_gymnasium.gym_locomotion_envs import AntBulletEnv
# isort: on

from hebbbench.envs.ant_mjcf import ANKLE_GEOMS, ant_mjcf_path, validate_ankle_lengths
from hebbbench.envs.ant_step import BatchedAntStep
from hebbbench.envs.knobs import ANKLE_LENGTH
from hebbbench.envs.validation import ActionCheck, check_render_mode
from hebbbench.system.checks import int_at_least


class AntMorphologyEnv(AntBulletEnv):
    """pybullet's ``AntBulletEnv-v0`` with one ankle length per leg and benchmark episodes.

    ## Description
    The quadruped of pybullet_envs_gymnasium, its body generated at run time from
    pybullet_data's ``mjcf/ant.xml`` with each lower-leg ("ankle") capsule set to the
    requested extent (see :mod:`hebbbench.envs.ant_mjcf`). The walk target is 1 km along +x.

    ## Observation Space
    ``Box(-5, 5, (28,), float32)``: pybullet's raw ant state (pybullet clips it to
    [-5, 5]; upstream declares +-inf): height change, sin/cos of the angle to the target, body velocity (x0.3),
    roll, pitch, 8 joint (position, speed) pairs, 4 foot contacts.

    ## Action Space
    ``Box(-1, 1, (8,), float32)``: motor torques (x the joint's power). Actions of the wrong
    shape, non-finite or outside [-1, 1] raise ``ValueError`` (never clipped).

    ## Rewards
    Only pybullet's progress term: the decrease of the distance to the target over the
    step, divided by dt = 0.0165 s. The return is therefore about the distance walked
    towards +x divided by 0.0165; ``info["distance"]`` gives it in metres.

    ## Starting State
    ``reset`` places the ant with joint angles U(-0.1, 0.1) from the seed, then runs
    ``burn_in_steps`` (40) zero-action steps so the ant settles; they count toward the
    1000-step limit and their progress is not rewarded.

    ## Episode End
    As the paper's code: the first 201 policy steps never end the episode (a fallen ant
    may get up). From the 202nd policy step on:
    * Termination: pybullet's own end (torso below 0.26 m, or a non-finite state).
    * Truncation: more than 30 consecutive steps of negative progress, counted from
      then on (``info["truncation_reason"] == "no_progress"``).
    And at any time, truncation after 1000 simulation steps including the burn-in, i.e.
    960 policy steps: the registered ``max_episode_steps``, applied by ``gym.make``'s
    ``TimeLimit`` wrapper.

    ## Arguments
    * ``ankle_lengths`` (4 floats, default 0.4 each): ankle extents of the front_left,
      front_right, back_left and back_right legs, each in (0, 1.6].
    * ``render_mode``: ``None``, ``"rgb_array"`` (320x240, works headless) or ``"human"``
      (a pybullet window: needs a display; without one it is a ``ValueError`` and the
      instance's ``metadata["render_modes"]`` leaves it out).
    * ``burn_in_steps`` (int, 40), ``no_progress_grace`` (int, 200) and
      ``no_progress_patience`` (int, 30).

    ```python
    import gymnasium as gym
    import hebbbench  # registers the IDs
    env = gym.make("AntMorphology-v0", ankle_lengths=(0.6, 0.6, 0.4, 0.4))  # as AntLongFront-v0
    ```

    ## Version History
    * v0: first release; pybullet 3.2.7, pybullet_envs_gymnasium 0.6. Steps go through
      :class:`~hebbbench.envs.ant_step.BatchedAntStep` (batched pybullet reads), whose
      observations and progress match upstream's ``step`` to within 1e-6 (measured:
      observations equal, progress within about 1e-11).
    """

    def __init__(
        self,
        ankle_lengths: Sequence[float] = (ANKLE_LENGTH.default,) * len(ANKLE_GEOMS),
        render_mode: str | None = None,
        burn_in_steps: int = 40,
        no_progress_grace: int = 200,
        no_progress_patience: int = 30,
    ) -> None:
        self.ankle_lengths = validate_ankle_lengths(ankle_lengths)
        # The task's 1000 simulation steps bound the burn-in (the paper: 40 of them).
        self.burn_in_steps = int_at_least("burn_in_steps", burn_in_steps, most=1000)
        self.no_progress_grace = int_at_least("no_progress_grace", no_progress_grace)
        self.no_progress_patience = int_at_least("no_progress_patience", no_progress_patience)
        check_render_mode(render_mode, self.metadata["render_modes"])
        headless = sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
        if render_mode == "human" and headless:
            # pybullet's GUI would end the whole process ("cannot connect to X server").
            raise ValueError("render_mode='human' opens a pybullet window, which needs a display, but DISPLAY "
                             "is not set; use render_mode='rgb_array' (works headless) or run under a display")
        super().__init__(render_mode=render_mode)
        if headless:  # what this env can render here (Gymnasium's check_env tries every listed mode)
            modes = [mode for mode in self.metadata["render_modes"] if mode != "human"]
            self.metadata = {**self.metadata, "render_modes": modes}
        EzPickle.__init__(
            self, self.ankle_lengths, render_mode, burn_in_steps, no_progress_grace, no_progress_patience
        )
        self.robot.model_xml = ant_mjcf_path(self.ankle_lengths)
        # pybullet clips every state entry to [-5, 5]; say so instead of upstream's +-inf.
        self.observation_space = spaces.Box(-5.0, 5.0, self.observation_space.shape, np.float32)
        self._policy_steps = 0
        self._negative_streak = 0
        self._distance = 0.0
        self._batched_step: BatchedAntStep | None = None
        self._checked_action = ActionCheck(self.action_space)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if self.stateId < 0:
            # The first reset loads the body and saves the initial state; every later
            # reset restores that state first. Prime once so that every episode, the
            # first one included, starts through the same restore path (otherwise the
            # first episode of a process differs from later ones with the same seed).
            # The caller's seed (None: a random one) seeds the generator, as any reset would.
            with c_output_silenced(1):  # pybullet's connect prints "argv[0]=" per env
                super().reset(seed=seed)
        observation, _ = super().reset(seed=seed, options=options)
        self._batched_step = BatchedAntStep(self)
        zero_action = [0.0] * self.action_space.shape[0]
        for _ in range(self.burn_in_steps):
            observation, _, _ = self._batched_step.step(zero_action)
        self._policy_steps = 0
        self._negative_streak = 0
        self._distance = 0.0
        return observation, {"distance": 0.0}

    def step(self, action: Any):
        if self._batched_step is None:
            raise RuntimeError("call reset() before step()")
        observation, progress, pybullet_done = self._batched_step.step(self._checked_action(action))
        rules_active = self._policy_steps > self.no_progress_grace  # as the reference: after 200 prior steps
        self._policy_steps += 1
        self._distance += progress * self.scene.dt
        info: dict[str, Any] = {"distance": self._distance}
        terminated = truncated = False
        if rules_active:
            self._negative_streak = self._negative_streak + 1 if progress < 0 else 0
            terminated = bool(pybullet_done)
            if not terminated and self._negative_streak > self.no_progress_patience:
                truncated, info["truncation_reason"] = True, "no_progress"
        return observation, progress, terminated, truncated, info
