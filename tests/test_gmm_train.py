"""`hebbbench train --agent shared`: the Hebbian network with rules from the mixture ES."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from helpers import outcomes

from hebbbench.cli import main
from hebbbench.envs import get_variation
from hebbbench.es import GaussianMixtureES
from hebbbench.evaluation.agent_file import load_agent_factory
from hebbbench.training.train import TrainConfig, make_strategy, read_log, resume, train

TINY = {"ant": 15, "car": 8}  # policy steps per episode in these tests


def _config(task: str, **overrides) -> TrainConfig:
    values = dict(agent="shared", task=task, rho=256, population=4, generations=2, seed=3,
                  max_episode_steps=TINY[task], variations=("default",), backend="inprocess")
    values.update(overrides)
    return TrainConfig(**values)


@pytest.mark.parametrize("task, synapses, dense", [("ant", 12_288, 0), ("car", 91_328, 1_362)])
def test_strategy_matches_the_hebbian_layout(task, synapses, dense):
    strategy = make_strategy(_config(task))
    assert isinstance(strategy, GaussianMixtureES)
    assert (strategy.num_synapses, strategy.num_rules, strategy.num_dense) == (
        synapses, synapses // 256, dense)
    assert strategy.num_params == {"ant": 61_440, "car": 458_002}[task]
    assert make_strategy(_config(task, rho="N")).num_rules == 1


@pytest.mark.parametrize("task", ["ant", "car"])
def test_tiny_shared_run_logs_the_diagnostics_and_is_an_agent(task, tmp_path):
    run_dir = train(_config(task), tmp_path / "run", progress=False)
    rows = read_log(run_dir)
    assert [row["generation"] for row in rows] == [0, 1]
    for row in rows:
        assert np.isfinite(row["return_default"]) and row["penalty_mean"] < 0
        assert 0 < row["entropy"] <= np.log({"ant": 48, "car": 356}[task]) + 1e-6
        assert row["grad_norm_logits"] > 0 and row["grad_norm_means"] > 0
        assert (row["grad_norm_dense"] > 0) == (task == "car")
        rules, synapses = {"ant": (48, 12_288), "car": (356, 91_328)}[task]
        assert 1 <= row["rules_in_use"] <= rules and row["largest_rule_synapses"] >= synapses / rules
    assert json.loads((run_dir / "config.json").read_text())["strategy"] == "gaussian-mixture"
    env = gym.make(get_variation(task, "default").env_id, max_episode_steps=3)
    made = load_agent_factory(run_dir)(task, "whatever", env.observation_space, env.action_space)
    observation, _ = env.reset(seed=0)
    made.reset(0)
    env.step(made.act(observation))
    env.close()


def test_resumed_shared_run_ends_with_the_uninterrupted_state(tmp_path):
    straight = train(_config("ant", generations=3), tmp_path / "straight", progress=False)
    run_dir = train(_config("ant", generations=1), tmp_path / "split", progress=False)
    config = json.loads((run_dir / "config.json").read_text())
    config["generations"] = 3
    (run_dir / "config.json").write_text(json.dumps(config))
    resume(run_dir, progress=False, backend="local", workers=2)  # rules sent explicitly to 2 processes
    assert outcomes(run_dir) == outcomes(straight)
    a = torch.load(straight / "checkpoint.pt")["strategy"]["params"]
    b = torch.load(run_dir / "checkpoint.pt")["strategy"]["params"]
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_rho_is_checked(tmp_path, capsys):
    with pytest.raises(ValueError, match="rho"):
        _config("ant", rho=0)
    with pytest.raises(ValueError, match="rho applies only"):
        TrainConfig(agent="hebbian", task="ant", rho=16)
    with pytest.raises(ValueError, match="optimizer"):
        _config("ant", es={"optimizer": "rmsprop"})
    assert main(["train", "--agent", "shared", "--task", "ant", "--rho", "0", "--out",
                 str(tmp_path / "x")]) == 2
    assert "rho" in capsys.readouterr().err


def test_a_shared_runs_plot_has_the_mixtures_panel_beside_the_curve(tmp_path):
    from PIL import Image

    run_dir = train(_config("ant", generations=1), tmp_path / "shared", progress=False)
    plain = train(TrainConfig(agent="hebbian", task="ant", population=4, generations=1, max_episode_steps=10,
                              backend="inprocess"), tmp_path / "hebbian", progress=False)
    assert main(["plot", str(run_dir)]) == 0 and main(["plot", str(plain)]) == 0
    wide = Image.open(tmp_path / "shared-learning-curve.png").size[0]
    assert wide > 1.5 * Image.open(tmp_path / "hebbian-learning-curve.png").size[0]


def test_a_tiny_random_fixed_run_keeps_its_assignment_and_is_an_agent_acting_with_it(tmp_path):
    config = _config("ant", es={"assignment": "random-fixed", "means_init_std": 10.0})
    run_dir = train(config, tmp_path / "run", progress=False)
    rows = read_log(run_dir)
    assert all(row["entropy"] == 0.0 and row["grad_norm_logits"] == 0.0 and row["grad_norm_means"] > 0
               for row in rows)
    saved = torch.load(run_dir / "best.pt")["strategy"]
    fresh = make_strategy(config)
    assert torch.equal(saved["assignment"], fresh.assignment)
    assert torch.equal(saved["params"]["logits"], torch.zeros_like(fresh.logits))
    env = gym.make(get_variation("ant", "default").env_id, max_episode_steps=3)
    made = load_agent_factory(run_dir)("ant", "whatever", env.observation_space, env.action_space)
    observation, _ = env.reset(seed=0)
    made.reset(0)
    env.step(made.act(observation))
    env.close()
