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
"""

from __future__ import annotations

import math

import numpy as np
import pybullet

#: Upstream's reward weights (``WalkerBaseBulletEnv``), read from the class at bind time.
_REWARD_TERMS = ("electricity_cost", "stall_torque_cost", "joints_at_limit_cost")
#: Upstream counts a joint at its limit when |scaled position| > 0.99, compared in float32.
_AT_LIMIT = float(np.float32(0.99))


class BatchedAntStep:
    """Advances a reset ``WalkerBaseBulletEnv`` by one step the way upstream's ``step`` does.

    Bind it after every ``reset`` (the robot's joint and part tables are rebuilt there).
    :meth:`step` applies an action already validated to lie in [-1, 1] and returns the
    observation (``float32``, shape ``(28,)``) and upstream's ``done``; it leaves the same
    attributes on the env and robot as upstream (``rewards``, ``potential``, ``_alive``,
    ``robot.feet_contact``, ``robot.body_xyz``, ``robot.body_rpy``, ...).
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
        self._alive_height = 0.26  # Ant.alive_bonus: +1 while the torso is above 0.26 m
        if robot.alive_bonus(self._alive_height + 1e-9, 0.0) != 1 or robot.alive_bonus(self._alive_height, 0.0) != -1:
            raise ValueError("this robot's alive_bonus is not the ant's torso-height rule")
        self._dt = env.scene.dt
        self._weights = {name: getattr(env, name) for name in _REWARD_TERMS}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, bool]:
        """Apply ``action`` (float64, shape ``(8,)``, in [-1, 1]), simulate, return (state, done)."""
        env, robot, client = self._env, self._robot, self._client
        actions = action.tolist()
        pybullet.setJointMotorControlArray(
            self._body,
            self._joint_indices,
            pybullet.TORQUE_CONTROL,
            forces=[scale * a for scale, a in zip(self._torque_scale, actions)],  # power * power_coef * a
            physicsClientId=client,
        )
        pybullet.stepSimulation(physicsClientId=client)  # upstream: scene.global_step()
        state, scaled_positions, speeds = self._state()

        alive = 1.0 if float(state[0]) + robot.initial_z > self._alive_height else -1.0
        env._alive = alive
        # The state is clipped to [-5, 5], so its sum is NaN exactly when an entry is.
        done = alive < 0 or not math.isfinite(float(np.add.reduce(state)))
        potential_old = env.potential
        env.potential = -robot.walk_target_dist / self._dt  # upstream: robot.calc_potential()
        progress = float(env.potential - potential_old)
        self._update_feet_contact()

        # Upstream's cost terms, from the float32 joint entries of the state as upstream.
        weights = self._weights
        electricity_cost = weights["electricity_cost"] * sum(abs(a * v) for a, v in zip(actions, speeds)) / len(speeds)
        electricity_cost += weights["stall_torque_cost"] * sum(a * a for a in actions) / len(actions)
        joints_at_limit = sum(1 for position in scaled_positions if abs(position) > _AT_LIMIT)
        robot.joints_at_limit = joints_at_limit
        joints_at_limit_cost = float(weights["joints_at_limit_cost"] * joints_at_limit)
        env.rewards = [alive, progress, electricity_cost, joints_at_limit_cost, 0.0]
        env.reward += sum(env.rewards)
        return state, done

    def _state(self) -> tuple[np.ndarray, list[float], list[float]]:
        """Upstream's ``WalkerBase.calc_state`` from batched reads, in Python floats.

        Returns the state (float32, (28,)) and the joint positions scaled to [-1, 1] and
        joint speeds x0.1, as the float32 values upstream keeps for its cost terms.
        Upstream's numpy means, norm and 3x3 rotation become Python sums, ``math.hypot``
        and two products: the same formulas, rounded differently in the last bit.
        """
        robot, client, body = self._robot, self._client, self._body
        joint_states = pybullet.getJointStates(body, self._joint_indices, physicsClientId=client)
        j = []
        for (position, speed, _, _), lower, span in zip(joint_states, self._joint_lower, self._joint_range):
            j.append(2 * (position - lower) / span - 1.0)  # position scaled to [-1, 1] between limits
            j.append(0.1 * speed)

        link_states = pybullet.getLinkStates(body, self._link_indices, physicsClientId=client)
        torso_xyz, torso_orientation = pybullet.getBasePositionAndOrientation(body, physicsClientId=client)
        # Mean x and y over all parts (links, the torso as often as it is a part, the floor).
        n_parts = self._n_parts
        x = (sum(s[0][0] for s in link_states) + self._base_count * torso_xyz[0] + self._static_x) / n_parts
        y = (sum(s[0][1] for s in link_states) + self._base_count * torso_xyz[1] + self._static_y) / n_parts
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

        more = [z - robot.initial_z, math.sin(angle_to_target), math.cos(angle_to_target), 0.3 * vx, 0.3 * vy, 0.3 * vz, r, p]
        state = np.array(more + j + robot.feet_contact.tolist(), dtype=np.float32)
        j32 = state[8:24].tolist()  # upstream keeps the unclipped float32 joint entries
        robot.joint_speeds = j32[1::2]
        np.minimum(np.maximum(state, -5, out=state), 5, out=state)  # = np.clip(state, -5, 5)
        return state, j32[0::2], j32[1::2]

    def _update_feet_contact(self) -> None:
        """``robot.feet_contact[i]`` = 1.0 if foot ``i`` touches a ground (body, link), else 0.0."""
        touching = set()
        for ground_body, ground_links in self._ground_links.items():
            for contact in pybullet.getContactPoints(bodyA=self._body, bodyB=ground_body, physicsClientId=self._client):
                if contact[4] in ground_links:
                    touching.add(contact[3])
        feet_contact = self._robot.feet_contact
        for i, link in enumerate(self._foot_links):
            feet_contact[i] = 1.0 if link in touching else 0.0
