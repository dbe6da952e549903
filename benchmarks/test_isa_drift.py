"""How far the board's reference ant agents' returns move between CPU instruction sets,
with native arithmetic and with ``evaluate``'s portable arithmetic.

Run: ``pytest benchmarks/test_isa_drift.py -s`` (about ten minutes). Each agent is
evaluated with ``hebbbench evaluate`` (5 episodes per variation, one worker) in a
subprocess whose torch kernels (``ATEN_CPU_CAPABILITY``), MKL (``MKL_ENABLE_INSTRUCTIONS``)
and oneDNN (``ONEDNN_MAX_CPU_ISA``) are limited to one instruction set, as on an older
CPU; settings above what this CPU has are skipped. For ``--arithmetic native`` and
``portable`` apart, it prints per agent how many episodes replay exactly against the
newest setting, the largest and mean absolute return difference, and the evaluation's
wall time. A repeat of the newest setting checks that a run is deterministic on one
machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
AGENTS = {"ant-static-10-generations": ["--agent-option", "checkpoint=final"],  # a hebbbench 0.1 run
          "ant-static-baseline-gen68": [], "ant-hebbian-baseline-gen58": []}
#: Instruction-set limits, newest first (names as each library spells them).
SETTINGS = {
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512", "MKL_ENABLE_INSTRUCTIONS": "AVX512",
               "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "sse4.2": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ONEDNN_MAX_CPU_ISA": "SSE41"},
}
EPISODES = 5


def _available() -> list[str]:
    have = torch.backends.cpu.get_cpu_capability().lower()
    names = list(SETTINGS)
    return names[names.index(have):] if have in names else names[names.index("sse4.2"):]


def _returns(agent: str, setting: str, arithmetic: str, out: Path) -> tuple[list[tuple[float, int]], float]:
    path = out / f"{agent}-{setting}-{arithmetic}.json"
    env = os.environ | SETTINGS[setting] | {"OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "hebbbench.cli", "evaluate", str(ROOT / "leaderboard" / "agents" / agent),
                    "--task", "ant", "--episodes", str(EPISODES), "--workers", "1", "--output", str(path),
                    "--arithmetic", arithmetic, *AGENTS[agent]], env=env, check=True, capture_output=True)
    results = json.loads(path.read_text())
    return [(r, n) for v in results["variations"] for r, n in zip(v["returns"], v["lengths"])], results["wall_time_s"]


@pytest.mark.parametrize("arithmetic", ["native", "portable"])
@pytest.mark.parametrize("agent", list(AGENTS))
def test_returns_across_instruction_sets(agent, arithmetic, tmp_path):
    settings = _available()
    reference, _ = _returns(agent, settings[0], arithmetic, tmp_path)
    again = tmp_path / "again"
    again.mkdir()
    rows = {f"{settings[0]} again": _returns(agent, settings[0], arithmetic, again)}
    rows |= {setting: _returns(agent, setting, arithmetic, tmp_path) for setting in settings[1:]}
    assert rows[f"{settings[0]} again"][0] == reference, "not deterministic on one machine"
    for setting, (outcome, wall) in rows.items():
        exact = sum(a == b for a, b in zip(outcome, reference))
        differences = [abs(a[0] - b[0]) for a, b in zip(outcome, reference)]
        print(f"\n{agent}, {arithmetic}: {setting} vs {settings[0]}: {exact}/{len(reference)} episodes exact, "
              f"largest return difference {max(differences):.1f}, mean {sum(differences) / len(differences):.1f} "
              f"({wall:.0f} s)")
