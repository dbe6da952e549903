"""`hebbbench evaluate AGENT`: agent files written outside the project, and every bad input.

Agent files are real files in ``tmp_path``; commands run as a real subprocess (the
console script, as a user types it) or in-process through ``cli.main``.
"""

import json
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image
from test_hostile_agents import _agent_hosts

from hebbbench import cli
from hebbbench.envs import variations
from hebbbench.evaluation.results import load_results

HEBBBENCH = str(Path(sys.executable).parent / "hebbbench")

# A newcomer's agent: brakes in the car (episodes end after 20 steps of negative reward,
# so they are short) and kicks randomly in the ant.
NEW_USER_AGENT = """
import numpy as np

class Agent:
    def __init__(self, task, action_space):
        self.task, self.action_space = task, action_space

    def reset(self, seed):
        self.rng = np.random.default_rng(seed)

    def act(self, observation):
        if self.task == "car":
            return np.array([0.0, 0.0, 1.0])
        return self.rng.uniform(-1, 1, size=8)

def make_agent(task, holdout, observation_space, action_space):
    return Agent(task, action_space)
"""


def write_agent(folder: Path, act_body: str, header: str = "import numpy as np") -> Path:
    """An ant agent file whose act(observation) runs ``act_body``; self.calls counts act calls."""
    body = textwrap.indent(textwrap.dedent(act_body).strip(), " " * 8)
    path = folder / "agent.py"
    path.write_text(f"""{textwrap.dedent(header).strip()}


class Agent:
    def reset(self, seed):
        self.calls = 0
        self.rng = np.random.default_rng(seed)

    def act(self, observation):
        self.calls += 1
{body}


def make_agent(task, holdout, observation_space, action_space):
    return Agent()
""")
    return path


def run_cli(args, cwd):
    return subprocess.run([HEBBBENCH, "evaluate", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def assert_one_paragraph_error(stderr: str, *fragments: str) -> None:
    message = [line for line in stderr.splitlines() if line.startswith("hebbbench evaluate: ")]
    assert len(message) == 1, stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in message[0], message[0]


@pytest.mark.parametrize("task, workers", [("car", "1"), ("ant", "2")])
def test_an_agent_file_written_outside_the_project_evaluates(tmp_path, task, workers):
    (tmp_path / "my_agent.py").write_text(NEW_USER_AGENT)
    result = run_cli(["my_agent.py", "--task", task, "--episodes", "2", "--workers", workers,
                      "--output", "results.json"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for variation in variations(task):
        assert variation.name in result.stdout
    assert "TEST" in result.stdout and "not a full protocol run" in result.stdout
    results = load_results(tmp_path / "results.json")
    assert results.task == task and results.agent_path == "my_agent.py" and results.workers == int(workers)
    assert all(len(v.returns) == 2 for v in results.variations)
    # stderr is not a terminal here: progress comes as one line per finished variation
    done = [line.split(":")[0] for line in result.stderr.splitlines() if ": done (" in line]
    assert sorted(done) == sorted(v.name for v in variations(task))


def test_the_readme_agent_evaluates(tmp_path, capsys):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    snippet = next(block for block in blocks if "def make_agent" in block)
    (tmp_path / "my_agent.py").write_text(snippet)
    output = tmp_path / "results.json"
    assert cli.main(["evaluate", str(tmp_path / "my_agent.py"), "--task", "ant", "--episodes", "1",
                     "--workers", "1", "--output", str(output)]) == 0
    assert load_results(output).episodes_per_variation == 1


def test_a_directory_agent_loads_agent_py_which_finds_its_parameters(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "params.json").write_text(json.dumps({"torque": 0.5}))
    write_agent(run, "return np.full(8, TORQUE)", header="""
        import json
        from pathlib import Path
        import numpy as np
        TORQUE = json.loads((Path(__file__).parent / "params.json").read_text())["torque"]
        """)
    output = tmp_path / "results.json"
    args = ["evaluate", str(run), "--task", "ant", "--episodes", "1", "--workers", "1", "--output", str(output)]
    assert cli.main(args) == 0
    first = load_results(output).agent_sha256
    (run / "params.json").write_text(json.dumps({"torque": -0.5}))
    assert cli.main(args) == 0
    assert load_results(output).agent_sha256 != first  # the parameters are part of the agent's hash


def test_record_saves_one_gif_per_variation(tmp_path, capsys):
    (tmp_path / "my_agent.py").write_text(NEW_USER_AGENT)  # brakes: 21-step car episodes
    record = tmp_path / "videos"
    args = ["evaluate", str(tmp_path / "my_agent.py"), "--task", "car", "--episodes", "1", "--workers", "1",
            "--record", str(record), "--output", str(tmp_path / "r.json")]
    assert cli.main(args) == 0
    assert sorted(p.name for p in record.iterdir()) == sorted(f"{v.name}.gif" for v in variations("car"))
    for variation in variations("car"):
        with Image.open(record / f"{variation.name}.gif") as gif:
            assert gif.n_frames == 1 + 21 // 4 and gif.size == (320, 213)


def evaluate_in_process(tmp_path, agent, *extra):
    output = tmp_path / "results.json"
    code = cli.main(["evaluate", str(agent), "--task", "ant", "--episodes", "2", "--workers", "1",
                     "--output", str(output), *extra])
    assert not output.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files
    return code


@pytest.mark.parametrize("act_body, fragments", [
    ("return np.full(8, np.nan)", ["must be finite", "nan"]),
    ("return np.array([np.inf] + [0.0] * 7)", ["must be finite", "inf"]),
    ("return np.zeros(3)", ["must have shape (8,)", "got shape (3,)"]),
    ("return np.full(8, 1.5)", ["outside the action space", "never clips"]),
])
def test_an_invalid_action_is_refused_not_clipped(tmp_path, capsys, act_body, fragments):
    assert evaluate_in_process(tmp_path, write_agent(tmp_path, act_body)) == 2
    assert_one_paragraph_error(capsys.readouterr().err, "invalid action", "variation 'default'",
                               "episode 1 of 2", "seed 1000000", "step 0", *fragments)


def test_an_exception_in_act_names_variation_episode_seed_and_the_agents_message(tmp_path):
    agent = write_agent(tmp_path, """
        if self.calls == 5:
            raise RuntimeError("my network exploded")
        return np.zeros(8)
        """)
    result = run_cli([str(agent), "--task", "ant", "--episodes", "2", "--workers", "2", "--output", "r.json"],
                     cwd=tmp_path)
    assert result.returncode == 2
    assert_one_paragraph_error(result.stderr, "act raised RuntimeError: my network exploded", "variation '",
                               "episode ", "seed 100000", "step 4", "No results file was written")
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("content, fragments", [
    (None, ["does not exist", "make_agent"]),
    ("def make_agent(task, holdout, observation_space, action_space)\n    pass\n", ["syntax error at line 1"]),
    ("import numpy as np\n", ["defines no make_agent"]),
    ("raise ImportError('needs torch 9')\n", ["raised ImportError: needs torch 9"]),
    ("def make_agent(task, holdout, observation_space, action_space):\n    return 42\n",
     ["without callable reset and act"]),
    ("def make_agent(task, holdout, observation_space, action_space):\n    raise KeyError('fold')\n",
     ["make_agent('ant', 'long-front', ...) raised KeyError: 'fold'"]),
    ("import sys\nsys.exit(0)\n", ["raised SystemExit: 0"]),
    ("import sys\ndef make_agent(task, holdout, observation_space, action_space):\n    sys.exit('bye')\n",
     ["make_agent('ant', 'long-front', ...) raised SystemExit: bye"]),
])
def test_a_broken_agent_file_gets_a_clear_error(tmp_path, capsys, content, fragments):
    agent = tmp_path / "agent.py"
    if content is not None:
        agent.write_text(content)
    assert evaluate_in_process(tmp_path, agent) == 2
    assert_one_paragraph_error(capsys.readouterr().err, str(agent) if content is None else "agent", *fragments)


def test_a_missing_file_from_the_command_line(tmp_path):
    result = run_cli(["nowhere.py", "--task", "car"], cwd=tmp_path)
    assert result.returncode == 2
    assert_one_paragraph_error(result.stderr, "'nowhere.py' does not exist")
    assert list(tmp_path.iterdir()) == []


def test_an_episode_over_the_timeout_is_stopped(tmp_path, capsys):
    agent = write_agent(tmp_path, "time.sleep(0.01)\nreturn np.zeros(8)", header="import time\nimport numpy as np")
    assert evaluate_in_process(tmp_path, agent, "--episode-timeout", "0.3") == 2
    assert_one_paragraph_error(capsys.readouterr().err, "variation 'default'", "episode 1 of 2", "seed 1000000",
                               "exceeded the episode timeout of 0.3 s", "--episode-timeout")


def test_a_crashing_agent_is_reported_with_its_exit_code_and_episode(tmp_path):
    agent = write_agent(tmp_path, "import os\nos._exit(3)", header="import numpy as np")
    result = run_cli([str(agent), "--task", "ant", "--episodes", "1", "--workers", "2", "--output", "r.json"],
                     cwd=tmp_path)
    assert result.returncode == 2
    assert_one_paragraph_error(result.stderr, "the agent's process ended with exit code 3")
    assert "episode 1 of 1, seed 1000000, step 0" in result.stderr
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_stops_cleanly_without_a_results_file(tmp_path, workers):
    agent = write_agent(tmp_path, """
        time.sleep(0.02)
        return np.zeros(8)
        """, header="import time\nimport numpy as np")
    process = subprocess.Popen([HEBBBENCH, "evaluate", str(agent), "--task", "ant", "--episodes", "50",
                                "--workers", workers, "--output", "r.json"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60  # the agent cannot leave a mark (read-only in its sandbox): watch for it
    while not _agent_hosts(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert_one_paragraph_error(stderr, "interrupted; nothing was written")
    assert not (tmp_path / "r.json").exists()


def test_bad_options_fail_before_running(tmp_path, capsys):
    agent = write_agent(tmp_path, "return np.zeros(8)")
    assert cli.main(["evaluate", str(agent), "--task", "ant", "--holdout", "long-middle"]) == 2
    assert_one_paragraph_error(capsys.readouterr().err, "'long-middle'", "allowed: default, damage-left")
    assert cli.main(["evaluate", str(agent), "--task", "ant", "--output", str(tmp_path / "no" / "r.json")]) == 2
    assert_one_paragraph_error(capsys.readouterr().err, "folder does not exist")
    assert cli.main(["evaluate", str(agent), "--task", "ant", "--episodes", "0"]) == 2
    assert_one_paragraph_error(capsys.readouterr().err, "episodes must be an integer >= 1")
    for timeout in ("1e-6", "1e300", "nan"):
        assert cli.main(["evaluate", str(agent), "--task", "ant", "--episode-timeout", timeout]) == 2
        assert_one_paragraph_error(capsys.readouterr().err, "episode_timeout must be a number of seconds in [0.1,")
    assert cli.main(["evaluate", str(agent), "--task", "ant", "--output", "/proc/r.json"]) == 2
    assert_one_paragraph_error(capsys.readouterr().err, "cannot write the results file '/proc/r.json'")
    (tmp_path / "a-file").write_text("")
    assert cli.main(["evaluate", str(agent), "--task", "ant", "--episodes", "1", "--record", str(tmp_path / "a-file"),
                     "--output", str(tmp_path / "r.json")]) == 2
    assert_one_paragraph_error(capsys.readouterr().err, "as the recordings folder: File exists")
    assert not (tmp_path / "r.json").exists()
    source = agent.read_text()
    assert cli.main(["evaluate", str(agent), "--task", "ant", "--output", str(agent)]) == 2
    assert_one_paragraph_error(capsys.readouterr().err, "would replace the agent file")
    assert agent.read_text() == source
    folder = tmp_path / "agent_dir"
    folder.mkdir()
    (folder / "agent.py").write_text(source)
    assert cli.main(["evaluate", str(folder), "--task", "ant", "--output", str(folder / "r.json")]) == 2
    assert_one_paragraph_error(capsys.readouterr().err, "would change the agent")
    assert cli.main(["evaluate", str(folder), "--task", "ant", "--record", str(folder / "gifs"),
                     "--output", str(tmp_path / "r.json")]) == 2
    assert_one_paragraph_error(capsys.readouterr().err, "lies inside the agent's directory")
    assert sorted(p.name for p in folder.iterdir()) == ["agent.py"]


def test_results_that_cannot_be_written_are_kept_elsewhere(tmp_path, capsys, monkeypatch):
    """The disk fills up during an evaluation: the numbers are not lost."""
    import hebbbench.evaluation.results as results_module

    agent = write_agent(tmp_path, "return np.zeros(8)")
    monkeypatch.setenv("TMPDIR", str(tmp_path / "rescue"))
    (tmp_path / "rescue").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    real = results_module.write_results
    calls = []

    def first_write_fails(results, path):
        calls.append(path)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real(results, path)

    monkeypatch.setattr("hebbbench.evaluation.results.write_results", first_write_fails)
    code = cli.main(["evaluate", str(agent), "--task", "ant", "--episodes", "1", "--workers", "1",
                     "--output", str(tmp_path / "r.json")])
    assert code == 2
    assert_one_paragraph_error(capsys.readouterr().err, "No space left on device", "saved to")
    assert load_results(tmp_path / "rescue" / "hebbbench-r.json").episodes_per_variation == 1
