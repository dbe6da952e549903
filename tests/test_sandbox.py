"""The sandbox of an agent file's process (bubblewrap, ``docs/sandbox.md``), tried as issue 27's
hostile submitter did: a chain of ``setsid`` processes that waits for ``evaluate`` to end and
then writes, writes into the repository and the board, and a connection to a listener on
this machine. Skipped where bubblewrap cannot run; the last test covers evaluate without it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_hostile_agents import _alive, _none_alive, agent_file

from hebbbench import evaluate
from hebbbench.evaluation.agent_file import AgentError
from hebbbench.system.processes import SANDBOXED, sandbox_status

ROOT = Path(__file__).resolve().parents[1]
needs_sandbox = pytest.mark.skipif(sandbox_status() != SANDBOXED, reason=f"no sandbox here: {sandbox_status()}")
#: Processes in the escaping chain beyond the first (the issue's reached 10 levels).
DEPTH = 9

CHAIN = '''
import os
import subprocess
import sys
import time

depth, go, target = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if depth > 0:  # each level in a session of its own, as the issue's escaping agent
    subprocess.Popen([sys.executable, __file__, *map(str, (depth - 1, go, target)), *sys.argv[4:]],
                     start_new_session=True, stdin=subprocess.DEVNULL)
open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"chain-{target.replace('/', '_')}-{depth}"), "w").close()
while not os.path.exists(go):  # until evaluate has returned
    time.sleep(0.05)
with open(target, "a") as forged:
    forged.write(f"level {depth} outlived the evaluation\\n")
'''


def chain_agent(tmp_path: Path, act: str = "pass") -> tuple[Path, str, Path, Path]:
    """An agent directory whose import starts the chain and waits until all of it runs;
    its processes carry ``marker`` on their command line. Returns (agent, marker, go, target)."""
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "chain.py").write_text(CHAIN)
    marker, go, target = f"hebbbench-chain-{tmp_path.name}", tmp_path / "go", tmp_path / "forged.txt"
    tag = f"chain-{str(target).replace('/', '_')}-0"
    module = (f"import subprocess, sys\nsubprocess.Popen([sys.executable, {str(agent / 'chain.py')!r}, "
              f"'{DEPTH}', {str(go)!r}, {str(target)!r}, {marker!r}], start_new_session=True)\n"
              f"scratch = os.environ.get('TMPDIR', '/tmp')\nfor _ in range(300):\n"
              f"    if os.path.exists(os.path.join(scratch, {tag!r})):\n        break\n    time.sleep(0.1)\n"
              f"else:\n    raise RuntimeError('the chain did not start')")
    agent_file(agent, module=module, act=act)
    return agent, marker, go, target


def assert_chain_ended(marker: str, go: Path, target: Path) -> None:
    assert _none_alive(marker), f"processes of the chain outlived the evaluation: {_alive(marker)}"
    go.touch()
    time.sleep(1.0)
    assert not target.exists(), target.read_text()


@needs_sandbox
def test_a_setsid_chain_started_by_an_agent_does_not_outlive_a_successful_evaluation(tmp_path):
    agent, marker, go, target = chain_agent(tmp_path)
    results = evaluate(str(agent / "hostile_agent.py"), task="ant", episodes=1, workers=1)
    assert results.agent_sandbox == SANDBOXED
    assert_chain_ended(marker, go, target)


@needs_sandbox
def test_a_setsid_chain_started_by_an_agent_does_not_outlive_a_failed_evaluation(tmp_path):
    agent, marker, go, target = chain_agent(tmp_path, act="raise RuntimeError('agent fails')")
    with pytest.raises(AgentError, match="agent fails"):
        evaluate(str(agent / "hostile_agent.py"), task="ant", episodes=1, workers=1)
    assert_chain_ended(marker, go, target)


@needs_sandbox
def test_a_setsid_chain_started_by_an_agent_does_not_outlive_a_killed_evaluate(tmp_path):
    agent, marker, go, target = chain_agent(tmp_path, act="time.sleep(0.05)")
    process = subprocess.Popen([sys.executable, "-m", "hebbbench.cli", "evaluate", str(agent / "hostile_agent.py"),
                                "--task", "ant",
                                "--episodes", "20", "--workers", "1", "--output", str(tmp_path / "r.json")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(_alive(marker)) < DEPTH + 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(_alive(marker)) == DEPTH + 1, "the chain never started"
    process.terminate()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert_chain_ended(marker, go, target)


@needs_sandbox
@pytest.mark.parametrize("folder", ["", "leaderboard", "hebbbench"])
def test_an_agent_cannot_write_into_the_repository_the_board_or_the_package(tmp_path, folder):
    target = ROOT / folder / f".sandbox-probe-{tmp_path.name}"
    try:
        with pytest.raises(AgentError, match=f"Read-only file system: {str(target)!r}"):
            evaluate(str(agent_file(tmp_path, module=f"open({str(target)!r}, 'w')")), task="ant", episodes=1,
                     workers=1)
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


@needs_sandbox
def test_an_agent_that_writes_to_its_scratch_folder_and_tries_the_board_still_completes(tmp_path):
    target = ROOT / "leaderboard" / f".sandbox-probe-{tmp_path.name}"
    module = (f"open(os.path.join(os.environ['TMPDIR'], 'cache.txt'), 'w').write('fine')\n"
              f"try:\n    open({str(target)!r}, 'w')\nexcept OSError:\n    pass")
    try:
        results = evaluate(str(agent_file(tmp_path, module=module)), task="ant", episodes=1, workers=1)
        assert len(results.variations) == 5 and results.agent_sandbox == SANDBOXED
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


@needs_sandbox
def test_an_agent_cannot_reach_a_listener_on_this_machines_loopback(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        module = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
                  f"    outcome = 'connected'\nexcept OSError as error:\n    outcome = f'unreachable ({{error}})'\n"
                  f"raise RuntimeError('outcome: ' + outcome)")
        with pytest.raises(AgentError, match="outcome: unreachable"):
            evaluate(str(agent_file(tmp_path, module=module)), task="ant", episodes=1, workers=1)
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_without_the_sandbox_evaluate_still_runs_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr("hebbbench.evaluation.protocol.sandbox_status", lambda: "none (bubblewrap is not installed)")
    results = evaluate(str(agent_file(tmp_path)), task="ant", episodes=1, workers=1)
    assert results.agent_sandbox == "none (bubblewrap is not installed)"
    assert results.to_dict()["agent"]["sandbox"] == "none (bubblewrap is not installed)"
