"""Steps per second of our default envs and of the upstream ones, in the same run.

Run: ``pytest benchmarks/test_env_throughput.py -s`` (``--benchmark-only`` skips the
fidelity summary). Each round plays
the same seeded episode on both sides, on one core:

* car: ``reset(seed=0)`` then 1000 steps of a fixed weaving full-gas action sequence;
* ant: ``reset(seed=0)`` then 960 steps of fixed random actions; upstream first steps
  the 40 zero-action steps that our ``reset`` does as burn-in, so both sides simulate
  the same 1000 physics steps from the same state.

From the second round on, our car keeps seed 0's track (a reset with the track's seed
does not generate it again: ~10 ms of a ~0.3 s round). Neither side stops at an episode
end (the comparison is of the simulation, and our early-end rules would otherwise cut
our episode short). Steps per second count every simulated step; the ratio
ours/upstream uses each side's fastest round and is printed
at the end of the session, with the ant's ceiling (our reset, then only the pybullet calls
of each step). A fidelity summary of the fast car observations is printed too.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pybullet
import pytest

STEPS = 1000
BURN_IN = 40  # AntMorphologyEnv's default burn_in_steps
PAIRS = {
    "car": ("CarRacingDefault-v0", "CarRacing-v3"),
    "ant": ("AntDefault-v0", "AntBulletEnv-v0"),
}
_RATES: dict[str, float] = {}
_FIDELITY: list[str] = []


def _actions(task: str) -> np.ndarray:
    if task == "car":  # full gas and a weave, so the car keeps finding new tiles
        steer = 0.3 * np.sin(np.arange(STEPS) / 10)
        return np.stack([steer, np.ones_like(steer), np.zeros_like(steer)], axis=1).astype(np.float32)
    return np.random.default_rng(0).uniform(-1, 1, size=(STEPS - BURN_IN, 8)).astype(np.float32)


def _episode(env: gym.Env, warm_up: int, actions: np.ndarray) -> int:
    """Reset with seed 0, take ``warm_up`` zero actions, then ``actions``; return the step count."""
    env.reset(seed=0)
    zero = np.zeros_like(actions[0])
    for _ in range(warm_up):
        env.step(zero)
    for action in actions:
        env.step(action)
    return warm_up + len(actions)


@pytest.mark.parametrize("task", list(PAIRS))
@pytest.mark.parametrize("side", ["ours", "upstream"])
def test_steps_per_second(benchmark, task, side):
    env_id = PAIRS[task][0 if side == "ours" else 1]
    env = gym.make(env_id, max_episode_steps=STEPS + 1)
    actions = _actions(task)
    # Our ant's reset already runs the burn-in; upstream's must step it. Either way each
    # round simulates STEPS physics steps.
    warm_up = BURN_IN if (task == "ant" and side == "upstream") else 0
    benchmark.pedantic(_episode, args=(env, warm_up, actions), rounds=3, iterations=1, warmup_rounds=1)
    rate = STEPS / benchmark.stats.stats.min
    benchmark.extra_info["steps_per_second"] = rate
    _RATES[env_id] = rate
    env.close()


def _pybullet_calls_only(env: gym.Env, actions: np.ndarray) -> int:
    """Our ant's reset, then only the pybullet calls of each step (no observation or reward).

    The calls are those :class:`hebbbench.envs.ant_step.BatchedAntStep` makes: torques,
    physics, joint states, link states, base pose and velocity, foot contacts. No Python
    work on top of them can run faster, so this is the ceiling of our ant's steps/s.
    """
    env.reset(seed=0)
    step = env.unwrapped._batched_step
    body, client, joints, links = step._body, step._client, step._joint_indices, step._link_indices
    for action in actions.tolist():
        pybullet.setJointMotorControlArray(body, joints, pybullet.TORQUE_CONTROL,
                                           forces=[scale * a for scale, a in zip(step._torque_scale, action)],
                                           physicsClientId=client)
        pybullet.stepSimulation(physicsClientId=client)
        pybullet.getJointStates(body, joints, physicsClientId=client)
        pybullet.getLinkStates(body, links, physicsClientId=client)
        pybullet.getBasePositionAndOrientation(body, physicsClientId=client)
        pybullet.getBaseVelocity(body, physicsClientId=client)
        for ground_body in step._ground_links:
            pybullet.getContactPoints(bodyA=body, bodyB=ground_body, physicsClientId=client)
    return BURN_IN + len(actions)


def test_ant_pybullet_calls_only(benchmark):
    """The ant's ceiling: steps/s of the pybullet calls alone, ratio to upstream printed."""
    env = gym.make(PAIRS["ant"][0])
    benchmark.pedantic(_pybullet_calls_only, args=(env, _actions("ant")), rounds=3, iterations=1, warmup_rounds=1)
    rate = STEPS / benchmark.stats.stats.min
    benchmark.extra_info["steps_per_second"] = rate
    _RATES["pybullet calls only"] = rate
    env.close()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("env_id", ["CarRacingDefault-v0", "CarRacingPushedRight-v0"])
@pytest.mark.parametrize("camera", ["velocity", "hull"])
def test_car_observation_fidelity(seed, env_id, camera):
    """Mean absolute pixel difference, fast vs reference (upstream's pygame) renderer, same
    camera, over a seeded episode (``hull`` on the default car: vs ``CarRacing-v3`` itself)."""
    ours = gym.make(env_id, camera=camera, max_negative_steps=STEPS + 1)
    if (env_id, camera) == ("CarRacingDefault-v0", "hull"):
        reference = gym.make(PAIRS["car"][1])
    else:
        reference = gym.make(env_id, camera=camera, render_backend="reference", max_negative_steps=STEPS + 1)
    ours_obs, reference_obs = ours.reset(seed=seed)[0], reference.reset(seed=seed)[0]
    frames = [np.abs(ours_obs.astype(int) - reference_obs.astype(int)).mean()]
    for action in _actions("car"):
        ours_obs, ours_reward, *_ = ours.step(action)
        reference_obs, reference_reward, *_ = reference.step(action)
        assert ours_reward == reference_reward
        frames.append(np.abs(ours_obs.astype(int) - reference_obs.astype(int)).mean())
    _FIDELITY.append(
        f"car {env_id} camera={camera} seed {seed}: mean |fast - reference| = {np.mean(frames):.3f} levels over "
        f"{len(frames)} frames (worst frame {max(frames):.2f})"
    )


def teardown_module(module):
    for task, (ours, upstream) in PAIRS.items():
        if ours in _RATES and upstream in _RATES:
            print(
                f"\n{task}: {ours} {_RATES[ours]:.0f} steps/s, {upstream} {_RATES[upstream]:.0f} steps/s,"
                f" ratio {_RATES[ours] / _RATES[upstream]:.2f}"
            )
    if "pybullet calls only" in _RATES and PAIRS["ant"][1] in _RATES:
        floor = _RATES["pybullet calls only"]
        print(f"ant, pybullet calls only (the ceiling): {floor:.0f} steps/s,"
              f" ratio {floor / _RATES[PAIRS['ant'][1]]:.2f} to upstream")
    for line in _FIDELITY:
        print(line)
