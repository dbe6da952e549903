"""What an agent's sha256 covers (issue 27, item 4): a single file with the modules beside it
that it imports, a directory's every file; and agents too large to hash are refused by
their files' sizes, before anything is read."""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

import pytest

from hebbbench import evaluate
from hebbbench.evaluation.agent_file import MAX_AGENT_BYTES, AgentError, agent_sha256, sibling_modules

AGENT = '''
import numpy as np
{imports}


def make_agent(task, holdout, observation_space, action_space):
    raise NotImplementedError
'''


def write_agent(folder: Path, imports: str = "") -> Path:
    path = folder / "my_agent.py"
    path.write_text(AGENT.format(imports=imports))
    return path


def test_a_lone_agent_file_is_hashed_by_its_bytes_as_before(tmp_path):
    agent = write_agent(tmp_path)
    (tmp_path / "unrelated.py").write_text("x = 1\n")  # beside it, never imported
    assert agent_sha256(agent) == hashlib.sha256(agent.read_bytes()).hexdigest()


@pytest.mark.parametrize("imports", ["import params", "from params import WEIGHTS",
                                     "import importlib\nimportlib.import_module('params')"])
def test_a_sibling_module_the_agent_file_imports_changes_its_hash(tmp_path, imports):
    agent = write_agent(tmp_path, imports)
    (tmp_path / "params.py").write_text("WEIGHTS = [1.0]\n")
    before = agent_sha256(agent)
    assert before != hashlib.sha256(agent.read_bytes()).hexdigest()
    (tmp_path / "params.py").write_text("WEIGHTS = [110.0]\n")
    assert agent_sha256(agent) != before


def test_modules_imported_by_sibling_modules_and_packages_beside_it_count_too(tmp_path):
    agent = write_agent(tmp_path, "import params")
    (tmp_path / "params.py").write_text("from layers import SIZE\n")
    (tmp_path / "layers").mkdir()
    (tmp_path / "layers" / "__init__.py").write_text("SIZE = 8\n")
    (tmp_path / "layers" / "weights.npy").write_bytes(b"\0" * 16)
    assert sibling_modules(agent) == sorted([tmp_path / "params.py", tmp_path / "layers" / "__init__.py",
                                             tmp_path / "layers" / "weights.npy"])
    before = agent_sha256(agent)
    (tmp_path / "layers" / "weights.npy").write_bytes(b"\1" * 16)
    assert agent_sha256(agent) != before


def test_the_results_hash_of_an_agent_file_covers_its_sibling_modules(tmp_path):
    (tmp_path / "params.py").write_text("SCALE = 0.0\n")
    agent = tmp_path / "my_agent.py"
    agent.write_text("import numpy as np\nimport params\n\n\nclass Agent:\n    def reset(self, seed):\n        pass\n\n"
                     "    def act(self, observation):\n        return np.full(8, params.SCALE)\n\n\n"
                     "def make_agent(task, holdout, observation_space, action_space):\n    return Agent()\n")
    results = evaluate(str(agent), task="ant", episodes=1, workers=1)
    assert results.agent_sha256 == agent_sha256(agent) != hashlib.sha256(agent.read_bytes()).hexdigest()


def test_a_huge_sparse_file_in_an_agent_directory_is_refused_quickly_without_reading_it(tmp_path):
    agent = tmp_path / "agent"
    agent.mkdir()
    write_agent(agent).rename(agent / "agent.py")
    subprocess.run(["truncate", "-s", "20G", str(agent / "weights.bin")], check=True)
    start = time.monotonic()
    with pytest.raises(AgentError, match=r"too large to hash and run: its files hold 21,474,83\d,\d{3} bytes .*"
                                         r"weights\.bin.* over the limit of 1,073,741,824 bytes \(1 GiB\)"):
        agent_sha256(agent)
    with pytest.raises(AgentError, match="too large to hash and run"):
        evaluate(str(agent), task="ant", episodes=1, workers=1)
    assert time.monotonic() - start < 10


def test_an_agent_file_over_the_limit_is_refused_by_its_size(tmp_path):
    agent = write_agent(tmp_path)
    with agent.open("ab") as handle:
        handle.truncate(MAX_AGENT_BYTES + 1)
    with pytest.raises(AgentError, match="too large"):
        agent_sha256(agent)


def test_hashing_streams_in_chunks_and_matches_a_whole_read(tmp_path, monkeypatch):
    monkeypatch.setattr("hebbbench.evaluation.agent_file.HASH_CHUNK_BYTES", 7)
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "agent.py").write_text("x = 1\n" * 100)
    expected = hashlib.sha256(b"agent.py\0" + hashlib.sha256(("x = 1\n" * 100).encode()).digest()).hexdigest()
    assert agent_sha256(agent) == expected
