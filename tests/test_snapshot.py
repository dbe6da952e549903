"""A snapshot keeps what a run directory's agent reads and nothing that only training needs:
it acts exactly as the run, is smaller, and refuses --resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hebbbench.cli import main
from hebbbench.training.run_agent import load_run_agent
from hebbbench.training.train import TrainConfig, resume, train


@pytest.mark.parametrize("settings", [{"es": {"optimizer": "adam", "lr": 0.01}},
                                      {"strategy": "pgpe", "observation_normalization": True}])
def test_a_snapshot_acts_as_its_run_is_smaller_and_cannot_be_resumed(settings, tmp_path, capsys):
    config = TrainConfig(agent="static", task="ant", population=4, generations=2, seed=1, max_episode_steps=10,
                         backend="inprocess", **settings)
    run_dir = train(config, tmp_path / "run", progress=False)
    assert main(["snapshot", str(run_dir), str(tmp_path / "shot")]) == 0
    shot = tmp_path / "shot"
    assert "evaluate it: hebbbench evaluate" in capsys.readouterr().out
    assert sorted(p.name for p in shot.iterdir()) == ["agent.py", "best.pt", "checkpoint.pt", "config.json",
                                                      "log.jsonl"]
    assert (shot / "checkpoint.pt").stat().st_size < (run_dir / "checkpoint.pt").stat().st_size
    assert (shot / "agent.py").read_bytes() == (run_dir / "agent.py").read_bytes()
    observation = np.random.default_rng(0).normal(size=28).astype(np.float32)
    for checkpoint in ("best", "final"):
        for sigma in ("checkpoint", 0):
            agents = [load_run_agent(d, "ant", checkpoint=checkpoint, sigma=sigma) for d in (run_dir, shot)]
            for agent in agents:
                agent.reset(7)
            assert np.array_equal(agents[0].act(observation), agents[1].act(observation))
    assert not {"adam_m", "adam_v", "moments"} & set(torch.load(shot / "checkpoint.pt")["strategy"])
    with pytest.raises(ValueError, match="is a snapshot"):
        resume(shot, generations=3, progress=False)
    assert main(["snapshot", str(run_dir), str(shot)]) == 2
    assert "not an empty folder" in capsys.readouterr().err


def _shared_run(tmp_path, **es):
    config = TrainConfig(agent="shared", task="ant", rho=256, population=4, generations=2, seed=3,
                         max_episode_steps=10, variations=("default",), backend="inprocess",
                         es={"optimizer": "adam", "lr": 1.0, **es})
    return train(config, tmp_path / "run", progress=False)


def test_a_half_precision_snapshot_keeps_the_best_mixture_in_float16_and_nothing_else(tmp_path, capsys):
    run_dir = _shared_run(tmp_path)
    shot = tmp_path / "shot"
    assert main(["snapshot", "--half-precision", str(run_dir), str(shot)]) == 0
    assert sorted(p.name for p in shot.iterdir()) == ["agent.py", "best.pt", "config.json", "log.jsonl"]
    saved, original = torch.load(shot / "best.pt"), torch.load(run_dir / "best.pt")
    logits = saved["strategy"]["params"]["logits"]
    assert logits.dtype == torch.float16 and saved["strategy"]["moments"] == {}
    widened = torch.softmax(logits.double(), 1)
    distance = 0.5 * (widened - torch.softmax(original["strategy"]["params"]["logits"].double(), 1)).abs().sum(1)
    assert 0 < float(distance.max()) < 1e-3  # Adam at lr 1 moved lambda, and float16 moved it a little
    agent = load_run_agent(shot, "ant")
    agent.reset(7)
    assert np.isfinite(agent.act(np.zeros(28, dtype=np.float32))).all()
    with pytest.raises(ValueError, match="keeps only the best generation.*checkpoint=best"):
        load_run_agent(shot, "ant", checkpoint="final")
    with pytest.raises(ValueError, match="is a snapshot"):
        resume(shot, generations=3, progress=False)


def test_a_random_fixed_mixture_snapshot_drops_the_unused_lambda_and_acts_as_its_run(tmp_path):
    run_dir = _shared_run(tmp_path, assignment="random-fixed")
    shot = tmp_path / "shot"
    assert main(["snapshot", "--half-precision", str(run_dir), str(shot)]) == 0
    assert torch.load(shot / "best.pt")["strategy"]["params"]["logits"].shape == (1, 1)
    assert (shot / "best.pt").stat().st_size < (run_dir / "best.pt").stat().st_size / 20
    observation = np.random.default_rng(0).normal(size=28).astype(np.float32)
    agents = [load_run_agent(d, "ant") for d in (run_dir, shot)]
    for agent in agents:
        agent.reset(11)
    assert np.array_equal(agents[0].act(observation), agents[1].act(observation))


def test_a_half_precision_snapshot_of_a_strategy_without_that_form_is_refused_and_writes_nothing(tmp_path, capsys):
    config = TrainConfig(agent="static", task="ant", population=4, generations=1, seed=1, max_episode_steps=5,
                         backend="inprocess")
    run_dir = train(config, tmp_path / "run", progress=False)
    assert main(["snapshot", "--half-precision", str(run_dir), str(tmp_path / "shot")]) == 2
    assert "keeps no half-precision form" in capsys.readouterr().err
    assert not (tmp_path / "shot").exists()
