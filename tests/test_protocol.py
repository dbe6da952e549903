"""The leave-one-out protocol: folds, seeds, and evaluate() through the Python API."""

from pathlib import Path

import numpy as np
import pytest

import hebbbench
from hebbbench.envs import PAPER_HOLDOUT, TASKS, variations
from hebbbench.evaluation.protocol import EPISODES, FIRST_SEED, PROTOCOL_VERSION, folds, get_fold, protocol_seeds

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


class ZeroAgent:
    """Ant: zero torque every step."""

    def reset(self, seed):
        self.seed = seed

    def act(self, observation):
        return np.zeros(8)


def make_zero_agent(task, holdout, observation_space, action_space):
    assert (task, holdout) == ("ant", "damage-left") and action_space.shape == (8,)
    return ZeroAgent()


@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_has_one_fold_per_variation_and_the_paper_fold_by_default(task):
    names = [v.name for v in variations(task)]
    assert [fold.holdout for fold in folds(task)] == names
    for fold in folds(task):
        assert fold.holdout not in fold.train and len(fold.train) == len(names) - 1
    assert get_fold(task).holdout == PAPER_HOLDOUT[task]
    with pytest.raises(ValueError, match="allowed: " + ", ".join(names)):
        get_fold(task, "no-such-variation")


def test_protocol_seeds_are_fixed_and_shared_by_every_variation():
    lists = [protocol_seeds(v.task, v.name) for task in TASKS for v in variations(task)]
    assert all(seeds == list(range(FIRST_SEED, FIRST_SEED + EPISODES)) for seeds in lists)
    assert protocol_seeds("car", "default", 3) == [FIRST_SEED, FIRST_SEED + 1, FIRST_SEED + 2]
    with pytest.raises(ValueError):
        protocol_seeds("ant", "pushed-left")


def test_evaluate_with_an_in_memory_factory_returns_every_episode():
    results = hebbbench.evaluate(make_zero_agent, task="ant", holdout="damage-left", episodes=2, workers=1)
    assert results.protocol_version == PROTOCOL_VERSION and results.task == "ant"
    assert [v.name for v in results.variations] == [v.name for v in variations("ant")]
    assert [v.split for v in results.variations] == ["train", "test", "train", "train", "train"]
    assert results.test.name == "damage-left"
    for variation in results.variations:
        assert variation.seeds == (FIRST_SEED, FIRST_SEED + 1)
        assert len(variation.returns) == 2 and all(np.isfinite(variation.returns))
        assert all(1 <= length <= 960 for length in variation.lengths)
    assert not results.full_protocol  # 2 episodes, not 100
    assert results.agent_path == __file__ and len(results.agent_sha256) == 64


def test_numbers_are_the_same_whatever_the_worker_count():
    runs = [hebbbench.evaluate(EXAMPLES / "random_agent.py", task="ant", episodes=2, workers=w, seed=5)
            for w in (1, 2)]
    assert [r.workers for r in runs] == [1, 2]
    for one, two in zip(runs[0].variations, runs[1].variations):
        assert one.seeds == two.seeds == (5, 6)
        assert one.returns == two.returns and one.lengths == two.lengths


def test_bad_arguments_are_refused_before_anything_runs():
    for kwargs, message in [({"episodes": 0}, "episodes"), ({"workers": 0}, "workers"),
                            ({"episode_timeout": -1.0}, "episode_timeout"), ({"seed": -3}, "seed")]:
        with pytest.raises(ValueError, match=message):
            hebbbench.evaluate(make_zero_agent, task="ant", holdout="damage-left", **kwargs)
    with pytest.raises(ValueError, match="picklable"):
        hebbbench.evaluate(lambda *args: ZeroAgent(), task="ant", workers=2, episodes=1)
    with pytest.raises(ValueError, match=r"arithmetic must be one of \['portable', 'native'\], got 'fast'"):
        hebbbench.evaluate(EXAMPLES / "random_agent.py", task="ant", arithmetic="fast")
    with pytest.raises(ValueError, match="arithmetic='portable' needs an agent file"):
        hebbbench.evaluate(make_zero_agent, task="ant", holdout="damage-left", arithmetic="portable")


TRAINED_STATIC_ANT = Path(__file__).resolve().parents[1] / "leaderboard" / "agents" / "ant-static-baseline-gen68"


def test_portable_arithmetic_gives_the_same_bits_when_the_cpu_offers_fewer_instructions(monkeypatch):
    """A trained torch network, evaluated as on this CPU and as on one limited to SSE4.2 (MKL's
    and oneDNN's kernels restricted): the same returns, and the results record the setting."""
    def returns(**kwargs):
        results = hebbbench.evaluate(TRAINED_STATIC_ANT, task="ant", episodes=1, workers=1, **kwargs)
        return results, [v.returns for v in results.variations]

    here, here_returns = returns()
    assert here.agent_arithmetic == "portable" and here.to_dict()["agent"]["arithmetic"] == "portable"
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "SSE4_2")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SSE41")
    _, older_cpu_returns = returns()
    assert older_cpu_returns == here_returns
    native, _ = returns(arithmetic="native")
    assert native.agent_arithmetic == "native" and "arithmetic" not in native.to_dict()["agent"]


class RewardWatchingAgent:
    """A car agent that brakes once it has seen a negative reward: its actions depend on
    the rewards it is told through ``observe``."""

    def reset(self, seed):
        self.seen, self.calls = [], 0

    def act(self, observation):
        self.calls += 1
        braking = any(reward < 0 for reward, _, _ in self.seen)
        return np.array([0.0, 0.0 if braking else 1.0, 1.0 if braking else 0.0], dtype=np.float32)

    def observe(self, reward, terminated, truncated):
        assert type(reward) is float and type(terminated) is bool and type(truncated) is bool
        assert len(self.seen) == self.calls - 1  # called once after every act, before the next
        self.seen.append((reward, terminated, truncated))


def make_reward_watching_agent(task, holdout, observation_space, action_space):
    return RewardWatchingAgent()


def test_an_agent_with_observe_gets_every_steps_outcome_and_the_results_say_so():
    results = hebbbench.evaluate(make_reward_watching_agent, task="car", episodes=1, workers=1)
    assert results.to_dict()["agent"]["observes"] is True
    without = hebbbench.evaluate(make_zero_agent, task="ant", holdout="damage-left", episodes=1, workers=1)
    assert "observes" not in without.to_dict()["agent"]
    # One call per step, the rewards summing to the episode's return, the last one its end.
    from hebbbench.evaluation.episodes import EpisodeRunner, Job

    agent = RewardWatchingAgent()
    total, steps = EpisodeRunner(agent, None).run(Job(0, "default", "CarRacingDefault-v0", 0, 1, FIRST_SEED))
    assert len(agent.seen) == steps
    assert agent.seen[-1][1] or agent.seen[-1][2]
    assert total == pytest.approx(sum(reward for reward, _, _ in agent.seen))
