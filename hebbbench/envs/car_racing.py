"""CarRacing with changed tyre friction and a sideways push, under the benchmark's episode rules."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium.envs.box2d.car_racing import CarRacing
from gymnasium.utils import EzPickle

from hebbbench.envs.car_dynamics import VariedCar
from hebbbench.envs.car_render import StatePixelRenderer
from hebbbench.envs.headless import choose_headless_video_driver
from hebbbench.envs.knobs import CAMERA, FRICTION, SIDE_FORCE
from hebbbench.envs.validation import check_render_mode, checked_action
from hebbbench.system.checks import int_at_least

choose_headless_video_driver()  # no "XDG_RUNTIME_DIR is invalid" on stderr when SDL starts without a display

#: Observation renderers: hebbbench's fast one (default) and upstream's pygame one.
RENDER_BACKENDS = ("fast", "reference")
#: Above this speed (world units per second) gym 0.17's camera follows the velocity.
VELOCITY_CAMERA_MIN_SPEED = 0.5


class _CameraHull:
    """The car's hull as upstream's renderer reads it, with ``angle`` replaced by the camera's.

    Upstream's ``_render`` turns the world by ``-car.hull.angle``; while it draws, the car's
    ``hull`` attribute is this stand-in, so it turns by the camera's angle instead. Every
    other attribute (position, velocities) is the real hull's.
    """

    def __init__(self, hull: Any, angle: float) -> None:
        self._hull, self.angle = hull, angle

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hull, name)


class CarRacingVariationEnv(CarRacing):
    """Gymnasium's CarRacing (v3 dynamics) with a friction multiplier and a sideways push.

    ## Description
    The top-down Box2D racing task of Gymnasium's ``CarRacing-v3``, with the two knobs of
    Palm, Najarro & Risi (2021): ``friction`` scales every tyre's friction limit (on road
    and on grass) and ``side_force`` is added to every wheel's lateral slip force, a
    constant push sideways in the car's frame. With ``friction=1`` and ``side_force=0`` the
    physics and rewards are exactly ``CarRacing-v3``'s, and so are the episode ends when
    ``max_negative_steps`` exceeds the episode length (the benchmark's default of 20 adds
    a truncation upstream does not have); the observations are too with
    ``camera="hull"`` and ``render_backend="reference"``. The camera is the paper's by
    default (``camera="velocity"``, gym 0.17's): above speed 0.5 the view turns to the
    car's direction of travel, ``atan2(v_x, v_y)``, instead of its heading; on the pushed
    and low-friction variations the car then drives at an angle to the road ahead. The
    track is generated from the reset seed. As in ``CarRacing-v3``, the lap counts as
    complete when the car is back on the start tile with more than 95% of the tiles
    visited (gym 0.17, which the paper used, required every tile); an agent that skips up
    to 5% of the tiles loses their reward but not its lap.

    ## Observation Space
    ``Box(0, 255, (96, 96, 3), uint8)``: Gymnasium's native top-down RGB frame. By default
    it is drawn by :class:`~hebbbench.envs.car_render.StatePixelRenderer` (much faster;
    pixels on average within about half an intensity level of the reference renderer's);
    ``render_backend="reference"`` draws it with upstream's pygame code, pixel for pixel.

    ## Action Space
    ``Box([-1, 0, 0], [1, 1, 1], (3,), float32)``: steer (-1 is full left), gas, brake.
    Actions of the wrong shape, non-finite or outside the bounds raise ``ValueError``
    (never clipped).

    ## Rewards
    Upstream's: -0.1 every step and +1000/N for each of the N track tiles visited for the
    first time; -100 on the step the car leaves the playfield.

    ## Starting State
    The car stands still on the first tile of a closed track generated from the reset
    seed, pointing along the track; the view zooms in over the first second.

    ## Episode End
    * Termination: the lap is complete, or the car leaves the playfield (reward -100).
    * Truncation: ``max_negative_steps`` (20) consecutive steps with negative reward
      (``info["truncation_reason"] == "negative_reward_streak"``), or 1000 steps: the
      registered ``max_episode_steps``, applied by ``gym.make``'s ``TimeLimit`` wrapper
      (``gym.make(ID, max_episode_steps=K)`` changes it).

    ## Arguments
    * ``friction``, ``side_force``, ``camera``: the variation knobs, declared with their
      defaults, bounds and meanings in :mod:`hebbbench.envs.knobs` (``hebbbench envs``
      lists them): ``friction`` (1.0, in (0, 10]) scales the tyre friction limit;
      ``side_force`` (0.0, in [-100, 100]) is added to each wheel's lateral slip force.
    * ``render_mode``: ``None``, ``"rgb_array"`` (600x400 frame) or ``"human"``; these
      always use upstream's renderer.
    * ``render_backend`` (``"fast"`` or ``"reference"``, default ``"fast"``): who draws
      the observation.
    * ``max_negative_steps`` (int >= 1, default 20; ``None`` switches the rule off, e.g.
      for RL training, where it ends almost every early episode after ~21 steps).
    * ``camera`` (``"velocity"`` or ``"hull"``, default ``"velocity"``): what the view
      follows, for the observation and every render mode (see Description).

    ```python
    import gymnasium as gym
    import hebbbench  # registers the IDs
    env = gym.make("CarRacingFriction-v0", friction=0.5, side_force=10.0, camera="velocity")
    ```

    ## Version History
    * v0: first release; dynamics of Gymnasium 1.4 ``CarRacing-v3``; fast observation
      renderer by default (``render_backend``). hebbbench 0.2 (protocol 2): the
      paper's velocity camera by default (``camera``); 0.1 always used the hull's.
    """

    def __init__(
        self,
        friction: float = 1.0,
        side_force: float = 0.0,
        render_mode: str | None = None,
        max_negative_steps: int | None = 20,
        render_backend: str = "fast",
        camera: str = "velocity",
    ) -> None:
        self.friction = FRICTION.check(friction)
        self.side_force = SIDE_FORCE.check(side_force)
        self.max_negative_steps = (None if max_negative_steps is None
                                   else int_at_least("max_negative_steps", max_negative_steps, 1))
        check_render_mode(render_mode, self.metadata["render_modes"])
        if render_backend not in RENDER_BACKENDS:
            raise ValueError(f"render_backend must be one of {RENDER_BACKENDS}, got {render_backend!r}")
        self.render_backend = render_backend
        self.camera = CAMERA.check(camera)
        self._renderer = StatePixelRenderer() if render_backend == "fast" else None
        super().__init__(render_mode=render_mode, continuous=True, domain_randomize=False)
        EzPickle.__init__(self, friction, side_force, render_mode, max_negative_steps, render_backend, camera)
        self._negative_streak = 0
        self._resetting = False
        # The seed the current track was generated from (None: unseeded), and what the
        # track looked like when new: road_poly, each tile's colour, the RNG state after it.
        self._track_seed: int | None = None
        self._new_track: tuple[list, list[np.ndarray], dict] | None = None
        self._reuse_track = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Upstream's reset. A reset with the seed of the current track keeps that track's
        Box2D tiles and restores them as new (unvisited, original colours, the RNG where
        track generation left it) instead of generating them again: the same episode
        (tested), without the track's generation, which costs most of a reset; a training
        generation resets every env of a variation with one seed."""
        self._negative_streak = 0
        self._resetting = True
        self._reuse_track = seed is not None and seed == self._track_seed and bool(self.road)
        self._track_seed = None
        try:
            observation, info = super().reset(seed=seed, options=options)
        finally:
            self._resetting = self._reuse_track = False
        self._track_seed = seed
        return observation, info

    def _destroy(self) -> None:
        if self._reuse_track:
            self.car.destroy()
        else:
            super()._destroy()

    def _create_track(self) -> bool:
        if not self._reuse_track:
            created = super()._create_track()
            if created:
                self._new_track = (self.road_poly, [np.array(tile.color) for tile in self.road],
                                   self.np_random.bit_generator.state)
            return created
        # Upstream's FrictionDetector repaints touched tiles in place (also when the old car
        # is destroyed) and marks them visited: undo both on the kept tiles.
        self.road_poly, colors, rng_state = self._new_track
        for tile, color in zip(self.road, colors):
            tile.road_visited = False
            tile.color[:] = color
        self.np_random.bit_generator.state = rng_state
        return True

    def step(self, action: Any):
        if action is None and self._resetting:
            # Upstream's reset() builds a plain Car, then calls step(None) before any
            # physics tick: the moment to give that car this variation's tyre forces.
            VariedCar.specialise(self.car, self.friction, self.side_force)
            if self._renderer is not None:
                self._renderer.reset(self, same_track=self._reuse_track)
            return super().step(None)
        observation, reward, terminated, truncated, info = super().step(
            checked_action(action, self.action_space)
        )
        self._negative_streak = self._negative_streak + 1 if reward < 0 else 0
        limit = self.max_negative_steps
        if not terminated and limit is not None and self._negative_streak >= limit:
            truncated, info["truncation_reason"] = True, "negative_reward_streak"
        return observation, reward, terminated, truncated, info

    def camera_angle(self) -> float:
        """The angle (radians) the view turns the world by: ``-hull.angle``, or with the
        velocity camera above speed 0.5, ``atan2(v_x, v_y)`` (gym 0.17's rule)."""
        hull = self.car.hull
        if self.camera == "velocity":
            vx, vy = hull.linearVelocity
            if math.hypot(vx, vy) > VELOCITY_CAMERA_MIN_SPEED:
                return math.atan2(vx, vy)
        return -hull.angle

    def _render(self, mode: str):
        """Upstream's renderer, except the ``state_pixels`` observation under ``"fast"``;
        both turn the view by :meth:`camera_angle`."""
        if mode == "state_pixels" and self._renderer is not None:
            return self._renderer.render(self)
        if self.camera == "hull" or self.car is None:
            return super()._render(mode)
        hull = self.car.hull
        self.car.hull = _CameraHull(hull, -self.camera_angle())
        try:
            return super()._render(mode)
        finally:
            self.car.hull = hull
