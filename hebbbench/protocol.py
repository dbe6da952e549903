"""The leave-one-out protocol: folds, evaluation seeds, and ``evaluate(agent, ...)``.

A *fold* holds out one variation of a task: an agent is trained on the other four and
tested on it (the paper's folds are car/pushed-right and ant/long-front; all five exist
for each task). Evaluation runs :data:`EPISODES` episodes on *every* variation of the
task, the held-out one marked ``test``, on the fixed seeds of :func:`protocol_seeds`.

Every episode is independent: the env is reset with the episode's seed and the agent's
``reset(seed)`` is called with the same seed, so the numbers do not depend on how many
worker processes share the episodes or in which order they run.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import inspect
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from hebbbench.agent_file import (
    AgentError,
    AgentFactory,
    agent_sha256,
    describe,
    load_agent_factory,
    make_checked_agent,
    where,
)
from hebbbench.envs import PAPER_HOLDOUT, env_settings, get_task, get_variation, variations
from hebbbench.envs.validation import checked_action
from hebbbench.results import Results, VariationResult
from hebbbench.version import __version__

#: 2: the car's view follows its velocity, as the paper's gym 0.17 (``camera="velocity"``);
#: results record every env setting (``env_kwargs``). 1: the view followed the car's hull.
PROTOCOL_VERSION = "hebbbench-protocol/2"
#: Episodes per variation in a full protocol run (the paper's 100 samples).
EPISODES = 100
#: The protocol's seeds are FIRST_SEED, FIRST_SEED + 1, ...; the same for every task and
#: variation, so all variations see the same tracks / start states (common random numbers)
#: and every agent sees the same episodes. Training code should draw seeds below
#: FIRST_SEED, so that no evaluation episode is ever seen during training.
FIRST_SEED = 1_000_000
#: Bounds of ``episode_timeout`` in seconds: below a tenth of a second the alarm could fire
#: before an episode starts; above a week it would overflow the timer.
MIN_EPISODE_TIMEOUT, MAX_EPISODE_TIMEOUT = 0.1, 7 * 24 * 3600.0
#: Recordings (``record_dir``) keep every RECORD_EVERY-th frame of one episode.
RECORD_EVERY = 4
#: GIF frame duration in ms: RECORD_EVERY steps of the car's 50 Hz, about real time.
RECORD_FRAME_MS = 80
#: Recorded frames wider than this are shrunk (the car renders 600x400).
RECORD_MAX_WIDTH = 320


class EvaluationError(Exception):
    """Evaluation could not finish for a reason other than the agent (e.g. a worker died)."""


@dataclass(frozen=True)
class Fold:
    """One leave-one-out split of a task: train on ``train``, test on ``holdout``."""

    task: str
    holdout: str

    @property
    def train(self) -> tuple[str, ...]:
        """The training variations' names, in registry order."""
        return tuple(v.name for v in variations(self.task) if v.name != self.holdout)


def folds(task: str) -> list[Fold]:
    """All folds of ``task``, one per variation, in registry order."""
    return [Fold(task, v.name) for v in variations(task)]


def get_fold(task: str, holdout: str | None = None) -> Fold:
    """The fold of ``task`` holding out ``holdout`` (default: the paper's fold)."""
    holdout = PAPER_HOLDOUT[get_task(task).name] if holdout is None else holdout
    return Fold(task, get_variation(task, holdout).name)


def protocol_seeds(task: str, variation: str, episodes: int = EPISODES) -> list[int]:
    """The protocol's evaluation seeds for ``variation`` of ``task``: its first ``episodes``.

    The list is the same for every variation and task (see :data:`FIRST_SEED`); the
    arguments are validated so a caller cannot ask for the seeds of a variation that
    does not exist.
    """
    get_variation(task, variation)
    return list(range(FIRST_SEED, FIRST_SEED + episodes))


def default_workers() -> int:
    """One worker process per CPU core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class _Job:
    """One episode to run; ``record_path`` set means: render it to that GIF instead."""

    index: int
    variation: str
    env_id: str
    episode: int
    episodes: int
    seed: int
    record_path: str | None = None


class _EpisodeTimeout(BaseException):
    """Raised by the SIGALRM handler; a BaseException so an agent's ``except Exception`` cannot swallow it."""


class _EpisodeRunner:
    """Runs episodes of one agent, reusing one env per env ID (reset(seed) makes them independent)."""

    def __init__(self, agent: Any, episode_timeout: float | None):
        self.agent = agent
        self.observe = agent_observes(agent) and agent.observe
        self.episode_timeout = episode_timeout
        self.envs: dict[tuple[str, bool], gym.Env] = {}

    def _env(self, env_id: str, render: bool) -> gym.Env:
        key = (env_id, render)
        if key not in self.envs:
            self.envs[key] = gym.make(env_id, render_mode="rgb_array" if render else None)
        return self.envs[key]

    def run(self, job: _Job) -> tuple[float, int]:
        """Run ``job``'s episode; return (summed reward, policy steps).

        Raises :class:`AgentError` naming the variation, episode and seed if the agent
        fails, returns an invalid action or exceeds the episode timeout.
        """
        label = (f"variation {job.variation!r} ({job.env_id}), episode {job.episode + 1} of {job.episodes}, "
                 f"seed {job.seed}")
        env = self._env(job.env_id, job.record_path is not None)
        frames: list[np.ndarray] = []
        step = 0
        saved = self._start_timer()
        try:
            observation, _ = env.reset(seed=job.seed)
            if job.record_path:
                frames.append(env.render())
            try:
                self.agent.reset(job.seed)
            except (Exception, SystemExit) as error:
                raise AgentError(f"the agent's reset raised {describe(error)}{where(error)} in {label}.") from None
            total, done = 0.0, False
            while not done:
                try:
                    action = self.agent.act(observation)
                except (Exception, SystemExit) as error:
                    raise AgentError(
                        f"the agent's act raised {describe(error)}{where(error)} in {label}, step {step}."
                    ) from None
                try:
                    action = checked_action(action, env.action_space)
                except ValueError as error:
                    raise AgentError(
                        f"the agent returned an invalid action in {label}, step {step}: {error}.") from None
                observation, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                step += 1
                done = terminated or truncated
                if self.observe:
                    try:
                        self.observe(float(reward), bool(terminated), bool(truncated))
                    except (Exception, SystemExit) as error:
                        raise AgentError(f"the agent's observe raised {describe(error)}{where(error)} in {label}, "
                                         f"step {step - 1}.") from None
                if job.record_path and step % RECORD_EVERY == 0:
                    frames.append(env.render())
        except AgentError:
            raise
        except _EpisodeTimeout:
            raise AgentError(
                f"{label} exceeded the episode timeout of {self.episode_timeout:g} s (at step {step}); "
                "make act faster or raise the timeout (--episode-timeout)."
            ) from None
        except Exception as error:
            raise EvaluationError(
                f"the environment raised {describe(error)}{where(error)} in {label}, step {step}.") from None
        finally:
            self._stop_timer(saved)
        if job.record_path:
            _write_gif(frames, Path(job.record_path))
        return total, step

    def _start_timer(self) -> Any:
        """Arm SIGALRM for the episode; return what :meth:`_stop_timer` needs to restore.

        An alarm someone else had armed (e.g. pytest-timeout) is re-armed afterwards with
        its remaining time.
        """
        if self.episode_timeout is None:
            return None

        def expire(signum: int, frame: Any) -> None:
            raise _EpisodeTimeout()

        handler = signal.signal(signal.SIGALRM, expire)
        earlier_delay, _ = signal.setitimer(signal.ITIMER_REAL, self.episode_timeout)
        return handler, earlier_delay, time.monotonic()

    def _stop_timer(self, saved: Any) -> None:
        if saved is None:
            return
        handler, earlier_delay, started = saved
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, handler)
        if earlier_delay > 0:
            signal.setitimer(signal.ITIMER_REAL, max(earlier_delay - (time.monotonic() - started), 1e-3))

    def close(self) -> None:
        for env in self.envs.values():
            env.close()


def _write_gif(frames: Sequence[np.ndarray], path: Path) -> None:
    """Write RGB frames (``[height, width, 3]`` uint8) as a looping GIF, atomically."""
    from PIL import Image

    images = [Image.fromarray(np.asarray(frame, dtype=np.uint8)) for frame in frames]
    if images[0].width > RECORD_MAX_WIDTH:
        size = (RECORD_MAX_WIDTH, round(images[0].height * RECORD_MAX_WIDTH / images[0].width))
        images = [image.resize(size, Image.Resampling.BILINEAR) for image in images]
    temp = path.with_name(f".{path.name}.tmp")
    images[0].save(temp, format="GIF", save_all=True, append_images=images[1:], duration=RECORD_FRAME_MS, loop=0)
    os.replace(temp, path)


def _task_spaces(task: str) -> tuple[gym.Space, gym.Space]:
    """(observation_space, action_space) of ``task``, shared by all its variations."""
    env = gym.make(variations(task)[0].env_id)
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


@dataclass(frozen=True)
class _AgentSpec:
    """Everything a worker process needs to build the agent (picklable)."""

    source: str | AgentFactory  # an agent file / directory path, or make_agent itself
    task: str
    holdout: str
    observation_space: gym.Space
    action_space: gym.Space
    options: dict[str, Any]

    def make(self) -> Any:
        factory = load_agent_factory(self.source) if isinstance(self.source, str) else self.source
        return make_checked_agent(factory, self.task, self.holdout, self.observation_space, self.action_space,
                                  self.options)


def _worker_main(spec: _AgentSpec, episode_timeout: float | None, jobs: Sequence[_Job], next_job: Any,
                 results: Any) -> None:
    """Worker process: take the next job index from the shared counter until none are left.

    Sends ``(index, return, length)`` per finished job, or ``(error class name, None,
    message)`` once on the first failure and stops.
    """
    # Ctrl-C reaches the whole process group; the parent alone handles it and stops us
    # (workers started from the main thread already inherit this, see sigint_ignored).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One core per worker: stop a torch/OpenMP agent from starting a thread per core in
    # every worker (read when the agent first imports such a library).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        runner = _EpisodeRunner(spec.make(), episode_timeout)
    except AgentError as error:
        results.put(("AgentError", None, str(error)))
        return
    while True:
        with next_job.get_lock():
            index = next_job.value
            next_job.value += 1
        if index >= len(jobs):
            break
        try:
            total, length = runner.run(jobs[index])
        except (AgentError, EvaluationError) as error:
            results.put((type(error).__name__, None, str(error)))
            return
        results.put((index, total, length))
    runner.close()


class _Progress:
    """A tqdm bar on a terminal; elsewhere (a log file, CI) one line per finished variation."""

    def __init__(self, jobs: Sequence[_Job], description: str, show: bool) -> None:
        self.lines = show and not sys.stderr.isatty()
        self.bar = tqdm(total=len(jobs), desc=description, unit="episode", disable=None if show else True,
                        leave=False)
        self.left = collections.Counter(job.variation for job in jobs)
        self.started = time.perf_counter()

    def done(self, job: _Job) -> None:
        self.bar.update()
        self.left[job.variation] -= 1
        if self.lines and not self.left[job.variation]:
            print(f"{job.variation}: done ({time.perf_counter() - self.started:.0f} s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        self.bar.close()


def _run_in_process(agent: Any, jobs: Sequence[_Job], episode_timeout: float | None,
                    bar: _Progress) -> dict[int, tuple[float, int]]:
    if episode_timeout is not None and threading.current_thread() is not threading.main_thread():
        raise ValueError("episode_timeout needs the main thread (it uses SIGALRM); pass workers >= 2 or no timeout")
    runner = _EpisodeRunner(agent, episode_timeout)
    outcomes = {}
    try:
        for job in jobs:
            outcomes[job.index] = runner.run(job)
            bar.done(job)
    finally:
        runner.close()
    return outcomes


def _run_in_workers(spec: _AgentSpec, jobs: Sequence[_Job], workers: int, episode_timeout: float | None,
                    bar: _Progress) -> dict[int, tuple[float, int]]:
    context = multiprocessing.get_context("spawn")
    next_job = context.Value("q", 0)
    results = context.Queue()
    processes = [
        context.Process(target=_worker_main, args=(spec, episode_timeout, jobs, next_job, results), daemon=True)
        for _ in range(workers)
    ]
    outcomes: dict[int, tuple[float, int]] = {}
    try:
        with sigint_ignored():
            for process in processes:
                process.start()
        while len(outcomes) < len(jobs):
            try:
                index, total, detail = results.get(timeout=0.5)
            except queue.Empty:
                _check_workers(processes, results)
                continue
            if total is None:
                raise (AgentError if index == "AgentError" else EvaluationError)(detail)
            outcomes[index] = (total, detail)
            bar.done(jobs[index])
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            if process.pid is not None:  # started (a failed start must not hide its own error)
                process.join()
    return outcomes


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes start, so they start with it ignored.

    An ignored signal stays ignored across fork and exec, and Python then installs no
    KeyboardInterrupt handler: a Ctrl-C while a worker is still importing cannot print
    its traceback. Only the main thread may change handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold back a Ctrl-C until the block ends, then raise it as ``KeyboardInterrupt``.

    For writes that must land together (a training log row and its checkpoint): a Ctrl-C
    between them would leave a row of a generation that the checkpoint does not hold.
    Only the main thread may change handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    handler = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)
    if received and callable(handler):
        handler(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt
    elif received and handler == signal.SIG_DFL:
        raise KeyboardInterrupt


def _check_workers(processes: Sequence[Any], results: Any) -> None:
    """Raise if a worker died, or all exited while jobs remain (their results would never come)."""
    crashed = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
    if crashed:
        raise EvaluationError(
            f"a worker process died with exit code {crashed[0]}: the agent exited or crashed the interpreter "
            "(e.g. a segmentation fault), memory ran out, an in-memory agent factory could not be imported "
            "in a new process (define it in a module, not a notebook), or the script that called evaluate() "
            "has no `if __name__ == \"__main__\":` guard (worker processes import it again); its stderr "
            "above may say more."
        )
    if all(p.exitcode == 0 for p in processes) and results.empty():
        raise EvaluationError(
            "every worker process exited before all episodes were run (did the agent call os._exit?).")


def evaluate(
    agent_factory: AgentFactory | str | Path,
    *,
    task: str,
    holdout: str | None = None,
    episodes: int = EPISODES,
    workers: int | None = None,
    seed: int | None = None,
    episode_timeout: float | None = None,
    record_dir: str | Path | None = None,
    progress: bool = False,
    agent_options: dict[str, Any] | None = None,
) -> Results:
    """Evaluate an agent on every variation of ``task``, holding out ``holdout``.

    ``agent_factory`` is ``make_agent(task, holdout, observation_space, action_space)``
    or the path of an agent file / directory (see :mod:`hebbbench.agent_file`); with
    ``workers >= 2`` a factory must be picklable (a module-level function).
    ``holdout`` defaults to the paper's fold. ``episodes`` per variation run on seeds
    ``seed, seed + 1, ...`` (default: the protocol's seeds); only ``episodes ==
    EPISODES`` on the protocol's seeds is a full protocol run. ``workers`` processes
    (default one per core; 1 runs in this process) share the episodes; the numbers do
    not depend on it. ``episode_timeout`` (seconds) limits each episode's wall time.
    ``record_dir`` receives one GIF per variation (``<variation>.gif``, the first seed's
    episode, run again with rendering on). ``progress`` shows a tqdm bar on stderr.
    ``agent_options``: keyword arguments passed to ``make_agent`` (JSON values, e.g. a run
    directory's ``{"checkpoint": "final", "sigma": 0}``); the results record them.

    Raises :class:`AgentError` if the agent fails (naming variation, episode and seed),
    :class:`EvaluationError` if a worker dies, ``ValueError`` for bad arguments.
    """
    fold = get_fold(task, holdout)
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    workers = default_workers() if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if episode_timeout is not None and not (isinstance(episode_timeout, (int, float))
                                            and MIN_EPISODE_TIMEOUT <= episode_timeout <= MAX_EPISODE_TIMEOUT):
        raise ValueError(f"episode_timeout must be a number of seconds in [{MIN_EPISODE_TIMEOUT:g}, "
                         f"{MAX_EPISODE_TIMEOUT:g}] (one week), got {episode_timeout!r}")
    first_seed = FIRST_SEED if seed is None else int(seed)
    if first_seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed!r}")
    source = str(agent_factory) if isinstance(agent_factory, (str, Path)) else agent_factory
    if workers > 1 and not isinstance(source, str):
        try:
            pickle.dumps(source)
        except Exception as error:
            raise ValueError(
                f"with workers={workers} the agent factory must be picklable (a module-level function), "
                f"but pickling it failed: {describe(error)}; pass workers=1 or an agent file path."
            ) from None

    agent_path = source if isinstance(source, str) else _source_file(source)
    started = time.perf_counter()
    agent_options = check_agent_options(agent_options)
    spec = _AgentSpec(source, fold.task, fold.holdout, *_task_spaces(fold.task), agent_options)
    agent = spec.make()  # fail early, before any worker starts
    task_variations = variations(fold.task)
    seeds = list(range(first_seed, first_seed + episodes))
    jobs = [_Job(v * episodes + e, variation.name, variation.env_id, e, episodes, s)
            for v, variation in enumerate(task_variations) for e, s in enumerate(seeds)]
    if record_dir is not None:
        record_dir = Path(record_dir)
        try:
            record_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # an existing file of that name, no permission, ...
            raise ValueError(f"cannot use {str(record_dir)!r} as the recordings folder: {error.strerror}; "
                             "pass --record a new or existing folder") from None
        jobs += [_Job(len(jobs) + v, variation.name, variation.env_id, 0, episodes, seeds[0],
                      str(record_dir / f"{variation.name}.gif"))
                 for v, variation in enumerate(task_variations)]
    workers_used = min(workers, len(jobs))
    description = f"{fold.task}, held out {fold.holdout}"
    bar = _Progress(jobs, description, progress)
    try:
        if workers_used == 1:
            outcomes = _run_in_process(agent, jobs, episode_timeout, bar)
        else:
            outcomes = _run_in_workers(spec, jobs, workers_used, episode_timeout, bar)
    finally:
        bar.close()
    wall_time = time.perf_counter() - started

    per_variation = []
    for v, variation in enumerate(task_variations):
        done = [outcomes[v * episodes + e] for e in range(episodes)]
        per_variation.append(VariationResult(
            name=variation.name,
            env_id=variation.env_id,
            split="test" if variation.name == fold.holdout else "train",
            seeds=tuple(seeds),
            returns=tuple(total for total, _ in done),
            lengths=tuple(length for _, length in done),
            env_kwargs=env_settings(variation),
        ))

    return Results(
        protocol_version=PROTOCOL_VERSION,
        package_version=__version__,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        task=fold.task,
        holdout=fold.holdout,
        agent_path=agent_path,
        agent_sha256=agent_sha256(agent_path) if Path(agent_path).exists() else "",
        agent_options=agent_options,
        agent_observes=agent_observes(agent),
        episodes_per_variation=episodes,
        full_protocol=episodes == EPISODES and first_seed == FIRST_SEED,
        workers=workers_used,
        wall_time_s=round(wall_time, 3),
        variations=tuple(per_variation),
    )


def agent_observes(agent: Any) -> bool:
    """Whether ``agent`` takes each step's outcome: a callable ``observe(reward, terminated,
    truncated)``, called after every step with plain Python float and bools, before the
    next ``act`` (for agents that adapt to rewards within an episode)."""
    return callable(getattr(agent, "observe", None))


def check_agent_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """``options`` as a plain dict of identifier keys and JSON scalar values (``ValueError`` otherwise)."""
    options = dict(options or {})
    for key, value in options.items():
        if not (isinstance(key, str) and key.isidentifier()):
            raise ValueError(f"agent option names must be Python identifiers, got {key!r}")
        if not (value is None or isinstance(value, (str, bool, int)) or
                (isinstance(value, float) and np.isfinite(value))):
            raise ValueError(f"agent option {key!r} must be a string, number, true/false or null, got {value!r}")
    return options


def _source_file(factory: Callable) -> str:
    """The file defining an in-memory agent factory, or ``<qualname>`` if it has none."""
    try:
        return inspect.getsourcefile(factory) or f"<{factory.__qualname__}>"
    except TypeError:  # a builtin or a callable instance without a source file
        return f"<{type(factory).__qualname__}>"
