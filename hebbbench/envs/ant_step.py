"""One pybullet ant step with batched state reads: upstream's numbers, fewer Python calls.

pybullet_envs_gymnasium's ``WalkerBaseBulletEnv.step`` spends most of its time outside
the physics: it sets 8 joint torques one call at a time, then reads 8 joint states, 22
part poses (one ``getLinkState`` each, through per-part Python objects), the torso pose
twice more and 4 foot contact lists. :class:`BatchedAntStep` does the same work with one
``setJointMotorControlArray``, one ``getJointStates``, one ``getLinkStates``, one base
pose, one base velocity and one contact query, then evaluates upstream's formulas
(``WalkerBase.calc_state``, ``calc_potential`` and the reward terms of ``step``) in the
same order and precision, so observations and rewards are bit-for-bit upstream's.
"""

from __future__ import annotations

import numpy as np
import pybullet

#: Upstream's reward weights (``WalkerBaseBulletEnv``), read from the class at bind time.
_REWARD_TERMS = ("electricity_cost", "stall_torque_cost", "joints_at_limit_cost")


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
        self._torque_scale = np.array([robot.power * j.power_coef for j in joints])
        # Part positions in the order of ``robot.parts`` (its mean is upstream's body x, y).
        parts = list(robot.parts.values())
        self._parts_xyz: list = [None] * len(parts)
        self._link_rows, self._link_indices, self._base_rows = [], [], []
        for row, part in enumerate(parts):
            part_body = part.bodies[part.bodyIndex]
            if part_body == body and part.bodyPartIndex >= 0:
                self._link_rows.append(row)
                self._link_indices.append(part.bodyPartIndex)
            elif part_body == body:
                self._base_rows.append(row)
            else:  # another body (the static floor): its pose never changes
                self._parts_xyz[row] = tuple(part.current_position().tolist())
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
        pybullet.setJointMotorControlArray(
            self._body,
            self._joint_indices,
            pybullet.TORQUE_CONTROL,
            forces=(self._torque_scale * action).tolist(),
            physicsClientId=client,
        )
        pybullet.stepSimulation(physicsClientId=client)  # upstream: scene.global_step()
        state = self._state()

        alive = 1.0 if float(state[0]) + robot.initial_z > self._alive_height else -1.0
        env._alive = alive
        done = alive < 0 or not np.isfinite(state).all()
        potential_old = env.potential
        env.potential = -robot.walk_target_dist / self._dt  # upstream: robot.calc_potential()
        progress = float(env.potential - potential_old)
        self._update_feet_contact()

        speeds = robot.joint_speeds
        weights = self._weights
        electricity_cost = weights["electricity_cost"] * float(np.add.reduce(np.abs(action * speeds)) / speeds.size)
        electricity_cost += weights["stall_torque_cost"] * float(np.add.reduce(np.square(action)) / action.size)
        joints_at_limit_cost = float(weights["joints_at_limit_cost"] * robot.joints_at_limit)
        env.rewards = [alive, progress, electricity_cost, joints_at_limit_cost, 0.0]
        env.reward += sum(env.rewards)
        return state, done

    def _state(self) -> np.ndarray:
        """Upstream's ``WalkerBase.calc_state`` from batched reads (same formulas, same order).

        Scalars are Python floats where upstream uses Python floats; means, norms and the
        yaw rotation go through the same numpy calls as upstream (a BLAS dot product may
        round differently from a hand-written one).
        """
        robot, client, body = self._robot, self._client, self._body
        joint_states = pybullet.getJointStates(body, self._joint_indices, physicsClientId=client)
        j = []
        for (position, speed, _, _), lower, span in zip(joint_states, self._joint_lower, self._joint_range):
            j.append(2 * (position - lower) / span - 1.0)  # position scaled to [-1, 1] between limits
            j.append(0.1 * speed)

        link_states = pybullet.getLinkStates(body, self._link_indices, physicsClientId=client)
        torso_xyz, torso_orientation = pybullet.getBasePositionAndOrientation(body, physicsClientId=client)
        parts_xyz = self._parts_xyz
        for row, link_state in zip(self._link_rows, link_states):
            parts_xyz[row] = link_state[0]
        for row in self._base_rows:
            parts_xyz[row] = torso_xyz
        xyz = np.array(parts_xyz)
        # = upstream's parts_xyz[0::3].mean(): the same pairwise sum over the same order
        x, y, z = np.add.reduce(xyz[:, 0]) / len(xyz), np.add.reduce(xyz[:, 1]) / len(xyz), torso_xyz[2]
        robot.body_xyz = (x, y, z)
        robot.body_real_xyz = torso_xyz
        robot.body_rpy = r, p, yaw = pybullet.getEulerFromQuaternion(torso_orientation)
        dy, dx = robot.walk_target_y - y, robot.walk_target_x - x
        robot.walk_target_theta = np.arctan2(dy, dx)
        to_target = np.array([dy, dx])
        robot.walk_target_dist = np.sqrt(to_target.dot(to_target))  # = np.linalg.norm(to_target)
        angle_to_target = robot.walk_target_theta - yaw

        cos_yaw, sin_yaw = np.cos(-yaw), np.sin(-yaw)
        rot_speed = np.array([[cos_yaw, -sin_yaw, 0], [sin_yaw, cos_yaw, 0], [0, 0, 1]])
        velocity, _ = pybullet.getBaseVelocity(body, physicsClientId=client)
        vx, vy, vz = rot_speed.dot(velocity).tolist()  # body velocity in the yaw frame

        more = [z - robot.initial_z, np.sin(angle_to_target), np.cos(angle_to_target), 0.3 * vx, 0.3 * vy, 0.3 * vz, r, p]
        state = np.array(more + j, dtype=np.float32)
        j_f32 = state[len(more):]
        robot.joint_speeds = j_f32[1::2].copy()
        robot.joints_at_limit = np.count_nonzero(np.abs(j_f32[0::2]) > 0.99)
        state = np.concatenate([state, robot.feet_contact])
        return np.minimum(np.maximum(state, -5, out=state), 5, out=state)  # = np.clip(state, -5, 5)

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
