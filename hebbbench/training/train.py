"""The training loop: reference agents, an ask/tell strategy and the benchmark's envs.

Read top to bottom: :class:`TrainConfig` says what to train; :func:`train` starts a run
directory and :func:`resume` continues one; :func:`run_generations` is the loop itself:

1. ``population = strategy.ask()`` (``[P, D]``);
2. every individual plays one episode on each training variation (with
   ``variation_sampling="per-pair"``, each mirrored pair on one: :mod:`hebbbench.training.sampling`),
   on the run's backend (:mod:`hebbbench.training.rollouts`: in-process, a local worker pool, or
   Ray); the episodes of a batch run in lockstep, one batched policy call per step;
3. fitness = mean return over the variations played + the agent family's penalty
   (``fitness_penalty``: the Hebbian coefficient penalty, zero for the others);
   with observation normalisation, the observations the generation saw join the running
   statistics that fix the next generation's normaliser;
4. ``strategy.tell(fitness)`` (per-pair: ranks within each variation). The side effects are callbacks
   (:mod:`hebbbench.training.callbacks`): before the tell, best tracking (``best.pt``);
   after it, the log row and an atomic checkpoint (a Ctrl-C waits until both are written;
   a SIGKILL between them leaves a row that resume drops), the progress bar, then the
   user's own.

Every random number comes from the run's seed and the generation number (the strategy's
noise, each variation's episode seed, the Hebbian weights), so the same config gives the
same numbers, and a run killed at any moment and resumed ends with exactly the parameters
of an uninterrupted one. All individuals of a generation meet the same episode seed on a
variation (common random numbers: the same track, the same start, the same initial
Hebbian weights), which makes the ranking of a mirrored pair depend on its parameters only;
``episode_seeds="per-individual"`` gives every individual a seed of its own instead (how this
differs from the paper's code: docs/training.md).

The run directory and its config live in :mod:`hebbbench.training.run_dir`; a finished run acts
through :mod:`hebbbench.training.run_agent`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import torch

from hebbbench.agents import ObservationNormalizer, ObservationStats
from hebbbench.agents.networks import POLICIES
from hebbbench.envs import get_variation
from hebbbench.es import Strategy
from hebbbench.es.openai_es import NOISE_SCHEME
from hebbbench.system.checks import available_device
from hebbbench.system.files import write_atomic
from hebbbench.system.interrupts import sigint_deferred
from hebbbench.training.callbacks import (
    Callback,
    CallbackLike,
    GenerationReport,
    TrainingState,
    as_callbacks,
    run_files,
)
from hebbbench.training.lockstep import EpisodeBatch, split_batches
from hebbbench.training.rollouts import Backend, make_backend
from hebbbench.training.run_agent import AGENT_TEMPLATE, load_run_agent
from hebbbench.training.run_dir import (
    AGENT_FILE,
    BEST_FILE,
    CHECKPOINT_FILE,
    CONFIG_FILE,
    EPISODE_SEEDS,
    EXECUTION_KEYS,
    LOG_FILE,
    SEED_PERIOD,
    TrainConfig,
    config_values,
    initial_observation_stats,
    load_state,
    make_strategy,
    read_log,
    save_checkpoint,
    write_config,
)
from hebbbench.training.sampling import VARIATION_SAMPLING
from hebbbench.training.snapshot import SNAPSHOT_KEY

#: ``load_run_agent`` is re-exported for code that imported it from here; run directories' ``agent.py`` import it
#: from :mod:`hebbbench.training.run_agent` (committed ones from the shim :mod:`hebbbench.train`).
__all__ = ["EPISODE_SEEDS", "EXECUTION_KEYS", "Callback", "GenerationReport", "TrainConfig", "evaluate_population",
           "generation_batches", "load_run_agent", "make_strategy", "play_generation", "read_log", "resume",
           "run_generations", "train"]


def episode_seeds(seed: int, generation: int, variation: int) -> tuple[int, int]:
    """(env reset seed, Hebbian weight seed) of one variation's episodes in one generation."""
    env_seed, weight_seed = np.random.SeedSequence([seed, generation, variation]).generate_state(2)
    return int(env_seed), int(weight_seed)


def generation_batches(config: TrainConfig, generation: int, workers: int,
                       normalizer: ObservationNormalizer | None = None) -> list[EpisodeBatch]:
    """The episodes of one generation: the individuals that play each training variation
    (``config.variation_sampling``: by default all of them, once each), cut into lockstep
    batches (a range of the population on a variation into at least its share of ``workers``:
    one per worker for the whole population), its policies acting on observations transformed
    by ``normalizer`` (``None``: raw)."""
    batches = []
    scheme = VARIATION_SAMPLING[config.variation_sampling]
    for v, start, stop in scheme.players(config.population, len(config.variations)):
        env_seed, weight_seed = episode_seeds(config.seed, generation, v)
        template = EpisodeBatch(config.network, config.task, get_variation(config.task, config.variations[v]).env_id,
                                env_seed, weight_seed, start, stop, config.max_episode_steps,
                                seed_period=SEED_PERIOD[config.episode_seeds](config.population),
                                device=config.device, normalizer=normalizer)
        batches.extend(split_batches(template, math.ceil(workers * (stop - start) / config.population)))
    return batches


def evaluate_population(config: TrainConfig, population: Any, generation: int, backend: Backend,
                        normalizer: ObservationNormalizer | None = None,
                        ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """Play a generation on ``backend``. ``population``: the strategy's compact population;
    ``normalizer``: the generation's observation normalisation (``None``: off).

    Returns the returns ``[P, V]`` of every individual on every training variation (NaN where
    ``config.variation_sampling`` had it not play), the episode lengths ``[P, V]`` (policy
    steps, 0 where not played), and with a normaliser the per-feature sum and sum of squares
    of the raw observations seen, ``[F]`` float64 each (summed over a ``[P, V, F]`` array in a
    fixed order: the same bits for any worker count)."""
    shape = (config.population, len(config.variations))
    returns, lengths = np.full(shape, np.nan), np.zeros(shape, dtype=np.int64)
    sums = squares = None
    batches = generation_batches(config, generation, backend.workers, normalizer)
    column = {get_variation(config.task, name).env_id: v for v, name in enumerate(config.variations)}
    for batch, result in zip(batches, backend.run(population, batches)):
        where = (slice(batch.start, batch.stop), column[batch.env_id])
        returns[where], lengths[where] = result.returns, result.lengths
        if normalizer is not None:
            if sums is None:
                sums, squares = (np.zeros((*shape, result.observation_sums.shape[1])) for _ in range(2))
            sums[where], squares[where] = result.observation_sums, result.observation_squares
    observed = None if sums is None else (sums.sum(axis=(0, 1)), squares.sum(axis=(0, 1)))
    return returns, lengths, observed


@contextlib.contextmanager
def _run_locked(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir`` for one training process: a second ``train``/``resume`` of the same
    directory is refused instead of interleaving its log rows and checkpoints with ours.
    (An exclusive ``flock`` on the directory itself, so no lock file joins the run's files.)"""
    import fcntl

    handle = os.open(run_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"another hebbbench process is training in {str(run_dir)!r}; wait for it to end "
                             "(or stop it) before resuming there") from None
        yield
    finally:
        os.close(handle)


def _snapshot_refusal(run_dir: Path) -> str:
    return (f"{str(run_dir)!r} is a snapshot (hebbbench snapshot): it keeps what evaluation reads, not the "
            "optimiser's state a run continues with; resume the run directory it was taken from")


def _unstarted(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a run killed before its first checkpoint (nothing trained)."""
    return (run_dir / CONFIG_FILE).exists() and not (run_dir / CHECKPOINT_FILE).exists()


def train(config: TrainConfig, run_dir: str | Path, progress: bool = True,
          callbacks: Iterable[CallbackLike] = ()) -> Path:
    """Start a run in the new (or empty) directory ``run_dir`` and train to the end.
    ``callbacks``: called around each generation after the run's own
    (:mod:`hebbbench.training.callbacks`; a function is called with each generation's report)."""
    callbacks = as_callbacks(callbacks)
    run_dir = Path(run_dir)
    available_device("device", config.device)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"run directory {str(run_dir)!r} is a file; give --out a new or empty folder")
    if run_dir.exists() and any(run_dir.iterdir()):
        if _unstarted(run_dir):
            raise ValueError(f"{str(run_dir)!r} holds a run stopped before its first checkpoint, so nothing was "
                             "trained there: delete the folder and start again, or give --out another folder")
        raise ValueError(f"run directory {str(run_dir)!r} is not empty; use --resume to continue a run there")
    run_dir.mkdir(parents=True, exist_ok=True)
    with _run_locked(run_dir):
        return _start(config, run_dir, progress, callbacks)


def _start(config: TrainConfig, run_dir: Path, progress: bool, callbacks: Iterable[CallbackLike]) -> Path:
    strategy = make_strategy(config)
    write_config(run_dir, config)
    text = AGENT_TEMPLATE.format(agent=config.agent, task=config.task, holdout=config.holdout)
    write_atomic(run_dir / AGENT_FILE, lambda h: h.write(text.encode()))
    save_checkpoint(run_dir, strategy, generation=0, env_steps=0, seconds=0.0, best=None,
                    observation_stats=initial_observation_stats(config), config=config)
    (run_dir / LOG_FILE).touch()
    return run_generations(config, run_dir, strategy, progress, callbacks)


#: What ``resume`` may change: where episodes run (never the numbers, but for ``device``:
#: another device's arithmetic from there on) and the run's length.
RESUME_CHANGES = ("workers", "backend", "ray_address", "device", "generations")


def resume(run_dir: str | Path, progress: bool = True, callbacks: Iterable[CallbackLike] = (),
           **changes: Any) -> Path:
    """Continue the run in ``run_dir`` from its last checkpoint.

    ``changes`` (:data:`RESUME_CHANGES`, ``None`` values ignored): ``workers``, ``backend``
    and ``ray_address`` may change (a new backend starts from its defaults for the
    others); ``device`` may change (a GPU run continues on a CPU-only machine; the
    generations after the change have the new device's arithmetic, and each log row
    says its device); ``generations`` may extend a run (the generations already run are
    the same whatever the total). Changes are saved in ``config.json``. ``callbacks``: as
    :func:`train`'s."""
    callbacks = as_callbacks(callbacks)
    run_dir = Path(run_dir)
    if not (run_dir / CHECKPOINT_FILE).is_file():
        if (run_dir / BEST_FILE).is_file() and load_state(run_dir / BEST_FILE).get(SNAPSHOT_KEY):
            raise ValueError(_snapshot_refusal(run_dir))
        if _unstarted(run_dir):
            raise ValueError(f"{str(run_dir)!r} holds a run stopped before its first checkpoint, so there is "
                             "nothing to resume: delete the folder and start the run again with --out")
        raise ValueError(f"{str(run_dir)!r} is not a run directory (no {CHECKPOINT_FILE}); start one with --out")
    with _run_locked(run_dir):
        return _resume(run_dir, progress, callbacks, **changes)


def _resume(run_dir: Path, progress: bool, callbacks: Iterable[CallbackLike], **changes: Any) -> Path:
    refused = sorted(set(changes) - set(RESUME_CHANGES))
    if refused:
        raise ValueError(f"resume cannot change {', '.join(refused)}; it may change {', '.join(RESUME_CHANGES)}")
    config = TrainConfig.from_file(run_dir / CONFIG_FILE)
    given = {name: value for name, value in changes.items() if value is not None}
    if given.get("backend", config.backend) != config.backend:
        # The saved worker count and Ray address belonged to the old backend.
        given = {"workers": None, "ray_address": None, **given}
    checkpoint = load_state(run_dir / CHECKPOINT_FILE)
    if checkpoint.get(SNAPSHOT_KEY):
        raise ValueError(_snapshot_refusal(run_dir))
    _check_unedited(config, checkpoint.get("config"), run_dir)
    done = checkpoint["generation"]
    if "generations" in given and given["generations"] <= done:
        raise ValueError(f"{str(run_dir)!r} already has {done} generations; --generations extends a run, so give "
                         f"more than {done} (or drop it to finish the run's {config.generations})")
    config = dataclasses.replace(config, **given)
    available_device("device", config.device)
    state = checkpoint["strategy"]  # copied by load_state_dict
    if state.get("kind") == "openai-es" and state.get("noise") != NOISE_SCHEME:
        raise ValueError(f"{str(run_dir)!r} was trained by an older hebbbench that drew its ES noise differently "
                         "(before per-row seeds); resuming would not continue its numbers: start a new run, or "
                         "resume it with the hebbbench version that started it (evaluating it works as is)")
    write_config(run_dir, config)
    strategy = make_strategy(config)
    strategy.load_state_dict(state)
    return run_generations(config, run_dir, strategy, progress, callbacks, checkpoint=checkpoint)


def _check_unedited(config: TrainConfig, saved: dict[str, Any] | None, run_dir: Path) -> None:
    """``ValueError`` naming the first field of ``config.json`` that differs from the config
    the checkpoint was trained with, other than :data:`RESUME_CHANGES` (which ``resume``
    changes through its arguments). Checkpoints from before hebbbench 0.5 carry no config; a
    field added since a checkpoint was written counts as its default there."""
    if saved is None:
        return
    current = config_values(config)
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}
    saved = {**{name: value for name, value in defaults.items() if name in current}, **saved}
    for name in sorted(set(saved) | set(current)):
        if name not in RESUME_CHANGES and saved.get(name) != current.get(name):
            raise ValueError(f"{run_dir / CONFIG_FILE} says {name} = {current.get(name)!r} but the run was trained "
                             f"with {saved.get(name)!r}: the file was edited after training started. Restore "
                             f"{name}, or start a new run with --out; resume may change only "
                             f"{', '.join(RESUME_CHANGES)}")


def run_generations(config: TrainConfig, run_dir: Path, strategy: Strategy, progress: bool = True,
                    callbacks: Iterable[CallbackLike] = (), checkpoint: dict[str, Any] | None = None) -> Path:
    """Train from the checkpoint in ``run_dir`` to ``config.generations``: each generation is
    asked, played, scored and told (:func:`play_generation`), and its side effects are
    callbacks (:mod:`hebbbench.training.callbacks`): the run's own (best tracking, log row,
    checkpoint, progress bar with ``progress``), then ``callbacks``.

    Each log row holds: ``generation``; ``fitness_mean``, ``fitness_max`` and ``fitness_min``
    over the population (penalty included); ``return_<variation>``: the population's mean
    return there; ``penalty_mean``; the strategy's numbers (``sigma``, ``lr``, ...);
    ``env_steps`` (cumulative policy steps) and ``seconds`` (cumulative training time);
    and how the generation ran: ``rollout_seconds`` (wall time of its episodes),
    ``worker_seconds`` (time workers spent playing them), ``bytes_sent`` (to workers),
    ``workers`` and ``worker_restarts`` (workers replaced after dying); ``device`` (where
    the policies computed). ``checkpoint``: the run's checkpoint if the caller has already
    loaded it (resume), so that it is not read and checksummed twice.
    """
    state = _restore(config, run_dir, strategy, checkpoint)
    backend = make_backend(config.backend, config.workers, config.ray_address)
    hooks = run_files(backend.workers, progress) + as_callbacks(callbacks)
    # Episodes run in lockstep with single-threaded envs: one torch thread per process
    # avoids threads spinning against the envs (and against other jobs on the machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for hook in hooks:
            hook.on_start(config, run_dir, state)
        while state.generation < config.generations:
            play_generation(config, run_dir, strategy, backend, state, hooks)
    finally:
        for hook in hooks:
            hook.on_end()
        torch.set_num_threads(threads)
        backend.close()
    return run_dir


def _restore(config: TrainConfig, run_dir: Path, strategy: Strategy,
             checkpoint: dict[str, Any] | None = None) -> TrainingState:
    """The state of the run's checkpoint (read from ``run_dir`` unless given). Rows of a
    generation that ran but was not checkpointed are dropped (it runs again), and the
    checkpoint is rewritten with ``config``."""
    if checkpoint is None:
        checkpoint = load_state(run_dir / CHECKPOINT_FILE)  # only its counters are read here
    saved_stats = checkpoint.get("observation_stats")
    state = TrainingState(generation=checkpoint["generation"], env_steps=checkpoint["env_steps"],
                          seconds=checkpoint["seconds"],
                          best=checkpoint.get("best"),  # runs from before best tracking start tracking here
                          observation_stats=None if saved_stats is None else ObservationStats.from_state(saved_stats))
    rows = [row for row in read_log(run_dir) if row["generation"] < state.generation]
    write_atomic(run_dir / LOG_FILE, lambda h: h.write("".join(json.dumps(r) + "\n" for r in rows).encode()))
    save_checkpoint(run_dir, strategy, state.generation, state.env_steps, state.seconds, state.best,
                    state.observation_stats, config)
    return state


def play_generation(config: TrainConfig, run_dir: Path, strategy: Strategy, backend: Backend,
                    state: TrainingState, hooks: list[Callback]) -> GenerationReport:
    """One generation: ask, play on ``backend``, score (mean return + the agent family's
    penalty), ``on_scored``, tell, count it in ``state``, ``on_generation``."""
    start = time.perf_counter()
    generation, stats = state.generation, state.observation_stats
    population = strategy.ask()
    before = dict(backend.stats)
    rollout_start = time.perf_counter()
    normalizer = None if stats is None else stats.normalizer()
    returns, lengths, observed = evaluate_population(config, strategy.compact_population(), generation,
                                                     backend, normalizer)
    rollout_seconds = time.perf_counter() - rollout_start
    penalty = POLICIES[config.network].fitness_penalty(population, config.task).numpy()
    scheme = VARIATION_SAMPLING[config.variation_sampling]
    played = scheme.played(config.population, len(config.variations))
    # A NaN among the played returns (a broken episode) stays NaN, for the strategy to refuse.
    fitness = np.where(played, returns, 0.0).sum(axis=1) / played.sum(axis=1) + penalty
    elapsed = time.perf_counter() - start
    report = GenerationReport(config, run_dir, strategy, generation, returns, lengths, penalty, fitness,
                              _fitness_row(config, generation, returns, played, penalty, fitness), state)
    for hook in hooks:
        hook.on_scored(report)
    report.row.update(strategy.tell(scheme.told(fitness, played)))
    state.generation, state.env_steps = generation + 1, state.env_steps + int(lengths.sum())
    state.seconds += elapsed
    if stats is not None:
        state.observation_stats = stats.add(int(lengths.sum()), *observed)
    report.row.update(env_steps=state.env_steps, seconds=round(state.seconds, 3),
                      **_execution_row(config, backend, before, rollout_seconds))
    with sigint_deferred():  # a Ctrl-C here would leave a row without its checkpoint
        for hook in hooks:
            hook.on_generation(report)
    return report


def _fitness_row(config: TrainConfig, generation: int, returns: np.ndarray, played: np.ndarray,
                 penalty: np.ndarray, fitness: np.ndarray) -> dict[str, Any]:
    """The log row's first part: the generation's fitness, returns per variation (over the
    individuals that played it, ``played`` ``[P, V]``) and penalty."""
    return {
        "generation": generation,
        "fitness_mean": float(fitness.mean()),
        "fitness_max": float(fitness.max()),
        "fitness_min": float(fitness.min()),
        **{f"return_{name}": float(returns[played[:, v], v].mean()) for v, name in enumerate(config.variations)},
        "penalty_mean": float(penalty.mean()),
    }


def _execution_row(config: TrainConfig, backend: Backend, before: dict[str, Any],
                   rollout_seconds: float) -> dict[str, Any]:
    """The log row's last part: how the generation ran (``before``: the backend's counters
    before it)."""
    return dict(rollout_seconds=round(rollout_seconds, 3),
                worker_seconds=round(backend.stats["worker_seconds"] - before["worker_seconds"], 3),
                bytes_sent=backend.stats["bytes_sent"] - before["bytes_sent"], workers=backend.workers,
                worker_restarts=backend.stats["worker_restarts"] - before["worker_restarts"], device=config.device)
