"""What the agent's own process costs per env step, against the agent in the worker itself.

Run: ``pytest benchmarks/test_agent_process.py -s``. Each round plays the same seeded ant
episodes (default variation, seeds 1000000-1000002) through the evaluation's
:class:`~hebbbench.evaluation.episodes.EpisodeRunner`, with the agent either built in this process
(as evaluation workers did before agents got their own process) or behind
:class:`~hebbbench.evaluation.agent_process.AgentProcess` (what ``hebbbench evaluate`` does for an
agent file now). Agents: an agent file that returns zeros (the boundary's cost alone) and
the board's static ant baseline (a trained MLP run directory: a real agent's cost). Both
sides must give identical returns. The session ends with microseconds per step and the
ratio agent process / in process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hebbbench.envs import get_variation
from hebbbench.evaluation.agent_process import AgentProcess
from hebbbench.evaluation.episodes import AgentSpec, EpisodeRunner, Job, task_spaces

ROOT = Path(__file__).resolve().parents[1]
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
SEEDS = (1_000_000, 1_000_001, 1_000_002)
_MEASURED: dict[tuple[str, str], tuple[float, tuple]] = {}


def _agent_source(name: str, tmp_path_factory) -> str:
    if name == "static-baseline":
        return str(ROOT / "leaderboard" / "agents" / "ant-static-baseline-gen68")
    path = tmp_path_factory.mktemp("zero") / "zero_agent.py"
    path.write_text(ZERO_AGENT)
    return str(path)


@pytest.mark.parametrize("agent_name", ["zero", "static-baseline"])
@pytest.mark.parametrize("side", ["in process", "agent process"])
def test_us_per_step(benchmark, tmp_path_factory, agent_name, side):
    spec = AgentSpec(_agent_source(agent_name, tmp_path_factory), "ant", "long-front", *task_spaces("ant"), {})
    agent = spec.make() if side == "in process" else AgentProcess(spec)
    runner = EpisodeRunner(agent, episode_timeout=None)
    env_id = get_variation("ant", "default").env_id
    jobs = [Job(i, "default", env_id, i, len(SEEDS), seed) for i, seed in enumerate(SEEDS)]

    def play():
        return tuple(runner.run(job) for job in jobs)

    outcomes = benchmark.pedantic(play, rounds=3, iterations=1, warmup_rounds=1)
    runner.close()
    if isinstance(agent, AgentProcess):
        agent.close()
    steps = sum(length for _, length in outcomes)
    _MEASURED[agent_name, side] = (benchmark.stats.stats.min / steps * 1e6, outcomes)
    benchmark.extra_info["us_per_step"] = _MEASURED[agent_name, side][0]
    benchmark.extra_info["steps"] = steps


def test_summary():
    for agent_name in ("zero", "static-baseline"):
        (inside, same), (apart, other) = _MEASURED[agent_name, "in process"], _MEASURED[agent_name, "agent process"]
        assert same == other, "the agent's process changed the returns"
        print(f"\n{agent_name}: in process {inside:.1f} us/step, agent process {apart:.1f} us/step "
              f"(+{apart - inside:.1f} us, ratio {apart / inside:.2f})")
