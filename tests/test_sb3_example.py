"""examples/sb3_ppo.py: PPO on a fold's training env gives an agent directory that evaluates."""

import importlib.util
import json
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
    assert sorted(p.name for p in run.iterdir()) == ["agent.py", "config.json", "model.zip", "normalisation.npz",
                                                     "progress.csv"]
    results = hebbbench.evaluate(str(run), task="ant", holdout="long-front", episodes=1, workers=1)
    assert results.test.name == "long-front" and len(results.variations) == 5
    again = hebbbench.evaluate(str(run), task="ant", holdout="long-front", episodes=1, workers=1)
    assert [v.returns for v in again.variations] == [v.returns for v in results.variations]


def test_a_ppo_run_checkpoints_and_resumes_to_its_budget(tmp_path):
    example = load_example()
    out = tmp_path / "ppo"
    example.train_ppo("ant", "long-front", steps=128, out=out, envs=2, n_steps=32, checkpoint_steps=64)
    rows = (out / "progress.csv").read_text().splitlines()
    assert rows[0].startswith("env_steps,") and [row.split(",")[0] for row in rows[1:]] == ["64", "128"]
    config = json.loads((out / "config.json").read_text())
    config["steps"] = 192  # a larger budget, as after an interrupted run
    (out / "config.json").write_text(json.dumps(config))
    example.resume_ppo(out)
    assert (out / "progress.csv").read_text().splitlines()[-1].startswith("192,")
    with pytest.raises(ValueError, match="already holds a PPO run"):
        example.train_ppo("ant", "long-front", steps=128, out=out)
