"""What the sandbox (bubblewrap, ``docs/sandbox.md``) costs ``evaluate``, against the same
evaluation without it, in the same run.

Run: ``pytest benchmarks/test_sandbox_cost.py -s``. Each round is one
``evaluate(agent file, task="ant", episodes=2, workers=1)``: the agent's process started
(in the sandbox or not), five variations of two seeded episodes each, the results built.
The agent returns zeros, so the evaluation's own costs are all there is to see. Both sides
must give identical returns. The session ends with the seconds of each and the ratio
sandbox / none (the goal of issue 27: within 10%).
"""

from __future__ import annotations

import pytest

from hebbbench import evaluate
from hebbbench.system.processes import SANDBOXED, sandbox_status

ZERO_AGENT = '''
import numpy as np


class Zero:
    def reset(self, seed):
        pass

    def act(self, observation):
        return np.zeros(8, dtype=np.float32)


def make_agent(task, holdout, observation_space, action_space):
    return Zero()
'''
_MEASURED: dict[str, tuple[float, tuple]] = {}


@pytest.mark.parametrize("side", ["none", "sandbox"])
def test_evaluate_seconds(benchmark, tmp_path, monkeypatch, side):
    if side == "sandbox" and sandbox_status() != SANDBOXED:
        pytest.skip(f"no sandbox here: {sandbox_status()}")
    if side == "none":
        monkeypatch.setattr("hebbbench.evaluation.protocol.sandbox_status", lambda: "none (benchmark)")
    agent = tmp_path / "zero_agent.py"
    agent.write_text(ZERO_AGENT)

    def run():
        return evaluate(str(agent), task="ant", episodes=2, workers=1)

    results = benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    assert results.agent_sandbox == (SANDBOXED if side == "sandbox" else "none (benchmark)")
    _MEASURED[side] = (benchmark.stats.stats.median, tuple(v.returns for v in results.variations))
    benchmark.extra_info["median_s"] = _MEASURED[side][0]


def test_summary():
    if "sandbox" not in _MEASURED:
        pytest.skip("no sandbox here")
    (plain, same), (contained, other) = _MEASURED["none"], _MEASURED["sandbox"]
    assert same == other, "the sandbox changed the returns"
    print(f"\nevaluate: without sandbox {plain:.3f} s, with sandbox {contained:.3f} s "
          f"(+{contained - plain:.3f} s, ratio {contained / plain:.3f})")
