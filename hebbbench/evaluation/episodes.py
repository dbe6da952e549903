"""Playing evaluation episodes: one agent on benchmark envs, in this process or spread over
a pool of worker processes (each builds its own agent and envs), with a progress display.

:func:`hebbbench.evaluation.protocol.evaluate` decides which episodes to play and turns their
returns into results; this module only plays them. Every episode is independent (the env
and the agent are reset with the episode's seed), so the returns do not depend on the
worker count or the order of play.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from hebbbench.envs import variations
from hebbbench.envs.validation import InvalidAction, checked_action
from hebbbench.evaluation.agent_file import (
    AgentError,
    AgentFactory,
    describe,
    load_agent_factory,
    make_checked_agent,
    where,
)
from hebbbench.evaluation.agent_process import AGENT_HOST, AgentProcess
from hebbbench.system.files import write_atomic
from hebbbench.system.interrupts import sigint_ignored
from hebbbench.system.processes import adopt_orphans, die_with_parent, kill_children, kill_group, make_undumpable

#: Recordings (``record_dir``) keep every RECORD_EVERY-th frame of one episode.
RECORD_EVERY = 4
#: GIF frame duration in ms: RECORD_EVERY steps of the car's 50 Hz, about real time.
RECORD_FRAME_MS = 80
#: Recorded frames wider than this are shrunk (the car renders 600x400).
RECORD_MAX_WIDTH = 320


class EvaluationError(Exception):
    """Evaluation could not finish for a reason other than the agent (e.g. a worker died)."""


@dataclass(frozen=True)
class Job:
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


class EpisodeRunner:
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

    def run(self, job: Job) -> tuple[float, int]:
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
            self._call("reset", label, step, self.agent.reset, job.seed)
            total, done = 0.0, False
            while not done:
                try:
                    action = checked_action(self._call("act", label, step, self.agent.act, observation),
                                            env.action_space)
                except InvalidAction as error:
                    raise AgentError(
                        f"the agent returned an invalid action in {label}, step {step}: {error}.") from None
                observation, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                step += 1
                done = terminated or truncated
                if self.observe:
                    self._call("observe", label, step - 1, self.observe, float(reward), bool(terminated),
                               bool(truncated))
                if job.record_path and step % RECORD_EVERY == 0:
                    frames.append(env.render())
        except AgentError:
            raise
        except _EpisodeTimeout:
            raise AgentError(
                f"{label} exceeded the episode timeout of {self.episode_timeout:g} s (at step {step}); "
                "make the agent's reset and act faster or raise the timeout (--episode-timeout)."
            ) from None
        except Exception as error:
            raise EvaluationError(
                f"the environment raised {describe(error)}{where(error)} in {label}, step {step}.") from None
        finally:
            self._stop_timer(saved)
        if job.record_path:
            _write_gif(frames, Path(job.record_path))
        return total, step

    @staticmethod
    def _call(name: str, label: str, step: int, method: Any, *args: Any) -> Any:
        """``method(*args)``, the agent's ``name``; its failures as :class:`AgentError`
        naming the episode and step (an invalid action passes through, as
        :class:`InvalidAction`, for the caller to name)."""
        try:
            return method(*args)
        except InvalidAction:
            raise
        except AgentError as error:  # its own process ended or broke the protocol
            raise AgentError(f"{error}, in {label}, step {step}.") from None
        except (Exception, SystemExit) as error:
            raise AgentError(f"the agent's {name} raised {describe(error)}{where(error)} in {label}, "
                             f"step {step}.") from None

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
    write_atomic(path, lambda handle: images[0].save(handle, format="GIF", save_all=True, append_images=images[1:],
                                                     duration=RECORD_FRAME_MS, loop=0))


def task_spaces(task: str) -> tuple[gym.Space, gym.Space]:
    """(observation_space, action_space) of ``task``, shared by all its variations."""
    env = gym.make(variations(task)[0].env_id)
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


@dataclass(frozen=True)
class AgentSpec:
    """Everything a worker process needs to build the agent (picklable)."""

    source: str | AgentFactory  # an agent file / directory path, or make_agent itself
    task: str
    holdout: str
    observation_space: gym.Space
    action_space: gym.Space
    options: dict[str, Any]
    #: ``"portable"``: the agent's process uses CPU-independent torch arithmetic
    #: (:data:`~hebbbench.evaluation.agent_process.PORTABLE_ARITHMETIC`); ``"native"``: the CPU's fastest.
    arithmetic: str = "native"
    #: How an agent file's process is contained: :data:`~hebbbench.system.processes.SANDBOXED`
    #: (bubblewrap), or ``"none (why)"`` (a plain process of its own).
    sandbox: str = "none (not asked for)"

    def make(self) -> Any:
        factory = load_agent_factory(self.source) if isinstance(self.source, str) else self.source
        return make_checked_agent(factory, self.task, self.holdout, self.observation_space, self.action_space,
                                  self.options)


@dataclass(frozen=True)
class _Ready:
    """A worker built its agent: whether the agent takes rewards (``observe``), and the id
    of the agent file's process (``None``: an in-memory agent)."""

    worker: int
    observes: bool
    agent_pid: int | None


@dataclass(frozen=True)
class _Started:
    """A worker took job ``index`` (the parent's clock for the episode timeout starts)."""

    worker: int
    index: int


@dataclass(frozen=True)
class _Played:
    """Job ``index`` finished: its return and length (policy steps)."""

    index: int
    total: float
    length: int


@dataclass(frozen=True)
class _Stopped:
    """A worker's first failure, after which it stops: the agent's fault (:class:`AgentError`)
    or not (:class:`EvaluationError`), and the message."""

    agent_fault: bool
    message: str


def _worker_main(worker: int, parent: int, spec: AgentSpec, episode_timeout: float | None, jobs: Sequence[Job],
                 next_job: Any, results: Any) -> None:
    """Worker process: build the agent, then take the next job index from the shared
    counter until none are left.

    Sends :class:`_Ready` once the agent is built, :class:`_Started` before each job and
    :class:`_Played` after it, or :class:`_Stopped` once on the first failure and stops.
    The parent watches these against its own clock (:func:`run_in_workers`).
    """
    # Ctrl-C reaches the whole process group; the parent alone handles it and stops us
    # (workers started from the main thread already inherit this, see sigint_ignored).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)  # a killed evaluation leaves no worker behind,
    adopt_orphans()  # nor a process the agent forked and abandoned,
    make_undumpable()  # and the agent's process cannot open our pipes through /proc
    # One core per worker: stop a torch/OpenMP agent from starting a thread per core in
    # every worker (read when the agent first imports such a library).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:  # an agent file runs in its own process, apart from the env and the returns
        agent = AgentProcess(spec) if isinstance(spec.source, str) else spec.make()
    except AgentError as error:
        kill_children()  # what the agent forked while it loaded
        results.put(_Stopped(True, str(error)))
        return
    runner = EpisodeRunner(agent, episode_timeout)
    try:
        results.put(_Ready(worker, agent_observes(agent), getattr(agent, "pid", None)))
        while True:
            with next_job.get_lock():
                index = next_job.value
                next_job.value += 1
            if index >= len(jobs):
                break
            results.put(_Started(worker, index))
            try:
                total, length = runner.run(jobs[index])
            except (AgentError, EvaluationError) as error:
                if isinstance(agent, AgentProcess):  # before the report: the evaluation stops us when it reads it
                    agent.kill()
                    kill_children()  # what the agent forked and abandoned (we adopted it)
                results.put(_Stopped(isinstance(error, AgentError), str(error)))
                return
            results.put(_Played(index, total, length))
    finally:
        runner.close()
        if isinstance(agent, AgentProcess):
            agent.close()
            kill_children()


class Progress:
    """A tqdm bar on a terminal; elsewhere (a log file, CI) one line per finished variation."""

    def __init__(self, jobs: Sequence[Job], description: str, show: bool) -> None:
        self.lines = show and not sys.stderr.isatty()
        self.bar = tqdm(total=len(jobs), desc=description, unit="episode", disable=None if show else True,
                        leave=False)
        self.left = collections.Counter(job.variation for job in jobs)
        self.started = time.perf_counter()

    def done(self, job: Job) -> None:
        self.bar.update()
        self.left[job.variation] -= 1
        if self.lines and not self.left[job.variation]:
            print(f"{job.variation}: done ({time.perf_counter() - self.started:.0f} s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        self.bar.close()


def run_in_process(agent: Any, jobs: Sequence[Job], episode_timeout: float | None,
                    bar: Progress) -> dict[int, tuple[float, int]]:
    if episode_timeout is not None and threading.current_thread() is not threading.main_thread():
        raise ValueError("episode_timeout needs the main thread (it uses SIGALRM); pass workers >= 2 or no timeout")
    runner = EpisodeRunner(agent, episode_timeout)
    outcomes = {}
    try:
        for job in jobs:
            outcomes[job.index] = runner.run(job)
            bar.done(job)
    finally:
        runner.close()
    return outcomes


#: Default seconds a worker may take to import the agent file and run ``make_agent``
#: (``evaluate(load_timeout=...)``, ``--load-timeout``).
AGENT_LOAD_TIMEOUT = 600.0
#: Seconds the workers get to close their envs and agents after the last episode.
WORKER_EXIT_GRACE = 10.0
#: Seconds past the episode timeout before the parent stops a worker whose agent ignored
#: the in-worker alarm (stuck in C code, or catching it).
TIMEOUT_GRACE = 5.0


def run_in_workers(spec: AgentSpec, jobs: Sequence[Job], workers: int, episode_timeout: float | None,
                   bar: Progress, load_timeout: float = AGENT_LOAD_TIMEOUT
                   ) -> tuple[dict[int, tuple[float, int]], bool]:
    """Play ``jobs`` on ``workers`` processes, each with its own agent and envs.

    This process owns the clock: a worker that has not built its agent within
    ``load_timeout`` seconds, or whose episode runs :data:`TIMEOUT_GRACE` seconds past
    ``episode_timeout``, is stopped and the evaluation fails with :class:`AgentError`; a
    worker that exits early (``os._exit`` in an in-memory agent; an agent file's exit is
    its own process's, an :class:`AgentError`) fails it with :class:`EvaluationError`.
    Returns the outcomes ``{index: (return, length)}`` and whether the agent takes rewards
    through ``observe``."""
    context = multiprocessing.get_context("spawn")
    next_job = context.Value("q", 0)
    results = context.Queue()
    processes = [
        context.Process(target=_worker_main, args=(w, os.getpid(), spec, episode_timeout, jobs, next_job, results),
                        daemon=True)
        for w in range(workers)
    ]
    outcomes: dict[int, tuple[float, int]] = {}
    observes = False
    started = time.monotonic()
    ready: set[int] = set()
    running: dict[int, tuple[int, float]] = {}  # worker -> (job index, start time)
    agent_processes: list[int] = []
    try:
        with sigint_ignored():
            for process in processes:
                process.start()
        while len(outcomes) < len(jobs):
            try:
                message = results.get(timeout=0.5)
            except queue.Empty:
                _check_workers(processes, results)
                _check_clock(jobs, ready, running, started, workers, episode_timeout, load_timeout)
                continue
            if isinstance(message, _Ready):
                ready.add(message.worker)
                observes = message.observes
                if message.agent_pid is not None:
                    agent_processes.append(message.agent_pid)
            elif isinstance(message, _Started):
                running[message.worker] = (message.index, time.monotonic())
            elif isinstance(message, _Stopped):
                raise (AgentError if message.agent_fault else EvaluationError)(message.message)
            else:
                outcomes[message.index] = (message.total, message.length)
                running = {w: job for w, job in running.items() if job[0] != message.index}
                bar.done(jobs[message.index])
            _check_clock(jobs, ready, running, started, workers, episode_timeout, load_timeout)
    finally:
        if len(outcomes) == len(jobs):  # done: let the workers end their agents' processes themselves
            deadline = time.monotonic() + WORKER_EXIT_GRACE
            for process in processes:
                process.join(max(deadline - time.monotonic(), 0.0))
        for process in processes:
            if process.is_alive():
                process.kill()
        for process in processes:
            if process.pid is not None:  # started (a failed start must not hide its own error)
                process.join()
        for leader in agent_processes:  # in case a stopped worker could not end its agent
            kill_group(leader, AGENT_HOST.encode())
    return outcomes, observes


def _check_clock(jobs: Sequence[Job], ready: set[int], running: dict[int, tuple[int, float]], started: float,
                 workers: int, episode_timeout: float | None, load_timeout: float) -> None:
    """Raise :class:`AgentError` when a worker overran its deadline (the caller stops it)."""
    now = time.monotonic()
    if len(ready) < workers and now - started > load_timeout:
        raise AgentError(f"loading the agent (importing its file and calling make_agent) took longer than "
                         f"{load_timeout:g} s in a worker process; it was stopped. Make the agent load faster, "
                         "or raise the load timeout (--load-timeout).")
    if episode_timeout is None:
        return
    for index, start in running.values():
        if now - start > episode_timeout + TIMEOUT_GRACE:
            job = jobs[index]
            raise AgentError(
                f"variation {job.variation!r} ({job.env_id}), episode {job.episode + 1} of {job.episodes}, seed "
                f"{job.seed} exceeded the episode timeout of {episode_timeout:g} s and the agent did not give "
                "control back (stuck in C code, or it caught the alarm); its worker was stopped. Make act "
                "faster or raise the timeout (--episode-timeout).")


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


def agent_observes(agent: Any) -> bool:
    """Whether ``agent`` takes each step's outcome: a callable ``observe(reward, terminated,
    truncated)``, called after every step with plain Python float and bools, before the
    next ``act`` (for agents that adapt to rewards within an episode)."""
    return callable(getattr(agent, "observe", None))
