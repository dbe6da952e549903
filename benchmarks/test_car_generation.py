"""A Hebbian car training job, this checkout against hebbbench 0.3.0 (the release issue 16
measured), in the same session: the CPU goal "a car Hebbian generation >= 1.3x faster".

Run: ``pytest benchmarks/test_car_generation.py -s`` (about 5 minutes on one core; needs
this repository's git history, which holds 0.3.0 as commit ``17046a5``). The job is the
issue's: Hebbian car, population 64, the paper's four training variations, episodes cut
at 150 steps (and by the 20-negative-steps rule), 2 generations, one local worker, seed 0.
Each side runs ROUNDS times, alternating, each in a fresh process (``hebbbench train``
from that side's package on ``PYTHONPATH``). Both sides must log the same fitness (the
same episodes); the summary gives each side's fastest whole job and fastest steady
(second) generation and their ratios.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from hebbbench.version import __version__

BEFORE = "17046a5"  # hebbbench 0.3.0
ROUNDS = 3
JOB = ["train", "--agent", "hebbian", "--task", "car", "--population", "64", "--generations", "2",
       "--max-episode-steps", "150", "--workers", "1"]
REPO = Path(__file__).resolve().parent.parent


def _package_at(commit: str, target: Path) -> Path:
    """Unpack ``hebbbench/`` as of ``commit`` into ``target``; the folder to put on PYTHONPATH."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "hebbbench"], capture_output=True)
    if archive.returncode != 0:
        pytest.skip(f"git cannot read commit {commit} here: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target


def _python(package_root: Path, cwd: Path, *args: str) -> str:
    """Run ``python *args`` with the package in ``package_root`` importable; its stdout.
    Runs in ``cwd``: ``python -c`` puts the working directory first on sys.path, so that
    must not be this checkout."""
    env = dict(os.environ, PYTHONPATH=str(package_root))
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def _job(package_root: Path, out: Path) -> list[dict]:
    """Run the job with the package in ``package_root``; its log rows."""
    _python(package_root, out.parent, "-c", "import sys; from hebbbench.cli import main; sys.exit(main())",
            *JOB, "--out", str(out))
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def _version(package_root: Path, cwd: Path) -> str:
    """The version ``hebbbench`` imports as in :func:`_job`."""
    return _python(package_root, cwd, "-c", "from hebbbench.version import __version__; print(__version__)").strip()


def test_hebbian_car_generation_now_against_0_3_0(tmp_path):
    sides = {"0.3.0": _package_at(BEFORE, tmp_path / "before"), "now": REPO}
    assert {side: _version(root, tmp_path) for side, root in sides.items()} == {"0.3.0": "0.3.0", "now": __version__}
    runs: dict[str, list[list[dict]]] = {side: [] for side in sides}
    for round_ in range(ROUNDS):
        for side, root in sides.items():
            runs[side].append(_job(root, tmp_path / f"{side}-{round_}"))
    fitness = {side: [[row["fitness_mean"] for row in rows] for rows in side_runs] for side, side_runs in runs.items()}
    assert all(values == fitness["now"][0] for side_values in fitness.values() for values in side_values)
    best = {side: (min(rows[-1]["seconds"] for rows in side_runs),
                   min(rows[1]["rollout_seconds"] for rows in side_runs)) for side, side_runs in runs.items()}
    steps = runs["now"][0][-1]["env_steps"]
    print(f"\nHebbian car job ({steps} env steps, {ROUNDS} rounds each, fastest):")
    for side, (job, generation) in best.items():
        print(f"  {side}: whole job {job:.1f} s, steady generation's episodes {generation:.1f} s")
    print(f"  speed-up: job {best['0.3.0'][0] / best['now'][0]:.2f}x, "
          f"generation {best['0.3.0'][1] / best['now'][1]:.2f}x")
