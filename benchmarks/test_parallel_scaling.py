"""Wall time of one small ant training job on each backend, in the same run.

Run: ``pytest benchmarks/test_parallel_scaling.py -s`` (about 5 minutes on 2 cores; the
machine should be otherwise idle). The job: the Hebbian agent on the ant's four training
variations (paper's fold), population 48, 4 generations, episodes cut at 500 policy steps,
seed 0. It runs three times: the local pool with 1 worker, with 2 workers, and Ray with 2
workers (a local Ray instance). Each run is timed whole (start-up included: spawning the
pool, starting Ray) and per generation after the first (the steady state, from the log's
``seconds``). All three must produce the same fitness, and the summary printed at the end
gives the speed-ups: 2 workers / 1 worker, and Ray / local pool.
"""

from __future__ import annotations

import time

import pytest

from hebbbench.training.train import EXECUTION_KEYS, TrainConfig, read_log, train

JOB = dict(agent="hebbian", task="ant", population=48, generations=4, seed=0, max_episode_steps=500)
RUNS = {"local-1": ("local", 1), "local-2": ("local", 2), "ray-2": ("ray", 2)}
_TIMES: dict[str, tuple[float, float]] = {}  # run -> (whole job s, steady generation s)
_LOGS: dict[str, list[dict]] = {}


@pytest.mark.parametrize("run", list(RUNS))
def test_training_job_wall_time(benchmark, run, tmp_path):
    backend, workers = RUNS[run]
    config = TrainConfig(**JOB, backend=backend, workers=workers)

    def job() -> float:
        start = time.perf_counter()
        train(config, tmp_path / run, progress=False)
        return time.perf_counter() - start

    whole = benchmark.pedantic(job, rounds=1, iterations=1)
    rows = read_log(tmp_path / run)
    steady = (rows[-1]["seconds"] - rows[0]["seconds"]) / (len(rows) - 1)
    benchmark.extra_info.update(whole_seconds=whole, steady_generation_seconds=steady,
                                env_steps=rows[-1]["env_steps"], bytes_sent=[r["bytes_sent"] for r in rows])
    _TIMES[run] = (whole, steady)
    _LOGS[run] = [{k: v for k, v in r.items() if k not in EXECUTION_KEYS} for r in rows]
    assert _LOGS[run] == next(iter(_LOGS.values())), "backends must give the same numbers"


def teardown_module(module):
    for run, (whole, steady) in _TIMES.items():
        print(f"\n{run}: job {whole:.1f} s, steady generation {steady:.2f} s")
    pairs = [("local-1", "local-2", "2 workers vs 1"), ("ray-2", "local-2", "ray vs local pool, 2 workers")]
    for slow, fast, label in pairs:
        if slow in _TIMES and fast in _TIMES:
            print(f"{label}: job {_TIMES[slow][0] / _TIMES[fast][0]:.2f}x, "
                  f"steady generation {_TIMES[slow][1] / _TIMES[fast][1]:.2f}x")
    if "local-1" in _LOGS:
        print(f"env steps per job: {_LOGS['local-1'][-1]['env_steps']}")
