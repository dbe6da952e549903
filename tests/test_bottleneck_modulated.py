"""The reward-modulated Hebbian family (``agent = "modulated"``), driven by hand: random
observations and rewards through ``act`` / ``observe``, and one short real ant episode."""

import gymnasium
import numpy as np
import pytest
import torch

import hebbbench.envs  # noqa: F401  (registers the env ids)
from hebbbench.agents import ReferenceAgent, hebbian_slice, make_policy, parameter_count
from hebbbench.agents.modulated import ModulatedHebbianPolicy


@pytest.fixture(autouse=True)
def _one_thread(request):
    """As training's rollouts run: batched and single products then agree to the bit."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    request.addfinalizer(lambda: torch.set_num_threads(threads))


def _observations(task, k, step):
    rng = np.random.default_rng(100 + step)
    if task == "ant":
        return rng.normal(size=(k, 28)).astype(np.float64)
    return rng.integers(0, 256, size=(k, 96, 96, 3), dtype=np.uint8)


def _policy(task, k, seed=0):
    torch.manual_seed(seed)
    policy = make_policy("modulated", task, torch.randn(k, parameter_count("modulated", task)) * 0.3)
    policy.reset(list(range(10, 10 + k)))
    return policy


def _hebbian_terms(policy):
    """Each layer's un-modulated ``eta (A pre post + B pre + C post + D)`` of the pending step."""
    terms = []
    for (eta_a, eta_b, eta_c, eta_d), (pre, post) in zip(policy.rules, policy._pending):
        pre_col, post_row = pre.unsqueeze(2), post.unsqueeze(1)
        terms.append(eta_a * pre_col * post_row + eta_b * pre_col + eta_c * post_row + eta_d)
    return terms


def test_the_modulated_family_is_registered_with_the_hebbian_layout_and_its_rules_penalised():
    assert ModulatedHebbianPolicy.uses_reward
    for task in ("ant", "car"):
        assert parameter_count("modulated", task) == parameter_count("hebbian", task)
        assert hebbian_slice("modulated", task) == hebbian_slice("hebbian", task)


@pytest.mark.parametrize("task", ["ant", "car"])
def test_with_zero_rewards_the_network_acts_and_learns_as_the_hebbian_network_to_float_rounding(task):
    policy = _policy(task, 3)
    torch.manual_seed(0)
    hebbian = make_policy("hebbian", task, torch.randn(3, parameter_count("hebbian", task)) * 0.3)
    hebbian.reset(list(range(10, 13)))
    for step in range(4):
        observations = _observations(task, 3, step)
        # the same update, summed in another order: equal to float32 rounding
        np.testing.assert_allclose(policy.act(observations), hebbian.act(observations), rtol=1e-4, atol=1e-5)
        policy.observe(np.zeros(3), np.zeros(3, dtype=bool))
    assert any(not torch.equal(w, w0) for w, w0 in zip(policy.weights, _policy(task, 3).weights))  # it learned
    for mine, theirs in zip(policy.weights, hebbian.weights):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)
    assert torch.equal(policy.baseline, torch.zeros(3))


def test_a_reward_above_the_baseline_scales_the_hebbian_step_up_and_one_below_it_down():
    policy = _policy("ant", 2)
    policy.act(_observations("ant", 2, 0))
    terms = _hebbian_terms(policy)
    before = [w.clone() for w in policy.weights]
    rewards = np.array([0.5, -2.0])
    policy.observe(rewards, np.zeros(2, dtype=bool))
    for old, new, term in zip(before, policy.weights, terms):
        for k, reward in enumerate(rewards):
            expected = (1 + float(np.tanh(reward))) * term[k]  # bias 1, baseline 0, gain 1
            torch.testing.assert_close(new[k] - old[k], expected, rtol=1e-4, atol=1e-6)
            ratio = (new[k] - old[k]).norm() / term[k].norm()
            assert 1.4 < ratio < 1.5 if reward > 0 else 0.01 < ratio < 0.05  # 1 + tanh(0.5), 1 + tanh(-2)
    # the baseline followed the rewards: b = (1 - decay) r
    torch.testing.assert_close(policy.baseline, torch.tensor(0.1 * rewards, dtype=torch.float32))


def test_the_baseline_makes_a_repeated_reward_count_less_each_step():
    policy = _policy("ant", 1)
    signals = [float(policy.modulation(torch.tensor([1.0]), torch.tensor([False]))) for _ in range(30)]
    assert signals[0] == pytest.approx(1 + np.tanh(1.0))
    assert all(a > b for a, b in zip(signals, signals[1:])) and signals[-1] < 1.05


@pytest.mark.parametrize("task", ["ant", "car"])
def test_individuals_whose_episode_is_done_stay_frozen(task):
    policy = _policy(task, 3)
    before = [w.clone() for w in policy.weights]
    done = np.array([False, True, False])
    for step in range(2):
        policy.act(_observations(task, 3, step))
        policy.observe(np.array([1.0, 5.0, -1.0]), done)
    for old, new in zip(before, policy.weights):
        assert torch.equal(old[1], new[1])
        assert not torch.equal(old[0], new[0]) and not torch.equal(old[2], new[2])
    assert policy.baseline[1] == 0 and policy.baseline[0] > 0


@pytest.mark.parametrize("task", ["ant", "car"])
def test_a_batch_of_k_acts_and_learns_as_k_single_agents(task):
    torch.manual_seed(1)
    population = torch.randn(3, parameter_count("modulated", task)) * 0.3
    batched = make_policy("modulated", task, population)
    batched.reset([5, 6, 7])
    singles = [ReferenceAgent("modulated", task, population[k]) for k in range(3)]
    for k, single in enumerate(singles):
        single.reset(5 + k)
    rng = np.random.default_rng(0)
    for step in range(4):
        observations = _observations(task, 3, step)
        actions = batched.act(observations)
        rewards = rng.normal(size=3)
        done = np.array([False, step >= 2, False])
        batched.observe(rewards, done)
        for k, single in enumerate(singles):
            np.testing.assert_array_equal(actions[k], single.act(observations[k]))
            single.observe(rewards[k], bool(done[k]), False)
    for k, single in enumerate(singles):
        for layer, weight in enumerate(batched.weights):
            assert torch.equal(weight[k], single.policy.weights[layer][0])


def test_observe_without_a_pending_step_changes_nothing_and_checks_its_lengths():
    policy = _policy("ant", 2)
    before = [w.clone() for w in policy.weights]
    policy.observe(np.ones(2), np.zeros(2, dtype=bool))
    assert all(torch.equal(a, b) for a, b in zip(before, policy.weights))
    policy.act(_observations("ant", 2, 0))
    with pytest.raises(ValueError, match="expected 2 rewards"):
        policy.observe(np.ones(3), np.zeros(3, dtype=bool))


def test_a_diverged_network_acts_zero():
    population = torch.full((2, parameter_count("modulated", "ant")), 1e30)
    policy = make_policy("modulated", "ant", population)
    policy.reset([0, 1])
    for step in range(3):
        actions = policy.act(_observations("ant", 2, step))
        assert np.isfinite(actions).all()
        policy.observe(np.full(2, 3.0), np.zeros(2, dtype=bool))
    assert np.isfinite(actions).all() and (np.abs(actions) <= 1).all()


def test_a_short_real_ant_episode_learns_from_its_rewards_within_bounds():
    env = gymnasium.make("AntDamageLeft-v0", max_episode_steps=20)
    try:
        agent = ReferenceAgent("modulated", "ant", torch.randn(parameter_count("modulated", "ant")) * 0.1)
        agent.reset(3)
        observation, _ = env.reset(seed=3)
        before = [w.clone() for w in agent.policy.weights]
        steps, finished = 0, False
        while not finished:
            action = agent.act(observation)
            assert action.shape == env.action_space.shape and np.isfinite(action).all()
            assert env.action_space.contains(action)
            observation, reward, terminated, truncated, _ = env.step(action)
            agent.observe(reward, terminated, truncated)
            finished = terminated or truncated
            steps += 1
        assert steps <= 20
        assert any(not torch.equal(a, b) for a, b in zip(before, agent.policy.weights))
    finally:
        env.close()
