"""PGPE with ClipUp, ClipUp for OpenAI-ES, and observation normalisation: the updates
against EvoTorch's on the same population, and the training runs that use them (same
numbers on any worker count, exact resume, the normaliser carried into evaluation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import outcomes

from hebbbench.agents import ObservationStats, ReferenceAgent, make_policy
from hebbbench.agents.normalization import MIN_VARIANCE, OBSERVATION_CLIP
from hebbbench.es import PGPE, GaussianMixtureESConfig, OpenAIES, OpenAIESConfig, PGPEConfig
from hebbbench.es.base import ascent_step
from hebbbench.training.run_agent import load_run_agent
from hebbbench.training.train import TrainConfig, resume, train

evotorch_functional = pytest.importorskip("evotorch.algorithms.functional")


def _interleaved(population: torch.Tensor) -> torch.Tensor:
    """Our mirrored layout (i, i + P/2) as EvoTorch's (2j, 2j + 1)."""
    half = len(population) // 2
    return torch.stack([population[:half], population[half:]], dim=1).reshape(len(population), -1)


def test_pgpe_tell_matches_evotorch_pgpe_tell_on_the_same_population():
    dimension, size = 40, 16
    strategy = PGPE(torch.randn(dimension, generator=torch.Generator().manual_seed(1)),
                    PGPEConfig(size, sigma=0.3, lr=0.05, sigma_lr=0.2, sigma_max_change=0.2), seed=4)
    theirs = evotorch_functional.pgpe(center_init=strategy.mean.double(), center_learning_rate=0.05,
                                      stdev_learning_rate=0.2, objective_sense="max", stdev_init=0.3,
                                      stdev_max_change=0.2, optimizer="clipup")
    target = torch.linspace(-1, 1, dimension)
    for _ in range(5):
        population = strategy.ask()
        fitness = -((population - target) ** 2).sum(dim=1)  # distinct values: no ties
        strategy.tell(fitness)
        theirs = evotorch_functional.pgpe_tell(theirs, _interleaved(population).double(),
                                               _interleaved(fitness[:, None]).reshape(-1).double())
        assert torch.allclose(strategy.mean.double(), theirs.optimizer_state.center, atol=1e-5)
        assert torch.allclose(strategy.sigma.double(), theirs.stdev, atol=1e-5)


def test_clipup_step_matches_evotorch_clipup_and_respects_the_speed_limit():
    start = torch.randn(30, generator=torch.Generator().manual_seed(0))
    mine, velocity = start.clone(), torch.zeros(30)
    theirs = evotorch_functional.clipup(center_init=start.double(), center_learning_rate=0.1, momentum=0.9)
    for step in range(6):
        gradient = torch.randn(30, generator=torch.Generator().manual_seed(10 + step))
        ascent_step(mine, gradient, 0.1, optimizer="clipup", moments=(velocity,), momentum=0.9)
        theirs = evotorch_functional.clipup_tell(theirs, follow_grad=gradient.double())
        assert float(velocity.norm()) <= 0.2 + 1e-6  # max_speed defaults to 2 x lr
        assert torch.allclose(mine.double(), theirs.center, atol=1e-6)


def test_openai_es_with_clipup_resumes_exactly_from_its_state():
    config = OpenAIESConfig(8, optimizer="clipup", lr=0.05)
    first = OpenAIES(torch.zeros(12), config, seed=2)
    for _ in range(3):
        first.tell(first.ask().sum(dim=1))
    second = OpenAIES(torch.zeros(12), config, seed=2)
    second.load_state_dict(first.state_dict())
    first.tell(first.ask().sum(dim=1))
    second.tell(second.ask().sum(dim=1))
    assert torch.equal(first.mean, second.mean) and torch.equal(first.velocity, second.velocity)
    assert float(first.velocity.norm()) > 0


def test_pgpe_state_round_trip_continues_the_same_numbers_and_compact_rows_equal_ask():
    strategy = PGPE(torch.zeros(20), PGPEConfig(6, optimizer="adam", lr=0.01), seed=7)
    strategy.tell(strategy.ask().sum(dim=1))
    population = strategy.ask()
    assert torch.equal(strategy.compact_population().rows(2, 5), population[2:5])
    copy = PGPE(torch.zeros(20), PGPEConfig(6, optimizer="adam", lr=0.01), seed=0)
    copy.load_state_dict(strategy.state_dict())
    assert torch.equal(copy.ask(), population)
    assert torch.equal(strategy.sample(5), copy.sample(5)) and not torch.equal(strategy.sample(5), strategy.sample(6))


def test_pgpe_sigma_moves_at_most_its_max_change_per_generation():
    strategy = PGPE(torch.zeros(50), PGPEConfig(10, sigma=1.0, sigma_lr=100.0, sigma_max_change=0.1), seed=0)
    population = strategy.ask()
    strategy.tell(population.norm(dim=1))
    assert torch.all(strategy.sigma >= 0.9 - 1e-6) and torch.all(strategy.sigma <= 1.1 + 1e-6)
    assert not torch.all(strategy.sigma == 1.0)


@pytest.mark.parametrize("settings, message", [
    ({"optimizer": "rmsprop"}, "unknown optimizer"),
    ({"sigma_max_change": 1.0}, r"sigma_max_change must lie in \(0, 1\)"),
    ({"clipup_momentum": 1.0}, r"clipup_momentum must lie in \[0, 1\)"),
    ({"max_speed": -1.0}, r"max_speed must lie in \(0, inf\)"),
    ({"sigma_lr": 0}, r"sigma_lr must lie in \(0, inf\)"),
])
def test_bad_pgpe_settings_are_refused_naming_the_field(settings, message):
    with pytest.raises(ValueError, match=message):
        PGPEConfig(8, **settings)


def test_the_mixture_refuses_clipup_which_it_does_not_implement():
    with pytest.raises(ValueError, match="unknown optimizer 'clipup'; allowed: sgd, adam"):
        GaussianMixtureESConfig(8, optimizer="clipup")


def test_observation_statistics_give_the_mean_the_floored_std_and_clip():
    rng = np.random.default_rng(0)
    seen = rng.normal([1.0, -2.0, 0.0], [3.0, 0.5, 0.0], size=(500, 3))
    stats = ObservationStats.empty(3).add(200, seen[:200].sum(0), (seen[:200] ** 2).sum(0))
    stats = stats.add(300, seen[200:].sum(0), (seen[200:] ** 2).sum(0))
    normalizer = stats.normalizer()
    assert np.allclose(normalizer.mean, seen.mean(0))
    assert np.allclose(normalizer.std, np.sqrt(np.maximum(seen.var(0), MIN_VARIANCE)))
    out = normalizer(torch.tensor([[1.0 + 100 * 3.0, normalizer.mean[1], 0.05]], dtype=torch.float64))
    assert out[0, 0] == OBSERVATION_CLIP and float(out[0, 1]) == 0.0
    assert abs(float(out[0, 2]) - 0.5) < 1e-9  # the constant feature's std is the floor, 0.1
    assert ObservationStats.empty(3).normalizer().std == (1.0, 1.0, 1.0)


def test_a_normalised_policy_sees_the_transformed_observation():
    parameters = torch.randn(1, 12288, generator=torch.Generator().manual_seed(0))
    stats = ObservationStats.empty(28).add(1, np.full(28, 0.5), np.full(28, 4.0))
    observation = np.random.default_rng(1).normal(size=(1, 28)).astype(np.float32)
    normalised = make_policy("static", "ant", parameters, normalizer=stats.normalizer())
    raw = make_policy("static", "ant", parameters)
    expected = stats.normalizer()(torch.as_tensor(observation)).numpy()
    assert np.array_equal(normalised.act(observation), raw.act(expected))
    with pytest.raises(ValueError, match="observes frames"):
        make_policy("static", "car", torch.zeros(1, 92690), normalizer=stats.normalizer())


def _config(**overrides) -> TrainConfig:
    values = dict(agent="static", task="ant", population=4, generations=2, seed=3, max_episode_steps=15,
                  backend="inprocess", strategy="pgpe", observation_normalization=True, es={"lr": 0.1})
    values.update(overrides)
    return TrainConfig(**values)


def test_normalised_pgpe_run_gives_the_same_numbers_on_two_worker_processes(tmp_path):
    alone = train(_config(), tmp_path / "a", progress=False)
    pooled = train(_config(backend="local", workers=2), tmp_path / "b", progress=False)
    assert outcomes(alone) == outcomes(pooled)
    assert np.array_equal(np.load(alone / "parameters.npy"), np.load(pooled / "parameters.npy"))
    stats = [torch.load(run / "checkpoint.pt")["observation_stats"] for run in (alone, pooled)]
    assert stats[0]["count"] == stats[1]["count"] > 0
    assert torch.equal(stats[0]["sums"], stats[1]["sums"]) and torch.equal(stats[0]["squares"], stats[1]["squares"])


def test_normalised_pgpe_run_resumed_ends_with_the_uninterrupted_parameters(tmp_path):
    straight = train(_config(generations=3), tmp_path / "straight", progress=False)
    stopped = train(_config(generations=1), tmp_path / "stopped", progress=False)
    resume(stopped, generations=3, progress=False)
    assert outcomes(stopped) == outcomes(straight)
    assert np.array_equal(np.load(stopped / "parameters.npy"), np.load(straight / "parameters.npy"))


def test_a_normalised_run_directory_acts_with_the_normaliser_it_trained_with(tmp_path):
    run_dir = train(_config(), tmp_path / "run", progress=False)
    saved = torch.load(run_dir / "checkpoint.pt")
    expected = ObservationStats.from_state(saved["observation_stats"]).normalizer()
    agent = load_run_agent(run_dir, "ant", checkpoint="final", sigma=0)
    assert agent.policy.normalizer == expected and expected.std != (1.0,) * 28
    twin = ReferenceAgent("static", "ant", saved["strategy"]["mean"], expected)
    observation = np.random.default_rng(2).normal(size=28).astype(np.float32)
    assert np.array_equal(agent.act(observation), twin.act(observation))
    best = torch.load(run_dir / "best.pt")
    assert best["observation_stats"]["count"] < saved["observation_stats"]["count"]


@pytest.mark.parametrize("overrides, message", [
    ({"task": "car", "max_episode_steps": 8}, "observation_normalization applies to vector observations"),
    ({"observation_normalization": 1}, "observation_normalization must be true or false"),
    ({"es": {"weight_decay": 0.1, "sigma_decay": 0.9}}, r"unknown es settings \['sigma_decay'\] for the pgpe"),
    ({"agent": "shared"}, "agent 'shared' goes with strategy 'gaussian-mixture', got agent 'shared' with "
                          "strategy 'pgpe'"),
    ({"strategy": "cma-es"}, "unknown strategy 'cma-es'; allowed: openai-es, pgpe, gaussian-mixture"),
])
def test_bad_es_efficiency_settings_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        _config(**overrides)


def test_cli_trains_with_pgpe_and_normalisation_and_names_registered_choices(tmp_path, capsys):
    from hebbbench.cli import main

    common = ["train", "--task", "ant", "--population", "4", "--generations", "1", "--max-episode-steps", "10",
              "--backend", "inprocess"]
    assert main([*common, "--agent", "static", "--strategy", "pgpe", "--observation-normalization",
                 "--out", str(tmp_path / "run")]) == 0
    config = TrainConfig.from_file(tmp_path / "run" / "config.json")
    assert config.strategy == "pgpe" and config.observation_normalization
    assert main([*common, "--agent", "perceptron", "--out", str(tmp_path / "other")]) == 2
    assert "allowed agents: static, lstm, hebbian, modulated, shared" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "run"), "--strategy", "openai-es"]) == 2
    assert "drop --strategy" in capsys.readouterr().err
