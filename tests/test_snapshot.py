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
