"""Car dynamics with a tyre-friction multiplier and a constant sideways push.

Gymnasium's :class:`~gymnasium.envs.box2d.car_dynamics.Car` computes, per wheel and per
tick, a longitudinal force from the wheel-spin/ground speed difference and a lateral
force opposing the sideways slip, then clamps their norm to a friction limit. The paper's
variations change exactly two things in that computation (reference setup, "CarRacing"):

* ``friction`` multiplies the friction limit, on road (``FRICTION_LIMIT * road_friction``)
  and on grass (``0.6 * FRICTION_LIMIT``);
* ``side_force`` is added to the lateral slip force before scaling and clamping
  (``p_force = -v_side + side_force``, in the wheel's frame whose +x points right of
  forward): +10 pushes the car right, -10 pushes it left.

With ``friction=1`` and ``side_force=0`` the arithmetic is the same as upstream's, term for
term, so the default variation reproduces ``CarRacing-v3`` exactly.
"""

from __future__ import annotations

import math

from gymnasium.envs.box2d import car_dynamics as upstream

# Upstream constants, read (not copied) so a Gymnasium change stays visible here.
_SIZE = upstream.SIZE
_ENGINE_POWER = upstream.ENGINE_POWER
_WHEEL_MOMENT_OF_INERTIA = upstream.WHEEL_MOMENT_OF_INERTIA
_FRICTION_LIMIT = upstream.FRICTION_LIMIT
_GRASS_FRICTION_FACTOR = 0.6
_SLIP_FORCE_GAIN = 205000 * _SIZE * _SIZE  # upstream's oscillation-damping coefficient
_BRAKE_LOCK = 0.9  # brake at or above this locks the wheel
_BRAKE_FORCE = 15.0  # rad/s removed per tick at full brake
_STEER_GAIN, _STEER_MAX_SPEED = 50.0, 3.0
_OMEGA_SOFTENING = 5.0  # avoids dividing by zero wheel speed


class VariedCar(upstream.Car):
    """Upstream's car whose per-wheel tyre forces honour ``friction`` and ``side_force``.

    Instances are created by upstream's ``CarRacing.reset`` as plain ``Car`` objects and
    specialised in place with :meth:`specialise`, so the Box2D bodies, their creation order
    and hence the contact ordering are exactly upstream's.
    """

    friction: float = 1.0
    side_force: float = 0.0

    @classmethod
    def specialise(cls, car: upstream.Car, friction: float, side_force: float) -> "VariedCar":
        """Turn an upstream ``Car`` into a ``VariedCar`` without touching its bodies."""
        car.__class__ = cls
        assert isinstance(car, VariedCar)
        car.friction = friction
        car.side_force = side_force
        return car

    def gas(self, gas: float) -> None:
        """Upstream's rear-wheel drive control, without ``np.clip``'s per-call cost: ``gas``
        clipped to [0, 1]; each rear wheel's throttle rises by at most 0.1 per call and
        drops at once."""
        gas = min(max(gas, 0.0), 1.0)
        for wheel in self.wheels[2:4]:
            diff = gas - wheel.gas
            if diff > 0.1:
                diff = 0.1
            wheel.gas += diff

    def step(self, dt: float) -> None:
        """Advance wheel spin and apply tyre forces for one tick of ``dt`` seconds."""
        for wheel in self.wheels:
            self._steer_wheel(wheel)
            friction_limit, on_grass = self._friction_limit(wheel)
            forward = wheel.GetWorldVector((0, 1))
            side = wheel.GetWorldVector((1, 0))
            velocity = wheel.linearVelocity
            v_forward = forward[0] * velocity[0] + forward[1] * velocity[1]
            v_side = side[0] * velocity[0] + side[1] * velocity[1]

            self._spin_wheel(wheel, dt)

            f_force = (-v_forward + wheel.omega * wheel.wheel_rad) * _SLIP_FORCE_GAIN
            p_force = (-v_side + self.side_force) * _SLIP_FORCE_GAIN
            force = math.sqrt(f_force * f_force + p_force * p_force)  # = upstream's np.sqrt(np.square ...)
            self._trace_skid(wheel, force, friction_limit, on_grass)
            if abs(force) > friction_limit:
                f_force = f_force / force * friction_limit
                p_force = p_force / force * friction_limit

            wheel.omega -= dt * f_force * wheel.wheel_rad / _WHEEL_MOMENT_OF_INERTIA
            wheel.ApplyForceToCenter(
                (p_force * side[0] + f_force * forward[0], p_force * side[1] + f_force * forward[1]),
                True,
            )

    @staticmethod
    def _steer_wheel(wheel) -> None:
        error = wheel.steer - wheel.joint.angle
        wheel.joint.motorSpeed = _sign(error) * min(_STEER_GAIN * abs(error), _STEER_MAX_SPEED)

    def _friction_limit(self, wheel) -> tuple[float, bool]:
        """(friction limit in N, whether the wheel is on grass) under this car's multiplier."""
        limit = _FRICTION_LIMIT * _GRASS_FRICTION_FACTOR
        for tile in wheel.tiles:
            limit = max(limit, _FRICTION_LIMIT * tile.road_friction)
        return limit * self.friction, not wheel.tiles

    def _spin_wheel(self, wheel, dt: float) -> None:
        """Engine torque and brakes change the wheel's angular speed ``omega`` (rad/s)."""
        wheel.omega += dt * _ENGINE_POWER * wheel.gas / _WHEEL_MOMENT_OF_INERTIA / (
            abs(wheel.omega) + _OMEGA_SOFTENING
        )
        self.fuel_spent += dt * _ENGINE_POWER * wheel.gas
        if wheel.brake >= _BRAKE_LOCK:
            wheel.omega = 0
        elif wheel.brake > 0:
            braking = min(_BRAKE_FORCE * wheel.brake, abs(wheel.omega))
            wheel.omega += -_sign(wheel.omega) * braking
        wheel.phase += wheel.omega * dt

    def _trace_skid(self, wheel, force: float, friction_limit: float, on_grass: bool) -> None:
        """Skid-mark particles, drawn by the renderer when a wheel slips hard."""
        if abs(force) <= 2.0 * friction_limit:
            wheel.skid_start = None
            wheel.skid_particle = None
        elif wheel.skid_particle and wheel.skid_particle.grass == on_grass and len(wheel.skid_particle.poly) < 30:
            wheel.skid_particle.poly.append((wheel.position[0], wheel.position[1]))
        elif wheel.skid_start is None:
            wheel.skid_start = wheel.position
        else:
            wheel.skid_particle = self._create_particle(wheel.skid_start, wheel.position, on_grass)
            wheel.skid_start = None


def _sign(value: float) -> float:
    """-1.0, 0.0 or 1.0: ``np.sign`` for a float, without numpy's per-call cost."""
    return 1.0 if value > 0 else (-1.0 if value < 0 else 0.0)
