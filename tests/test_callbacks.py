"""Training hooks: callbacks around each generation, and the agent family's fitness penalty."""

from __future__ import annotations

import pytest
import torch

from hebbbench.agents import hebbian_slice, parameter_count
from hebbbench.agents.networks import POLICIES
from hebbbench.es import coefficient_penalty
from hebbbench.training.callbacks import Callback
from hebbbench.training.train import TrainConfig, read_log, resume, train


def _config(**overrides) -> TrainConfig:
    values = dict(agent="hebbian", task="ant", population=4, generations=2, seed=3, max_episode_steps=10,
                  backend="inprocess")
    return TrainConfig(**{**values, **overrides})


class Recorder(Callback):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def on_start(self, config, run_dir, state):
        self.events.append(("start", state.generation))

    def on_scored(self, report):
        self.events.append(("scored", report.generation, report.state.generation, "sigma" in report.row))

    def on_generation(self, report):
        self.events.append(("generation", report.generation, report.state.generation, "sigma" in report.row))

    def on_end(self):
        self.events.append(("end",))


def test_callbacks_see_each_generation_and_change_no_number(tmp_path):
    recorder, rows = Recorder(), []
    watched = train(_config(), tmp_path / "watched", progress=False,
                    callbacks=[recorder, lambda report: rows.append(dict(report.row))])
    assert recorder.events == [("start", 0), ("scored", 0, 0, False), ("generation", 0, 1, True),
                               ("scored", 1, 1, False), ("generation", 1, 2, True), ("end",)]
    logged = read_log(watched)
    assert rows == logged  # a function is called with each generation's report, after its row is complete
    resume(watched, progress=False, generations=3, callbacks=[recorder])
    assert recorder.events[-4:] == [("start", 2), ("scored", 2, 2, False), ("generation", 2, 3, True), ("end",)]

    plain = train(_config(generations=3), tmp_path / "plain", progress=False)
    timing = ("seconds", "rollout_seconds", "worker_seconds")
    strip = [{k: v for k, v in row.items() if k not in timing} for row in read_log(plain)]
    assert strip == [{k: v for k, v in row.items() if k not in timing} for row in read_log(watched)]


def test_a_callback_that_is_neither_callback_nor_function_is_refused(tmp_path):
    with pytest.raises(TypeError, match="not 42"):
        train(_config(generations=1), tmp_path / "run", progress=False, callbacks=[42])
    assert not (tmp_path / "run").exists()  # refused before the run directory is made


def test_fitness_penalty_is_zero_by_default_and_the_coefficient_penalty_for_hebbian_families():
    for agent, policy in POLICIES.items():
        population = torch.randn(3, parameter_count(agent, "ant"), generator=torch.Generator().manual_seed(0))
        expected = coefficient_penalty(population, hebbian_slice(agent, "ant"))
        assert torch.equal(policy.fitness_penalty(population, "ant"), expected)
        assert (expected < 0).all() == (policy.rule_prefix is not None)
