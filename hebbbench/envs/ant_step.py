"""One pybullet ant step with batched state reads: upstream's numbers, fewer Python calls.

pybullet_envs_gymnasium's ``WalkerBaseBulletEnv.step`` spends most of its time outside
the physics: it sets 8 joint torques one call at a time, then reads 8 joint states, 22
part poses (one ``getLinkState`` each, through per-part Python objects), the torso pose
twice more and 4 foot contact lists. :class:`BatchedAntStep` does the same work with one
``setJointMotorControlArray``, one ``getJointStates``, one ``getLinkStates``, one base
pose, one base velocity and one contact query, then evaluates upstream's formulas
(``WalkerBase.calc_state``, ``calc_potential`` and the reward terms of ``step``) in Python
floats instead of many tiny numpy calls. The physics is untouched; observations come out
equal to upstream's and progress within about 1e-11 (sums and norms round differently in
the last bit), checked against ``AntBulletEnv-v0`` in ``tests/test_fast_ant.py``.

The physics call is the same as upstream's; the rest of a step is kept small (its cost
is measured in ``benchmarks/test_env_throughput.py``, results in docs/environments.md). Just after the physics
has evicted the caches, numpy calls cost far more than in a warm micro-benchmark, so the
per-step code keeps to Python floats and C-level ``map``/``sum``.
"""

from __future__ import annotations

import math
from operator import itemgetter, mul

import numpy as np
import pybullet

#: Upstream's reward weights (``WalkerBaseBulletEnv``), read from the class at bind time.
_REWARD_TERMS = ("electricity_cost", "stall_torque_cost", "joints_at_limit_cost")
#: Upstream counts a joint at its limit when |scaled position| > 0.99, compared in float32.
_AT_LIMIT = float(np.float32(0.99))
_POSITION = itemgetter(0)  # linkWorldPosition of a getLinkStates entry


class BatchedAntStep:
    """Advances a reset ``WalkerBaseBulletEnv`` by one step the way upstream's ``step`` does.

    Bind it after every ``reset`` (the robot's joint and part tables are rebuilt there).
    :meth:`step` applies an action already validated to lie in [-1, 1] and returns the
    observation (``float32``, shape ``(28,)``), the progress reward and upstream's ``done``;
    it leaves the same attributes on the env and robot as upstream (``rewards``,
    ``potential``, ``_alive``, ``robot.feet_contact``, ``robot.body_xyz``,
    ``robot.body_rpy``, ...).
    """

    def __init__(self, env) -> None:
        robot = env.robot
        self._env = env
        self._robot = robot
        self._client = env._p._client
        body = robot.robot_body.bodies[robot.robot_body.bodyIndex]
        self._body = body
        joints = robot.ordered_joints
        if any(j.bodies[j.bodyIndex] != body for j in joints):
            raise ValueError("every motor joint must belong to the robot's body")
        self._joint_indices = [j.jointIndex for j in joints]
        self._joint_lower = [j.lowerLimit for j in joints]
        self._joint_range = [j.upperLimit - j.lowerLimit for j in joints]
        self._torque_scale = [robot.power * j.power_coef for j in joints]
        # Upstream's body x, y: the mean position of every part (``robot.parts``), links
        # read each step, the torso base as many times as it is a part, other bodies (the
        # static floor) once.
        parts = list(robot.parts.values())
        self._n_parts = len(parts)
        self._link_indices, self._base_count, static = [], 0, []
        for part in parts:
            part_body = part.bodies[part.bodyIndex]
            if part_body == body and part.bodyPartIndex >= 0:
                self._link_indices.append(part.bodyPartIndex)
            elif part_body == body:
                self._base_count += 1
            else:
                static.append(part.current_position().tolist())
        self._static_x = sum(position[0] for position in static)
        self._static_y = sum(position[1] for position in static)
        if robot.robot_body.bodyPartIndex != -1:
            raise ValueError("the robot's root part must be its base")
        # Feet touch the ground when a contact joins a foot link and a ground (body, link).
        self._foot_links = [foot.bodyPartIndex for foot in robot.feet]
        if any(foot.bodies[foot.bodyIndex] != body for foot in robot.feet):
            raise ValueError("every foot must belong to the robot's body")
        self._ground_links: dict[int, set[int]] = {}
        for ground_body, ground_link in env.ground_ids:
            self._ground_links.setdefault(ground_body, set()).add(ground_link)
        # The feet entries of the state, as floats; robot.feet_contact mirrors them.
        self._feet_contact = robot.feet_contact.tolist()
        self._alive_height = 0.26  # Ant.alive_bonus: +1 while the torso is above 0.26 m
        if robot.alive_bonus(self._alive_height + 1e-9, 0.0) != 1 or robot.alive_bonus(self._alive_height, 0.0) != -1:
            raise ValueError("this robot's alive_bonus is not the ant's torso-height rule")
        self._dt = env.scene.dt
        self._electricity, self._stall_torque, self._at_limit = (getattr(env, name) for name in _REWARD_TERMS)

    def step(self, actions: list[float]) -> tuple[np.ndarray, float, bool]:
        """Apply ``actions`` (8 floats in [-1, 1]), simulate; return (state, progress, done).

        ``progress`` is upstream's ``rewards[1]``: the decrease of the distance to the walk
        target over the step (m) divided by dt (0.0165 s).
        """
        env, robot, client = self._env, self._robot, self._client
        pybullet.setJointMotorControlArray(
            self._body,
            self._joint_indices,
            pybullet.TORQUE_CONTROL,
            forces=[scale * a for scale, a in zip(self._torque_scale, actions)],  # power * power_coef * a
            physicsClientId=client,
        )
        pybullet.stepSimulation(physicsClientId=client)  # upstream: scene.global_step()
        state, height, finite, scaled_positions, speeds = self._state()

        alive = 1.0 if height + robot.initial_z > self._alive_height else -1.0
        env._alive = alive
        done = alive < 0 or not finite
        potential_old = env.potential
        env.potential = potential = -robot.walk_target_dist / self._dt  # upstream: robot.calc_potential()
        progress = float(potential - potential_old)
        self._update_feet_contact()

        # Upstream's cost terms, from the float32 joint entries of the state as upstream.
        # (map keeps the loops in C: this runs at every step, just after the physics.)
        electricity_cost = self._electricity * sum(map(abs, map(mul, actions, speeds))) / len(speeds)
        electricity_cost += self._stall_torque * sum(map(mul, actions, actions)) / len(actions)
        joints_at_limit = sum(map(_AT_LIMIT.__lt__, map(abs, scaled_positions)))  # |position| > 0.99
        robot.joints_at_limit = joints_at_limit
        env.rewards = rewards = [alive, progress, electricity_cost, float(self._at_limit * joints_at_limit), 0.0]
        env.reward += sum(rewards)
        return state, progress, done

    def _state(self) -> tuple[np.ndarray, float, bool, list[float], list[float]]:
        """Upstream's ``WalkerBase.calc_state`` from batched reads, in Python floats.

        Returns the state (float32, (28,)), its first entry (the torso height change, m),
        whether every entry is finite, and the joint positions scaled to [-1, 1] and joint
        speeds x0.1 as the float32 values upstream keeps for its cost terms.
        Upstream's numpy means, norm and 3x3 rotation become Python sums, ``math.hypot``
        and two products: the same formulas, rounded differently in the last bit.
        """
        robot, client, body = self._robot, self._client, self._body
        joint_states = pybullet.getJointStates(body, self._joint_indices, physicsClientId=client)
        j = []
        for (position, speed, _, _), lower, span in zip(joint_states, self._joint_lower, self._joint_range):
            j += (2 * (position - lower) / span - 1.0, 0.1 * speed)  # position scaled to [-1, 1] between limits

        link_states = pybullet.getLinkStates(body, self._link_indices, physicsClientId=client)
        torso_xyz, torso_orientation = pybullet.getBasePositionAndOrientation(body, physicsClientId=client)
        # Mean x and y over all parts (links, the torso as often as it is a part, the floor).
        link_x, link_y, _ = zip(*map(_POSITION, link_states))
        n_parts = self._n_parts
        x = (sum(link_x) + self._base_count * torso_xyz[0] + self._static_x) / n_parts
        y = (sum(link_y) + self._base_count * torso_xyz[1] + self._static_y) / n_parts
        z = torso_xyz[2]
        robot.body_xyz = (x, y, z)
        robot.body_real_xyz = torso_xyz
        robot.body_rpy = r, p, yaw = pybullet.getEulerFromQuaternion(torso_orientation)
        dy, dx = robot.walk_target_y - y, robot.walk_target_x - x
        robot.walk_target_theta = math.atan2(dy, dx)
        robot.walk_target_dist = math.hypot(dy, dx)
        angle_to_target = robot.walk_target_theta - yaw

        (vx, vy, vz), _ = pybullet.getBaseVelocity(body, physicsClientId=client)
        cos_yaw, sin_yaw = math.cos(-yaw), math.sin(-yaw)
        vx, vy = cos_yaw * vx - sin_yaw * vy, sin_yaw * vx + cos_yaw * vy  # velocity in the yaw frame

        values = [z - robot.initial_z, math.sin(angle_to_target), math.cos(angle_to_target),
                  0.3 * vx, 0.3 * vy, 0.3 * vz, r, p]
        values += j
        values += self._feet_contact
        state = np.array(values, dtype=np.float32)
        rounded = state.tolist()  # upstream keeps the unclipped float32 joint entries
        j32 = rounded[8:24]
        robot.joint_speeds = speeds = j32[1::2]
        # Upstream clips the state to [-5, 5] and ends the episode if an entry is NaN. Most
        # steps need neither, which plain min, max and sum tell (a NaN makes the sum NaN).
        if math.isfinite(sum(values)) and -5.0 <= min(values) and max(values) <= 5.0:
            return state, rounded[0], True, j32[0::2], speeds
        np.minimum(np.maximum(state, -5, out=state), 5, out=state)  # = np.clip(state, -5, 5)
        # Clipped, the state is NaN exactly where an entry is NaN, and so is its sum.
        return state, float(state[0]), math.isfinite(np.add.reduce(state)), j32[0::2], speeds

    def _update_feet_contact(self) -> None:
        """``robot.feet_contact[i]`` = 1.0 if foot ``i`` touches a ground (body, link), else 0.0."""
        touching = set()
        for ground_body, ground_links in self._ground_links.items():
            contacts = pybullet.getContactPoints(bodyA=self._body, bodyB=ground_body, physicsClientId=self._client)
            touching.update([contact[3] for contact in contacts if contact[4] in ground_links])  # (linkA, linkB)
        feet_contact = list(map(float, map(touching.__contains__, self._foot_links)))  # 1.0 or 0.0
        if feet_contact != self._feet_contact:
            self._feet_contact = feet_contact
            self._robot.feet_contact[:] = feet_contact
