"""hebbbench.training.rollouts: the same numbers on every backend, compact populations, real faults."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import outcomes

from hebbbench.agents import parameter_count
from hebbbench.envs import get_variation
from hebbbench.es import GaussianMixtureES, GaussianMixtureESConfig, OpenAIES, OpenAIESConfig
from hebbbench.system.interrupts import sigint_deferred
from hebbbench.training.lockstep import EpisodeBatch, lockstep_size, split_batches
from hebbbench.training.rollouts import (
    BatchError,
    InProcessBackend,
    LocalPoolBackend,
    RayBackend,
    WorkerCrashError,
    make_backend,
)
from hebbbench.training.train import TrainConfig, read_log, resume, train

POPULATION = 8
KILLED_POPULATION = 16
STEPS = {"ant": 200, "car": 10}  # the ant batches last long enough to be killed midway


def _generation(network: str, task: str, workers: int, population: int = POPULATION):
    """A real OpenAI-ES population's compact form and its batches on two variations."""
    mean = torch.randn(parameter_count(network, task), generator=torch.Generator().manual_seed(0))
    strategy = OpenAIES(mean, OpenAIESConfig(population_size=population), seed=0)
    strategy.ask()
    batches = []
    for v, name in enumerate(["default", "damage-left" if task == "ant" else "pushed-left"]):
        template = EpisodeBatch(network, task, get_variation(task, name).env_id, env_seed=11 + v, weight_seed=7 + v,
                                start=0, stop=population, max_episode_steps=STEPS[task])
        batches += split_batches(template, workers)
    return strategy.compact_population(), batches


def _by_episode(batches, results) -> dict:
    """{(env ID, individual): (return, length)}: comparable whatever the batching."""
    return {(batch.env_id, batch.start + k): (float(r), int(n)) for batch, result in zip(batches, results)
            for k, (r, n) in enumerate(zip(result.returns, result.lengths))}


@pytest.fixture(scope="module")
def reference():
    """Every episode of the test generations, played in this process."""
    out = {}
    with InProcessBackend() as backend:
        for network, task, size in [("hebbian", "ant", POPULATION), ("static", "car", POPULATION),
                                    ("hebbian", "ant", KILLED_POPULATION)]:
            population, batches = _generation(network, task, workers=1, population=size)
            out[network, task, size] = _by_episode(batches, backend.run(population, batches))
    return out


def test_mirrored_population_rebuilds_exactly_the_asked_rows():
    strategy = OpenAIES(torch.randn(500), OpenAIESConfig(population_size=10), seed=4)
    asked = strategy.ask()
    compact = strategy.compact_population()
    for start, stop in [(0, 10), (3, 7), (4, 6), (9, 10)]:  # (4, 6) crosses the mirror line
        assert torch.equal(compact.rows(start, stop), asked[start:stop])
    assert compact.part(3, 7) is compact


def test_explicit_population_parts_hold_only_their_rows():
    strategy = GaussianMixtureES(64, 4, GaussianMixtureESConfig(population_size=6), seed=1)
    asked = strategy.ask()
    part = strategy.compact_population().part(2, 5)
    assert torch.equal(part.rows(2, 5), asked[2:5]) and part.parameters.shape[0] == 3
    with pytest.raises(IndexError, match="outside this part"):
        part.rows(0, 3)


def test_episode_seeds_shared_per_pair_and_per_individual():
    base = EpisodeBatch("static", "ant", "AntDefault-v0", env_seed=11, weight_seed=7, start=0, stop=8)
    shared = base.seeds()
    assert shared == ([11] * 8, [7] * 8)
    env_seeds, weight_seeds = dataclasses.replace(base, seed_period=4).seeds()  # P = 8: pairs (i, i + 4)
    assert env_seeds[:4] == env_seeds[4:] and len(set(env_seeds)) == 4
    assert weight_seeds[:4] == weight_seeds[4:] and not set(env_seeds) & set(weight_seeds)
    env_seeds, _ = dataclasses.replace(base, seed_period=8).seeds()
    assert len(set(env_seeds)) == 8
    # A batch holding part of the population gets the same seeds as the whole would.
    part = dataclasses.replace(base, seed_period=8, start=3, stop=6).seeds()
    assert part[0] == env_seeds[3:6]


def test_per_individual_episodes_give_the_same_numbers_on_every_backend(tmp_path):
    config = TrainConfig(agent="hebbian", task="ant", population=4, generations=1, seed=5, max_episode_steps=40,
                         variations=("default",), backend="inprocess", episode_seeds="per-individual")
    here = train(config, tmp_path / "here", progress=False)
    pool = train(dataclasses.replace(config, backend="local", workers=2), tmp_path / "pool", progress=False)
    shared = train(dataclasses.replace(config, episode_seeds="shared"), tmp_path / "shared", progress=False)
    assert outcomes(here) == outcomes(pool)
    assert outcomes(here) != outcomes(shared)
    with pytest.raises(ValueError, match="per-pair' needs mirrored pairs"):
        TrainConfig(agent="shared", task="ant", episode_seeds="per-pair")
    with pytest.raises(ValueError, match="unknown episode_seeds 'random'"):
        TrainConfig(agent="static", task="ant", episode_seeds="random")


@pytest.mark.parametrize("network, task", [("static", "ant"), ("hebbian", "car")])
def test_split_batches_covers_its_range_of_the_population_once(network, task):
    for start, stop in ((0, 500), (64, 80)):
        template = EpisodeBatch(network, task, "AntDefault-v0", 0, 0, start, stop)
        for workers in (1, 2, 3, 200):
            batches = split_batches(template, workers)
            covered = np.concatenate([np.arange(b.start, b.stop) for b in batches])
            assert np.array_equal(covered, np.arange(start, stop))
            assert max(b.size for b in batches) <= lockstep_size(task, network)
            assert len(batches) >= min(workers, stop - start)
    assert lockstep_size("car", "hebbian") == 8 and lockstep_size("ant", "static") == 16


@pytest.mark.parametrize("network, task", [("hebbian", "ant"), ("static", "car")])
def test_local_pool_gives_the_in_process_numbers(reference, network, task):
    population, batches = _generation(network, task, workers=2)
    with LocalPoolBackend(workers=2) as backend:
        first = _by_episode(batches, backend.run(population, batches))
        again = _by_episode(batches, backend.run(population, batches))  # reused envs
        sent = backend.stats["bytes_sent"]
    assert first == again == reference[network, task, POPULATION]
    assert all(length > 0 for _, length in first.values())
    # Seeds, not parameters, travel: the mean once per worker per run, plus small batches.
    mean_bytes = 4 * parameter_count(network, task)
    assert 2 * 2 * mean_bytes <= sent < 2 * 2 * mean_bytes + 2 * len(batches) * 2000


def _kill_soon(pid: int, delay: float) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), os.kill(pid, signal.SIGKILL)))
    thread.start()
    return thread


@pytest.mark.parametrize("kind", ["local", "ray"])
def test_a_killed_worker_is_replaced_and_the_numbers_stay(reference, kind):
    # Batches of 8 ant episodes of 200 steps take about a second: the kill lands in the first.
    population, batches = _generation("hebbian", "ant", workers=2, population=KILLED_POPULATION)
    with make_backend(kind, workers=2) as backend:
        backend.run(population, batches[:2])  # workers are up and warm
        killer = _kill_soon(backend.worker_pids()[0], delay=0.3)
        results = backend.run(population, batches)
        killer.join()
        assert backend.stats["worker_restarts"] == 1
    assert _by_episode(batches, results) == reference["hebbian", "ant", KILLED_POPULATION]


def test_ray_backend_gives_the_in_process_numbers(reference):
    population, batches = _generation("static", "car", workers=2)
    with RayBackend(workers=2) as backend:
        assert _by_episode(batches, backend.run(population, batches)) == reference["static", "car", POPULATION]


def test_a_batch_that_raises_is_reported_not_retried():
    population, batches = _generation("static", "ant", workers=1)
    broken = [EpisodeBatch("static", "ant", "NoSuchEnv-v0", 0, 0, 0, 2, 5)]
    with LocalPoolBackend(workers=1) as backend:
        with pytest.raises(BatchError, match="NoSuchEnv-v0") as error:
            backend.run(population, broken)
        assert "individuals 0..1" in str(error.value) and backend.stats["worker_restarts"] == 0


def test_closing_after_an_error_kills_busy_workers_and_lets_idle_ones_exit():
    """A failed run must not wait for batches nobody will collect (Ctrl-C, BatchError)."""
    population, batches = _generation("hebbian", "ant", workers=2, population=KILLED_POPULATION)
    broken = EpisodeBatch("static", "ant", "NoSuchEnv-v0", 0, 0, 0, 2, 5)
    backend = LocalPoolBackend(workers=2)
    processes = list(backend._processes)
    with pytest.raises(BatchError):
        backend.run(population, [broken, batches[0]])  # slot 0 fails at once, slot 1 plays ~1 s
    assert [process.exitcode for process in processes] == [0, -signal.SIGKILL]


def _kill_every_worker(stop: threading.Event) -> None:
    while not stop.is_set():
        for child in multiprocessing.active_children():
            if child.name.startswith("hebbbench-worker"):
                os.kill(child.pid, signal.SIGKILL)
        time.sleep(0.05)


def test_a_worker_that_keeps_dying_stops_the_run_with_the_checkpoint_intact(tmp_path):
    config = TrainConfig(agent="static", task="ant", population=4, generations=2, seed=2, max_episode_steps=30,
                         variations=("default",), workers=1)
    straight = train(dataclasses.replace(config, backend="inprocess", workers=None), tmp_path / "straight",
                     progress=False)
    stop = threading.Event()
    killer = threading.Thread(target=_kill_every_worker, args=(stop,))
    killer.start()
    try:
        with pytest.raises(WorkerCrashError, match=r"took down 3 workers \(last one killed by SIGKILL\)"):
            train(config, tmp_path / "run", progress=False)
    finally:
        stop.set()
        killer.join()
    assert torch.load(tmp_path / "run" / "checkpoint.pt")["generation"] == 0 and read_log(tmp_path / "run") == []
    resume(tmp_path / "run", progress=False)
    assert np.array_equal(np.load(tmp_path / "run" / "parameters.npy"), np.load(straight / "parameters.npy"))
    assert outcomes(tmp_path / "run") == outcomes(straight)


def test_unknown_backend_and_misplaced_address_are_refused():
    with pytest.raises(ValueError, match="unknown backend 'spark'; allowed: inprocess, local, ray"):
        make_backend("spark")
    with pytest.raises(ValueError, match="only to the ray backend"):
        make_backend("local", address="auto")
    with pytest.raises(ValueError, match="unknown backend"):
        TrainConfig(agent="static", task="ant", backend="spark")


def test_unreachable_ray_cluster_is_refused():
    pytest.importorskip("ray")
    with pytest.raises(ValueError, match="cannot reach a Ray cluster at 'auto'"):
        RayBackend(workers=1, address="auto")


def test_repeated_training_variations_are_refused():
    with pytest.raises(ValueError, match="default given more than once"):
        TrainConfig(agent="static", task="ant", variations=("default", "damage-left", "default"))


def test_ctrl_c_message_says_what_is_left(tmp_path):
    from argparse import Namespace

    from hebbbench.cli import _interrupted_message

    args = Namespace(command="train", resume=None, out=str(tmp_path / "run"))
    assert "nothing was written" in _interrupted_message(args)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    assert f"nothing to resume: remove {tmp_path / 'run'}" in _interrupted_message(args)
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"")
    assert f"hebbbench train --resume {tmp_path / 'run'}" in _interrupted_message(args)
    recording = Namespace(command="evaluate", record="gifs")
    assert "no results file was written (recordings made so far stay in gifs)" in _interrupted_message(recording)


def test_train_cli_runs_on_a_chosen_backend_and_refuses_bad_choices(tmp_path, capsys):
    from hebbbench.cli import main

    args = ["train", "--agent", "static", "--task", "ant", "--variations", "default", "--population", "2",
            "--generations", "1", "--max-episode-steps", "5"]
    assert main([*args, "--backend", "inprocess", "--workers", "2", "--out", str(tmp_path / "a")]) == 2
    assert "use the local backend for worker processes" in capsys.readouterr().err
    assert not (tmp_path / "a" / "log.jsonl").exists()
    assert main([*args, "--ray-address", "auto", "--out", str(tmp_path / "b")]) == 2
    assert "only to the ray backend" in capsys.readouterr().err
    assert main([*args, "--backend", "inprocess", "--out", str(tmp_path / "c")]) == 0
    assert main(["train", "--resume", str(tmp_path / "c"), "--generations", "2", "--backend", "local",
                 "--workers", "2"]) == 0
    assert main([*args, "--backend", "inprocess", "--episode-seeds", "per-pair", "--out", str(tmp_path / "d")]) == 0
    assert json.loads((tmp_path / "d" / "config.json").read_text())["episode_seeds"] == "per-pair"
    assert main(["train", "--resume", str(tmp_path / "d"), "--episode-seeds", "shared"]) == 2
    assert "drop --episode-seeds" in capsys.readouterr().err
    # Back to in-process: the local pool's saved worker count does not follow the new backend.
    assert main(["train", "--resume", str(tmp_path / "c"), "--generations", "3", "--backend", "inprocess"]) == 0
    rows = read_log(tmp_path / "c")
    assert [(r["generation"], r["workers"], r["bytes_sent"] > 0) for r in rows] == [
        (0, 1, False), (1, 2, True), (2, 1, False)]


@pytest.mark.parametrize("stop, background", [(signal.SIGINT, False), (signal.SIGTERM, False),
                                              (signal.SIGTERM, True)])
def test_ctrl_c_or_kill_stops_training_cleanly_keeps_the_checkpoint_and_leaves_no_worker(tmp_path, stop,
                                                                                          background):
    """``background``: started as `nohup ... &` from a script, with SIGINT ignored."""
    import subprocess
    import sys

    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    run_dir = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "hebbbench.cli", "train", "--agent", "static", "--task", "ant",
                                "--variations", "default", "--population", "4", "--generations", "50",
                                "--max-episode-steps", "60", "--workers", "2", "--out", str(run_dir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=ignore_sigint if background else None)
    deadline = time.monotonic() + 120
    while not read_log(run_dir) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    workers = subprocess.run(["pgrep", "-P", str(process.pid), "-f", "multiprocessing.spawn"],
                             capture_output=True, text=True).stdout.split()
    assert len(workers) >= 2
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and f"hebbbench train --resume {run_dir}" in stderr
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()
                and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]]
    done = torch.load(run_dir / "checkpoint.pt")["generation"]
    assert done >= 1 and [r["generation"] for r in read_log(run_dir)] == list(range(done))


def test_sigint_deferred_finishes_the_block_then_raises():
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with sigint_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the signal arrives while the block still runs
            finished.append("log row and checkpoint")
    assert finished == ["log row and checkpoint"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with sigint_deferred():  # no signal: no interrupt
        finished.append("next generation")
    assert len(finished) == 2
