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

import datetime
import inspect
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from hebbbench.envs import PAPER_HOLDOUT, env_settings, get_task, get_variation, variations
from hebbbench.envs.registry import Variation
from hebbbench.evaluation.agent_file import (
    AgentError,
    AgentFactory,
    agent_sha256,
    describe,
)
from hebbbench.evaluation.episodes import (
    AGENT_LOAD_TIMEOUT,
    AgentSpec,
    Job,
    Progress,
    agent_observes,
    run_in_process,
    run_in_workers,
    task_spaces,
)
from hebbbench.evaluation.results import ARITHMETIC, Results, VariationResult, option_problems
from hebbbench.system.checks import int_at_least
from hebbbench.system.processes import default_workers, sandbox_status, undumpable
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
#: Bounds of ``load_timeout`` in seconds (importing the agent and ``make_agent``): at
#: least a second, since starting Python and the sandbox takes part of one; at most a week.
MIN_LOAD_TIMEOUT, MAX_LOAD_TIMEOUT = 1.0, 7 * 24 * 3600.0
#: ``agent.sandbox`` of an in-memory agent factory, which runs in the worker (or here).
IN_MEMORY_SANDBOX = "none (in-memory agent factory: it runs in the evaluation's own processes)"


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
    arithmetic: str | None = None,
    load_timeout: float = AGENT_LOAD_TIMEOUT,
) -> Results:
    """Evaluate an agent on every variation of ``task``, holding out ``holdout``.

    ``agent_factory`` is ``make_agent(task, holdout, observation_space, action_space)``
    or the path of an agent file / directory (see :mod:`hebbbench.evaluation.agent_file`); with
    ``workers >= 2`` a factory must be picklable (a module-level function).
    ``holdout`` defaults to the paper's fold. ``episodes`` per variation run on seeds
    ``seed, seed + 1, ...`` (default: the protocol's seeds); only ``episodes ==
    EPISODES`` on the protocol's seeds is a full protocol run. ``workers`` processes
    (default one per core) share the episodes; the numbers do not depend on it. An agent
    file always runs in worker processes, this one keeping the clock (an in-memory factory
    with ``workers=1`` runs here). ``episode_timeout`` (seconds) limits each episode's wall
    time, enforced inside the worker and, if the agent ignores that, from here.
    ``record_dir`` receives one GIF per variation (``<variation>.gif``, the first seed's
    episode, run again with rendering on). ``progress`` shows a tqdm bar on stderr.
    ``agent_options``: keyword arguments passed to ``make_agent`` (JSON values, e.g. a run
    directory's ``{"checkpoint": "final", "sigma": 0}``); the results record them.
    ``arithmetic``: ``"portable"`` (default for an agent file) runs its process with
    torch arithmetic that gives the same bits on any x86-64 CPU, at some speed;
    ``"native"`` (the only choice for an in-memory factory) uses the CPU's fastest kernels,
    whose last bits differ between instruction sets. The results record it.
    ``load_timeout``: seconds each worker may take to import the agent and run
    ``make_agent`` (default 600). An agent file's process runs in a sandbox where bubblewrap
    works (``docs/sandbox.md``); the results record whether it did (``agent.sandbox``).

    Raises :class:`AgentError` if the agent fails (naming variation, episode and seed),
    :class:`~hebbbench.evaluation.episodes.EvaluationError` if a worker dies, ``ValueError`` for bad arguments.
    """
    fold = get_fold(task, holdout)
    int_at_least("episodes", episodes, 1)
    workers = int_at_least("workers", default_workers() if workers is None else workers, 1)
    _check_episode_timeout(episode_timeout)
    check_load_timeout(load_timeout)
    first_seed = FIRST_SEED if seed is None else int(seed)
    if first_seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed!r}")
    source = _checked_source(agent_factory, workers)
    arithmetic = check_arithmetic(arithmetic, agent_file=isinstance(source, str))
    agent_path = source if isinstance(source, str) else _source_file(source)
    started = time.perf_counter()
    # Hashed before the agent runs: the code that ran, whatever the agent does to its files.
    sha256_before = _files_sha256(agent_path)
    agent_options = check_agent_options(agent_options)
    sandbox = sandbox_status() if isinstance(source, str) else IN_MEMORY_SANDBOX
    spec = AgentSpec(source, fold.task, fold.holdout, *task_spaces(fold.task), agent_options, arithmetic, sandbox)
    # An agent file runs in worker processes only, whatever ``workers`` is: this process
    # keeps the clock and survives an agent that exits, hangs or leaves threads behind.
    # An in-memory factory with one worker runs here (fail early: build it now).
    agent = None if isinstance(source, str) else spec.make()
    task_variations = variations(fold.task)
    seeds = list(range(first_seed, first_seed + episodes))
    jobs = _episode_jobs(task_variations, seeds, record_dir)
    workers_used = min(workers, len(jobs))
    outcomes, observes = _play(spec, agent, jobs, workers_used, episode_timeout, load_timeout,
                               Progress(jobs, f"{fold.task}, held out {fold.holdout}", progress))
    wall_time = time.perf_counter() - started
    if isinstance(source, str) and _files_sha256(agent_path) != sha256_before:
        raise AgentError(f"the agent's files ({agent_path!r}) changed while it was evaluated, so no one could "
                         "re-run what was scored: an agent must not write into its own file or folder (write "
                         "elsewhere, e.g. a temporary folder).")
    return Results(
        protocol_version=PROTOCOL_VERSION,
        package_version=__version__,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        task=fold.task,
        holdout=fold.holdout,
        agent_path=agent_path,
        agent_sha256=sha256_before,
        agent_options=agent_options,
        agent_observes=observes,
        agent_arithmetic=arithmetic,
        agent_sandbox=sandbox,
        episodes_per_variation=episodes,
        full_protocol=episodes == EPISODES and first_seed == FIRST_SEED,
        workers=workers_used,
        wall_time_s=round(wall_time, 3),
        variations=_variation_results(fold, task_variations, seeds, outcomes),
    )


def _check_episode_timeout(episode_timeout: Any) -> None:
    """``ValueError`` unless ``episode_timeout`` is ``None`` or a number of seconds in
    [:data:`MIN_EPISODE_TIMEOUT`, :data:`MAX_EPISODE_TIMEOUT`]."""
    if episode_timeout is not None and not (isinstance(episode_timeout, (int, float))
                                            and MIN_EPISODE_TIMEOUT <= episode_timeout <= MAX_EPISODE_TIMEOUT):
        raise ValueError(f"episode_timeout must be a number of seconds in [{MIN_EPISODE_TIMEOUT:g}, "
                         f"{MAX_EPISODE_TIMEOUT:g}] (one week), got {episode_timeout!r}")


def _checked_source(agent_factory: AgentFactory | str | Path, workers: int) -> AgentFactory | str:
    """An agent file's path as a string, or the in-memory factory itself, which more than
    one worker must be able to pickle (``ValueError`` otherwise)."""
    source = str(agent_factory) if isinstance(agent_factory, (str, Path)) else agent_factory
    if workers > 1 and not isinstance(source, str):
        try:
            pickle.dumps(source)
        except Exception as error:
            raise ValueError(
                f"with workers={workers} the agent factory must be picklable (a module-level function), "
                f"but pickling it failed: {describe(error)}; pass workers=1 or an agent file path."
            ) from None
    return source


def _episode_jobs(task_variations: Sequence[Variation], seeds: list[int],
                  record_dir: str | Path | None) -> list[Job]:
    """Every variation's episodes on ``seeds`` (job ``v * episodes + e``), then with
    ``record_dir`` one recorded episode per variation (the first seed's, to
    ``<record_dir>/<variation>.gif``; the folder is made here)."""
    episodes = len(seeds)
    jobs = [Job(v * episodes + e, variation.name, variation.env_id, e, episodes, s)
            for v, variation in enumerate(task_variations) for e, s in enumerate(seeds)]
    if record_dir is None:
        return jobs
    record_dir = Path(record_dir)
    try:
        record_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # an existing file of that name, no permission, ...
        raise ValueError(f"cannot use {str(record_dir)!r} as the recordings folder: {error.strerror}; "
                         "pass --record a new or existing folder") from None
    return jobs + [Job(len(jobs) + v, variation.name, variation.env_id, 0, episodes, seeds[0],
                       str(record_dir / f"{variation.name}.gif"))
                   for v, variation in enumerate(task_variations)]


def _play(spec: AgentSpec, agent: Any, jobs: list[Job], workers: int, episode_timeout: float | None,
          load_timeout: float, bar: Progress) -> tuple[dict[int, tuple[float, int]], bool]:
    """Play ``jobs``: here when an in-memory ``agent`` has one worker, else on ``workers``
    processes. Returns ``{job index: (return, length)}`` and whether the agent observes."""
    try:
        if agent is not None and workers == 1:
            return run_in_process(agent, jobs, episode_timeout, bar), agent_observes(agent)
        with undumpable():  # an agent's process cannot open our pipes through /proc
            return run_in_workers(spec, jobs, workers, episode_timeout, bar, load_timeout)
    finally:
        bar.close()


def _variation_results(fold: Fold, task_variations: Sequence[Variation], seeds: list[int],
                       outcomes: dict[int, tuple[float, int]]) -> tuple[VariationResult, ...]:
    """Each variation's returns and lengths on ``seeds``, split ``"test"`` for the held-out one."""
    episodes = len(seeds)
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
    return tuple(per_variation)


def _files_sha256(agent_path: str) -> str:
    """The agent's files' sha256 (:func:`agent_sha256`), or "" when there are none."""
    return agent_sha256(agent_path) if Path(agent_path).exists() else ""


def check_load_timeout(load_timeout: Any) -> float:
    """``load_timeout`` checked: a number of seconds in [:data:`MIN_LOAD_TIMEOUT`,
    :data:`MAX_LOAD_TIMEOUT`] (``ValueError`` naming the value and the range)."""
    if isinstance(load_timeout, bool) or not (isinstance(load_timeout, (int, float))
                                             and MIN_LOAD_TIMEOUT <= load_timeout <= MAX_LOAD_TIMEOUT):
        raise ValueError(f"load_timeout (--load-timeout) must be a number of seconds in [{MIN_LOAD_TIMEOUT:g}, "
                         f"{MAX_LOAD_TIMEOUT:g}] (one week), got {load_timeout!r}")
    return float(load_timeout)


def check_arithmetic(arithmetic: str | None, *, agent_file: bool) -> str:
    """``arithmetic`` checked (``ValueError`` naming the choices); ``None`` means
    ``"portable"`` for an agent file and ``"native"`` for an in-memory factory."""
    if arithmetic is None:
        return "portable" if agent_file else "native"
    if arithmetic not in ARITHMETIC:
        raise ValueError(f"arithmetic must be one of {list(ARITHMETIC)}, got {arithmetic!r}")
    if arithmetic == "portable" and not agent_file:
        raise ValueError("arithmetic='portable' needs an agent file (it is set when the agent's own process "
                         "starts); pass the agent's path, or arithmetic='native'")
    return arithmetic


def check_agent_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """``options`` as a plain dict of identifier keys and JSON scalar values (``ValueError`` otherwise)."""
    options = {} if options is None else options
    problems = option_problems(options)
    if problems:
        raise ValueError(problems[0])
    return dict(options)


def _source_file(factory: Callable) -> str:
    """The file defining an in-memory agent factory, or ``<qualname>`` if it has none."""
    try:
        return inspect.getsourcefile(factory) or f"<{factory.__qualname__}>"
    except TypeError:  # a builtin or a callable instance without a source file
        return f"<{type(factory).__qualname__}>"
