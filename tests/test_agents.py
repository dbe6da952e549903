"""The reference networks: parameter counts, batching, Hebbian resets, car preprocessing."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from hebbbench.agents import (
    AGENTS,
    ReferenceAgent,
    car_observation,
    hebbian_slice,
    initial_parameters,
    make_policy,
    parameter_count,
)
from hebbbench.agents.networks import StaticPolicy, _area_matrix, param_layout
from hebbbench.envs import get_variation
from hebbbench.training.lockstep import play_lockstep

OBSERVATION_SHAPES = {"ant": (28,), "car": (96, 96, 3)}


def _observations(task: str, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if task == "car":
        return rng.integers(0, 256, size=(k, *OBSERVATION_SHAPES[task]), dtype=np.uint8)
    return rng.uniform(-5, 5, size=(k, 28)).astype(np.float32)


@pytest.mark.parametrize(
    "agent, task, expected",
    [("static", "ant", 12_288), ("lstm", "ant", 89_600), ("hebbian", "ant", 61_440),
     ("static", "car", 92_690), ("lstm", "car", 408_082), ("hebbian", "car", 458_002)],
)
def test_parameter_counts_are_the_papers(agent, task, expected):
    assert parameter_count(agent=agent, task=task) == expected


def test_hebbian_slice_covers_the_rule_coefficients_only():
    assert hebbian_slice("hebbian", "ant") == slice(0, 61_440)
    assert hebbian_slice("hebbian", "car") == slice(1_362, 458_002)  # the conv front end is not plastic
    assert hebbian_slice("static", "car") is None


def test_unknown_agent_and_task_are_named():
    with pytest.raises(ValueError, match="allowed agents: static, lstm, hebbian"):
        parameter_count("mlp", "ant")
    with pytest.raises(ValueError, match="allowed tasks"):
        parameter_count("static", "walker")


@pytest.mark.parametrize("task", ["ant", "car"])
@pytest.mark.parametrize("agent", AGENTS)
def test_batch_of_k_acts_as_k_single_agents(agent, task, request):
    """Individual k of a batched policy gives exactly the actions of a K=1 policy with its
    parameters, over several steps (so recurrent state and Hebbian updates are per
    individual, and a run's numbers do not depend on how workers split the population).
    Single-threaded, as training runs its rollouts: with several threads torch's batched
    matrix product already differs in the last bits between K = 1 and K = 3."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    torch.manual_seed(0)
    population = torch.randn(3, parameter_count(agent, task)) * 0.3
    batched = make_policy(agent, task, population)
    batched.reset([5, 6, 7])
    singles = [ReferenceAgent(agent, task, population[k]) for k in range(3)]
    for k, single in enumerate(singles):
        single.reset(5 + k)
    for step in range(3):
        observations = _observations(task, 3, step)
        actions = batched.act(observations)
        assert actions.dtype == np.float32 and actions.shape == (3, 8 if task == "ant" else 3)
        for k, single in enumerate(singles):
            np.testing.assert_array_equal(actions[k], single.act(observations[k]))


def test_hebbian_weights_are_uniform_and_reproducible_from_the_seed():
    population = torch.zeros(2, parameter_count("hebbian", "ant"))
    policy = make_policy("hebbian", "ant", population)
    policy.reset([3, 4])
    first = [w.clone() for w in policy.weights]
    assert all(float(w.abs().max()) <= 0.1 for w in first)
    assert [tuple(w.shape) for w in first] == [(2, 28, 128), (2, 128, 64), (2, 64, 8)]
    assert not torch.equal(first[0][0], first[0][1])
    policy.reset([3, 4])
    assert all(torch.equal(a, b) for a, b in zip(first, policy.weights))


def test_hebbian_update_follows_the_abcd_rule():
    """One step of a one-individual ant network against the rule written out by hand."""
    torch.manual_seed(1)
    population = torch.randn(1, parameter_count("hebbian", "ant")) * 0.1
    policy = make_policy("hebbian", "ant", population)
    policy.reset([0])
    before = policy.weights[0][0].clone()
    observation = _observations("ant", 1, 0)
    policy.act(observation)
    pre = torch.as_tensor(observation[0])
    post = torch.tanh(pre @ before)
    h = population[0, : 28 * 128 * 5].reshape(28, 128, 5)
    eta, a, b, c, d = h.unbind(-1)
    expected = before + eta * (a * pre[:, None] * post[None, :] + b * pre[:, None] + c * post[None, :] + d)
    torch.testing.assert_close(policy.weights[0][0], expected, rtol=1e-5, atol=1e-6)


def test_car_hebbian_layers_are_normalised_after_each_update():
    population = torch.randn(2, parameter_count("hebbian", "car"))
    policy = make_policy("hebbian", "car", population)
    policy.reset([0, 1])
    policy.act(_observations("car", 2, 0))
    for weight in policy.weights:
        torch.testing.assert_close(weight.abs().amax(dim=(1, 2)), torch.ones(2))


def test_car_observation_is_an_area_resize_to_84_channels_first_in_unit_range():
    rows = _area_matrix(96, 84)
    torch.testing.assert_close(rows.sum(dim=1), torch.ones(84))
    frames = _observations("car", 2, 0)
    x = car_observation(frames)
    assert x.shape == (2, 3, 84, 84) and float(x.min()) >= 0 and float(x.max()) <= 1
    # Output pixel (0, 0) covers source pixels [0, 8/7) along each axis: all of pixel 0 and
    # 1/7 of pixel 1, each weighted by its overlap, rounded to an integer level.
    weights = np.array([1, 1 / 7]) / (8 / 7)
    expected = weights @ frames[0, :2, :2, 0].astype(np.float64) @ weights
    assert float(x[0, 0, 0, 0]) * 255 == pytest.approx(round(expected), rel=1e-6)
    constant = np.full((1, 96, 96, 3), 51, dtype=np.uint8)
    torch.testing.assert_close(car_observation(constant), torch.full((1, 3, 84, 84), 0.2))


def test_car_observation_is_opencvs_uint8_area_resize_divided_by_255():
    """The reference resizes the uint8 frame with OpenCV (INTER_AREA, uint8 out), then /255."""
    import cv2
    import gymnasium as gym

    env = gym.make("CarRacingDefault-v0")
    frames = [env.reset(seed=0)[0]]
    for _ in range(20):
        frames.append(env.step(np.array([0.1, 1.0, 0.0], dtype=np.float32))[0])
    frames.append(_observations("car", 1, 3)[0])  # and a noise frame
    resized = np.stack([cv2.resize(frame, (84, 84), interpolation=cv2.INTER_AREA) for frame in frames])
    expected = torch.as_tensor(resized, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
    assert torch.equal(car_observation(np.stack(frames)), expected)


def test_car_actions_are_steer_gas_brake_within_bounds():
    policy = make_policy("static", "car", torch.randn(4, parameter_count("static", "car")) * 3)
    policy.reset([0] * 4)
    actions = policy.act(_observations("car", 4, 1))
    assert (actions[:, 0] >= -1).all() and (actions[:, 0] <= 1).all()
    assert (actions[:, 1:] >= 0).all() and (actions[:, 1:] <= 1).all()


def test_diverged_network_outputs_become_zero_actions():
    population = torch.full((1, parameter_count("static", "ant")), float("nan"))
    policy = make_policy("static", "ant", population)
    policy.reset([0])
    assert (policy.act(_observations("ant", 1, 0)) == 0).all()


@pytest.mark.parametrize("task, env_id", [("ant", "AntDefault-v0"), ("car", "CarRacingDefault-v0")])
def test_reference_agent_plays_a_real_episode(task, env_id):
    agent = ReferenceAgent("hebbian", task, torch.randn(parameter_count("hebbian", task)))
    env = gym.make(env_id, max_episode_steps=5)
    observation, _ = env.reset(seed=0)
    agent.reset(0)
    for _ in range(5):
        observation, _, terminated, truncated, _ = env.step(agent.act(observation))
        if terminated or truncated:
            break
    env.close()


def test_reference_agent_rejects_a_wrong_parameter_count():
    with pytest.raises(ValueError, match="needs 12288 parameters, got 10"):
        ReferenceAgent("static", "ant", np.zeros(10))


def test_car_front_end_is_conv_tanh_maxpool_per_individual(monkeypatch):
    """The grouped, pool-before-tanh front end gives exactly the textbook per-individual
    conv -> tanh -> 2x2 max pool stack (torch's own pooling, one individual at a time)."""
    import torch.nn.functional as F

    from hebbbench.agents.networks import conv_features

    generator = torch.Generator().manual_seed(3)
    x = torch.rand(4, 3, 84, 84, generator=generator)
    conv1 = torch.randn(4, 6, 3, 3, 3, generator=generator) * 0.5
    conv2 = torch.randn(4, 8, 6, 5, 5, generator=generator) * 0.5
    features = conv_features(x, conv1, conv2)
    assert features.shape == (4, 648)
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", False)  # the kernel conv_features uses
    for k in range(4):
        h = F.max_pool2d(torch.tanh(F.conv2d(x[k:k + 1], conv1[k])), 2)
        h = F.max_pool2d(torch.tanh(F.conv2d(h, conv2[k], stride=2)), 2)
        assert torch.equal(features[k], h.reshape(-1))


@pytest.mark.parametrize("agent", AGENTS)
def test_fan_in_init_draws_each_weight_within_one_over_root_fan_in(agent):
    """PyTorch's layer default: U(-b, b), b = 1/sqrt(fan_in); rule coefficients N(0, std^2)."""
    vector = initial_parameters(agent, "car", "fan-in", 0.5, torch.Generator().manual_seed(0))
    assert vector.shape == (parameter_count(agent, "car"),) and vector.dtype == torch.float32
    fan_in = {"conv.1": 27, "conv.2": 150, "dense.1": 648, "dense.2": 128, "dense.3": 64}
    for name, tensor in param_layout(agent, "car").split(vector[None]).items():
        if name.startswith("hebb."):
            assert abs(tensor.std().item() - 0.5) < 0.01
            continue
        bound = 1 / np.sqrt(128 if name.startswith("lstm.") else fan_in[name])
        assert tensor.abs().max() <= bound
        # uniform on [-b, b]: std b / sqrt(3)
        assert abs(tensor.std().item() - bound / np.sqrt(3)) < 0.15 * bound / np.sqrt(3), name
    again = initial_parameters(agent, "car", "fan-in", 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(vector, again)


def test_normal_init_is_std_times_a_standard_normal_draw_and_unknown_schemes_are_named():
    drawn = initial_parameters("static", "ant", "normal", 0.3, torch.Generator().manual_seed(1))
    assert torch.equal(drawn, 0.3 * torch.randn(12_288, generator=torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError, match="unknown init scheme 'xavier'; allowed: normal, fan-in"):
        initial_parameters("static", "ant", "xavier", 1.0, torch.Generator())


def test_lockstep_passes_each_steps_rewards_and_done_flags_to_the_policy():
    """The reward seam: a batched policy's ``observe`` gets every step's rewards (summing to
    the returns) and the done flags, as an evaluated agent's ``observe`` does."""

    class RecordingPolicy(StaticPolicy):
        uses_reward = True

        def reset(self, seeds):
            super().reset(seeds)
            self.seen, self.done = [], []

        def observe(self, rewards, done):
            self.seen.append(rewards.copy())
            self.done.append(done.copy())

    envs = [gym.make(get_variation("ant", "default").env_id, max_episode_steps=steps) for steps in (5, 9)]
    policy = RecordingPolicy("ant", torch.randn(2, parameter_count("static", "ant")))
    outcome = play_lockstep(envs, policy, [1, 2], [0, 0])
    assert np.allclose(np.sum(policy.seen, axis=0), outcome.returns)
    done = np.array(policy.done)
    assert done.shape == (9, 2) and done[4:, 0].all() and not done[:4, 0].any() and done[-1, 1]
    assert all(seen[0] == 0.0 for seen in policy.seen[5:])  # nothing after its episode ended
    agent = ReferenceAgent("static", "ant", torch.zeros(parameter_count("static", "ant")))
    assert not hasattr(agent, "observe")  # evaluation skips the call for reward-blind networks
    for env in envs:
        env.close()
