"""Hostile agents: the evaluation owns the clock and outlives the agent.

An agent file runs in its own process, apart from the worker that plays the env and sums
the rewards; the evaluating process watches the workers. Each case here is an agent that
would once have hung ``hebbbench evaluate``, ended it with exit status 0 and no results, or
changed its own scores. Add a new hostile agent as one more case below.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hebbbench import evaluate
from hebbbench.evaluation.agent_file import AgentError

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


def test_an_agent_that_hangs_while_loading_is_stopped(tmp_path):
    agent = agent_file(tmp_path, module="time.sleep(600)")
    start = time.monotonic()
    with pytest.raises(AgentError, match=r"loading the agent .* took longer than 3 s.*\(--load-timeout\)"):
        evaluate(str(agent), task="ant", episodes=1, workers=1, load_timeout=3)
    assert time.monotonic() - start < 60


def test_load_timeout_on_the_command_line_stops_an_agent_that_hangs_at_import_in_seconds(tmp_path):
    agent = agent_file(tmp_path, module="time.sleep(600)")
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "hebbbench.cli", "evaluate", str(agent), "--task", "ant",
                           "--episodes", "1", "--workers", "1", "--episode-timeout", "5", "--load-timeout", "2",
                           "--output", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "took longer than 2 s" in done.stderr and "--load-timeout" in done.stderr
    assert time.monotonic() - start < 30, "the agent's load deadline did not follow --load-timeout"
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("value", [0, 0.5, -1, float("nan"), 8 * 24 * 3600.0, "10", True])
def test_a_load_timeout_outside_its_range_is_refused_naming_value_and_range(tmp_path, value):
    with pytest.raises(ValueError, match=r"load_timeout \(--load-timeout\) must be a number of seconds in \[1, "):
        evaluate(str(agent_file(tmp_path)), task="ant", episodes=1, workers=1, load_timeout=value)


SWALLOW_ALARM = "while True:\n    try:\n        time.sleep(100)\n    except BaseException:\n        pass"


def test_an_agent_that_swallows_every_signal_is_stopped_by_the_clock_outside_its_process(tmp_path):
    agent = agent_file(tmp_path, act=SWALLOW_ALARM)
    start = time.monotonic()
    with pytest.raises(AgentError, match=r"exceeded the episode timeout of 1 s \(at step 0\)"):
        evaluate(str(agent), task="ant", episodes=1, workers=1, episode_timeout=1.0)
    assert time.monotonic() - start < 60


class SwallowingAgent:
    """An in-memory agent (it runs inside the worker, as a notebook user's own code does)."""

    def reset(self, seed):
        pass

    def act(self, observation):
        while True:
            try:
                time.sleep(100)
            except BaseException:
                pass


def make_swallowing_agent(task, holdout, observation_space, action_space):
    return SwallowingAgent()


def test_a_worker_whose_in_memory_agent_swallows_the_alarm_is_stopped_from_outside(monkeypatch):
    monkeypatch.setattr("hebbbench.evaluation.episodes.TIMEOUT_GRACE", 1.0)
    start = time.monotonic()
    with pytest.raises(AgentError, match="exceeded the episode timeout of 1 s and the agent did not give control"):
        evaluate(make_swallowing_agent, task="ant", episodes=1, workers=2, episode_timeout=1.0)
    assert time.monotonic() - start < 60


@pytest.mark.parametrize("where", ["module", "act"])
def test_an_agent_that_exits_the_process_is_an_error_not_a_silent_success(tmp_path, where):
    agent = agent_file(tmp_path, **{where: "os._exit(0)"})
    with pytest.raises(AgentError, match="process ended with exit code 0"):
        evaluate(str(agent), task="ant", episodes=1, workers=1)
    done = subprocess.run([sys.executable, "-m", "hebbbench.cli", "evaluate", str(agent), "--task", "ant",
                           "--episodes", "1", "--workers", "1", "--output", str(tmp_path / "r.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "process ended with exit code 0" in done.stderr
    assert not (tmp_path / "r.json").exists()


def test_an_agent_that_leaves_a_thread_running_does_not_keep_evaluate_alive(tmp_path):
    module = "threading.Thread(target=time.sleep, args=(600,)).start()  # not a daemon"
    agent = agent_file(tmp_path, module=module)
    done = subprocess.run([sys.executable, "-m", "hebbbench.cli", "evaluate", str(agent), "--task", "ant",
                           "--episodes", "1", "--workers", "1", "--output", str(tmp_path / "r.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.json").is_file()


FORGER = """
import hebbbench.evaluation.episodes
import hebbbench.envs.ant

_step = hebbbench.envs.ant.AntMorphologyEnv.step


def _forged_step(self, action):
    observation, reward, terminated, truncated, info = _step(self, action)
    return observation, 1000.0, terminated, truncated, info


hebbbench.envs.ant.AntMorphologyEnv.step = _forged_step
hebbbench.evaluation.episodes.EpisodeRunner.run = lambda self, job: (4321.0, 960)
"""


def test_an_agent_that_patches_the_env_and_the_episode_loop_at_import_cannot_change_its_returns(tmp_path):
    honest = evaluate(str(agent_file(tmp_path)), task="ant", episodes=1, workers=1)
    forger = tmp_path / "forger"
    forger.mkdir()
    forged = evaluate(str(agent_file(forger, module=FORGER)), task="ant", episodes=1, workers=1)
    assert [v.returns for v in forged.variations] == [v.returns for v in honest.variations]
    assert [v.lengths for v in forged.variations] == [v.lengths for v in honest.variations]
    assert max(v.returns[0] for v in honest.variations) < 1000


def _gone(pid: int, within: float = 10.0) -> bool:
    """Whether process ``pid`` has ended (and been reaped) within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.1)
    return False


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _alive(marker: str) -> list[int]:
    """Processes (on the whole machine, sandboxes included) whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def _none_alive(marker: str, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while _alive(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _alive(marker)


def sleeper(marker: str) -> str:
    """Agent code that starts a process named by ``marker`` (in its command line) that sleeps."""
    return f"[sys.executable, '-c', 'import time; time.sleep(600)', {marker!r}]"


@linux_only
@pytest.mark.parametrize("escape", ["", "os.setsid()"])
def test_a_process_the_agent_forks_and_abandons_does_not_outlive_the_evaluation(tmp_path, escape):
    marker = f"hebbbench-test-sleeper-{tmp_path.name}"
    module = (f"import sys\nchild = os.fork()\nif child == 0:\n    {escape or 'pass'}\n"
              f"    os.execv(sys.executable, {sleeper(marker)})")
    agent = tmp_path / "agent"
    agent.mkdir()
    results = evaluate(str(agent_file(agent, module=module)), task="ant", episodes=1, workers=1)
    assert len(results.variations) == 5
    assert _none_alive(marker)


def test_an_agent_that_exits_while_a_forked_child_holds_its_pipe_is_reported_not_waited_for(tmp_path):
    module = "if os.fork() == 0:\n    time.sleep(600)\n    os._exit(0)"
    agent = agent_file(tmp_path, module=module, act="os._exit(3)")
    start = time.monotonic()
    with pytest.raises(AgentError, match=r"the agent.s process ended with exit code 3 in act \(os._exit"):
        evaluate(str(agent), task="ant", episodes=1, workers=1)
    assert time.monotonic() - start < 60


CLASS_AGENT = '''
import os

import numpy as np


class Agent:
    def reset(self, seed):
        pass

{methods}


def make_agent(task, holdout, observation_space, action_space):
{module}
    return Agent()
'''


@pytest.mark.parametrize("methods, module, message", [
    ("    def act(self, observation):\n        return [[0.0] * 8, [0.0]]", "    pass",
     r"returned an invalid action .* reading it as one raised ValueError"),
    ("    def act(self, observation):\n        class Bad(Exception):\n            def __str__(self):\n"
     "                raise RuntimeError\n        raise Bad()", "    pass",
     r"the agent's act raised Bad: \(its message could not be read"),
    ("    @property\n    def observe(self):\n        raise RuntimeError('no observe')\n\n"
     "    def act(self, observation):\n        return np.zeros(8)", "    pass",
     r"reading the agent's observe raised RuntimeError: no observe"),
    ("    def act(self, observation):\n        raise KeyboardInterrupt", "    pass",
     r"the agent's act raised KeyboardInterrupt .*step 0"),
    ("    def act(self, observation):\n        return np.zeros(8)", "    os.closerange(3, 100)",
     r"stopped answering while loading the agent .*: it closed its end of the pipe"),
])
def test_an_agent_that_breaks_in_odd_ways_gets_a_message_that_names_what_it_did(tmp_path, methods, module, message):
    path = tmp_path / "odd_agent.py"
    path.write_text(CLASS_AGENT.format(methods=methods, module=module))
    with pytest.raises(AgentError, match=message):
        evaluate(str(path), task="ant", episodes=1, workers=1)


def test_an_agent_that_rewrites_its_own_file_is_refused_and_the_hash_is_of_what_ran(tmp_path):
    """In the sandbox its file is read-only; without it, the changed hash gives it away."""
    agent = agent_file(tmp_path, module="open(__file__, 'a').write('# changed\\n')")
    with pytest.raises(AgentError, match="changed while it was evaluated|Read-only file system"):
        evaluate(str(agent), task="ant", episodes=1, workers=1)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (sandboxed ones included: /proc shows their real pids)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                stat = (entry / "stat").read_text()
                children.setdefault(int(stat[stat.rfind(")") + 2:].split()[1]), []).append(int(entry.name))
        except OSError:
            pass
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _agent_hosts(pid: int) -> list[int]:
    """The agent host processes (python running hebbbench.evaluation.agent_host, not bwrap) below ``pid``."""
    hosts = []
    for child in _descendants(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"hebbbench.evaluation.agent_host" in command and b"bwrap" not in command[0]:
            hosts.append(child)
    return hosts


@linux_only
def test_kill_stops_an_evaluation_cleanly_and_ends_its_agent(tmp_path):
    agent = agent_file(tmp_path, act="time.sleep(0.05)")
    process = subprocess.Popen([sys.executable, "-m", "hebbbench.cli", "evaluate", str(agent), "--task", "ant",
                                "--episodes", "20", "--workers", "1", "--output", str(tmp_path / "r.json")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (hosts := _agent_hosts(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert hosts, "the agent's process never started"
    time.sleep(2.0)
    process.terminate()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted; nothing was written" in stderr, stderr
    assert not (tmp_path / "r.json").exists()
    assert all(_gone(host) for host in hosts)


@linux_only
@pytest.mark.skipif(os.geteuid() == 0, reason="root may open any process's pipes through /proc")
def test_an_agent_cannot_open_its_workers_pipes_through_proc(tmp_path):
    """The route by which an agent could write forged results into the worker's queue (in
    the sandbox, the worker is not even in its view: its parent is bwrap)."""
    module = ("parent = f'/proc/{os.getppid()}'\nif b'bwrap' in open(parent + '/cmdline', 'rb').read():\n"
              "    raise RuntimeError('outcome: sandboxed')\ntry:\n    os.listdir(parent + '/fd')\n"
              "    found = 'opened'\nexcept PermissionError:\n    found = 'denied'\n"
              "raise RuntimeError(f'outcome: {found}')")
    agent = tmp_path / "agent"
    agent.mkdir()
    with pytest.raises(AgentError, match="outcome: (denied|sandboxed)"):
        evaluate(str(agent_file(agent, module=module)), task="ant", episodes=1, workers=1)
