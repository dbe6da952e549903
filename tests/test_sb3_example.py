"""examples/sb3_ppo.py: PPO on a fold's training env gives an agent directory that evaluates."""

import importlib.util
from pathlib import Path

import pytest

import hebbbench

pytest.importorskip("stable_baselines3")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sb3_ppo.py"


def load_example():
    spec = importlib.util.spec_from_file_location("sb3_ppo", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_tiny_ppo_run_writes_an_agent_directory_that_hebbbench_evaluates(tmp_path):
    run = load_example().train_ppo("ant", "long-front", steps=128, out=tmp_path / "ppo", envs=2, n_steps=64)
    assert sorted(p.name for p in run.iterdir()) == ["agent.py", "model.zip"]
    results = hebbbench.evaluate(str(run), task="ant", holdout="long-front", episodes=1, workers=1)
    assert results.test.name == "long-front" and len(results.variations) == 5
    again = hebbbench.evaluate(str(run), task="ant", holdout="long-front", episodes=1, workers=1)
    assert [v.returns for v in again.variations] == [v.returns for v in results.variations]
