"""Hostile agents: the evaluation owns the clock and outlives the agent.

An agent file runs in worker processes; the evaluating process watches them. Each case
here is an agent that would once have hung ``hebbbench evaluate`` or ended it with exit
status 0 and no results. Add a new hostile agent as one more case below.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from hebbbench import evaluate
from hebbbench.agent_file import AgentError
from hebbbench.episodes import EvaluationError

AGENT = '''
import os
import threading
import time

import numpy as np

{module}


class Agent:
    def reset(self, seed):
        pass

    def act(self, observation):
{act}
        return np.zeros(8)


def make_agent(task, holdout, observation_space, action_space):
    return Agent()
'''


def agent_file(tmp_path: Path, module: str = "", act: str = "pass") -> Path:
    path = tmp_path / "hostile_agent.py"
    body = "\n".join("        " + line for line in act.splitlines())
    path.write_text(AGENT.format(module=module, act=body))
    return path


def test_an_agent_that_hangs_while_loading_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr("hebbbench.episodes.AGENT_LOAD_TIMEOUT", 3.0)
    agent = agent_file(tmp_path, module="time.sleep(600)")
    start = time.monotonic()
    with pytest.raises(AgentError, match="loading the agent .* took longer than 3 s"):
        evaluate(str(agent), task="ant", episodes=1, workers=1)
    assert time.monotonic() - start < 60


def test_an_agent_that_swallows_the_episode_alarm_is_stopped_from_outside(tmp_path, monkeypatch):
    monkeypatch.setattr("hebbbench.episodes.TIMEOUT_GRACE", 1.0)
    act = "while True:\n    try:\n        time.sleep(100)\n    except BaseException:\n        pass"
    agent = agent_file(tmp_path, act=act)
    start = time.monotonic()
    with pytest.raises(AgentError, match="exceeded the episode timeout of 1 s and the agent did not give control"):
        evaluate(str(agent), task="ant", episodes=1, workers=1, episode_timeout=1.0)
    assert time.monotonic() - start < 60


@pytest.mark.parametrize("where", ["module", "act"])
def test_an_agent_that_exits_the_process_is_an_error_not_a_silent_success(tmp_path, where):
    agent = agent_file(tmp_path, **{where: "os._exit(0)"})
    with pytest.raises(EvaluationError, match="exited before all episodes were run"):
        evaluate(str(agent), task="ant", episodes=1, workers=1)
    done = subprocess.run([sys.executable, "-m", "hebbbench.cli", "evaluate", str(agent), "--task", "ant",
                           "--episodes", "1", "--workers", "1", "--output", str(tmp_path / "r.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "exited before all episodes were run" in done.stderr
    assert not (tmp_path / "r.json").exists()


def test_an_agent_that_leaves_a_thread_running_does_not_keep_evaluate_alive(tmp_path):
    module = "threading.Thread(target=time.sleep, args=(600,)).start()  # not a daemon"
    agent = agent_file(tmp_path, module=module)
    done = subprocess.run([sys.executable, "-m", "hebbbench.cli", "evaluate", str(agent), "--task", "ant",
                           "--episodes", "1", "--workers", "1", "--output", str(tmp_path / "r.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.json").is_file()
