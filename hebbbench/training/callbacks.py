"""What happens around each generation of the training loop, as callbacks.

The loop (:func:`hebbbench.training.train.run_generations`) plays a generation, scores it
and tells the strategy; everything else it does is a :class:`Callback`: tracking the best
generation (``best.pt``), appending the log row, writing the checkpoint, the progress bar.
A callback of your own goes after these, e.g. from a notebook::

    from hebbbench.training import train
    train.train(config, "runs/mine", callbacks=[lambda report: print(report.row["fitness_mean"])])

A plain function is called as :meth:`Callback.on_generation`; subclass :class:`Callback` for
the other moments. Callbacks must not change the strategy, the fitness or the state: the
numbers of a run are the same whatever callbacks watch it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Union

import numpy as np
from tqdm import tqdm

from hebbbench.agents import ObservationStats
from hebbbench.es import Strategy
from hebbbench.system.interrupts import sigint_deferred
from hebbbench.training.run_dir import (
    BEST_FILE,
    LOG_FILE,
    TrainConfig,
    distribution_state,
    save_checkpoint,
    save_state,
)


@dataclasses.dataclass
class TrainingState:
    """What the loop carries from one generation to the next and checkpoints: generations
    done, cumulative policy steps and training seconds, the best generation so far
    (``{"generation", "fitness_mean"}``, ``None`` before the first) and the running
    observation statistics (``None``: no observation normalisation)."""

    generation: int
    env_steps: int
    seconds: float
    best: dict[str, Any] | None
    observation_stats: ObservationStats | None


@dataclasses.dataclass
class GenerationReport:
    """One generation, as the callbacks see it. ``returns`` and ``lengths``: ``[P, V]`` per
    individual and training variation (NaN and 0 where the run's ``variation_sampling`` had
    an individual not play a variation); ``penalty``: ``[P]``, the agent family's
    (:meth:`~hebbbench.agents.networks.BatchedPolicy.fitness_penalty`); ``fitness``: ``[P]``,
    mean return over the variations played + penalty. ``row``: the log row, its fitness part filled before the strategy
    is told, the strategy's numbers and the counters after. ``state``: the run's state
    (before ``tell``: as it was; after: with this generation counted)."""

    config: TrainConfig
    run_dir: Path
    strategy: Strategy
    generation: int
    returns: np.ndarray
    lengths: np.ndarray
    penalty: np.ndarray
    fitness: np.ndarray
    row: dict[str, Any]
    state: TrainingState


class Callback:
    """Hooks of the training loop; each does nothing unless overridden.

    ``on_start``: before the first generation of this process (also on resume);
    ``on_scored``: a generation was played and scored, the strategy not yet told (it still
    holds the distribution that produced the generation); ``on_generation``: the strategy
    was told and the row is complete (run with Ctrl-C deferred, so a generation's files are
    written together); ``on_end``: the loop ended, normally or by an exception."""

    def on_start(self, config: TrainConfig, run_dir: Path, state: TrainingState) -> None:
        pass

    def on_scored(self, report: GenerationReport) -> None:
        pass

    def on_generation(self, report: GenerationReport) -> None:
        pass

    def on_end(self) -> None:
        pass


class _Function(Callback):
    """A plain function ``f(report)`` as an ``on_generation`` callback."""

    def __init__(self, function: Callable[[GenerationReport], Any]) -> None:
        self.function = function

    def on_generation(self, report: GenerationReport) -> None:
        self.function(report)


CallbackLike = Union[Callback, Callable[[GenerationReport], Any]]


def as_callbacks(callbacks: Iterable[CallbackLike]) -> list[Callback]:
    """``callbacks`` as :class:`Callback` objects (functions wrapped); ``TypeError`` for anything else."""
    found = []
    for callback in callbacks:
        if isinstance(callback, Callback):
            found.append(callback)
        elif callable(callback):
            found.append(_Function(callback))
        else:
            raise TypeError(f"a callback is a hebbbench.training.callbacks.Callback or a function of the "
                            f"generation's report, not {callback!r}")
    return found


class TrackBest(Callback):
    """Saves the distribution of the generation with the best mean fitness to ``best.pt``
    (what a run's agent acts with by default) and records it in ``state.best``. Saved
    before ``tell`` moves the distribution, and before the checkpoint: a kill in between
    re-runs the generation and rewrites the same file."""

    def on_scored(self, report: GenerationReport) -> None:
        state, fitness_mean = report.state, report.row["fitness_mean"]
        if state.best is not None and fitness_mean <= state.best["fitness_mean"]:
            return
        state.best = {"generation": report.generation, "fitness_mean": fitness_mean}
        stats = state.observation_stats
        best_state = {**state.best, "strategy": distribution_state(report.strategy.state_dict()),
                      "observation_stats": None if stats is None else stats.state_dict()}
        with sigint_deferred():
            save_state(report.run_dir / BEST_FILE, best_state)


class WriteLog(Callback):
    """Appends the generation's row to ``log.jsonl`` (flushed to disk)."""

    def on_generation(self, report: GenerationReport) -> None:
        with open(report.run_dir / LOG_FILE, "a") as handle:
            handle.write(json.dumps(report.row) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


class SaveCheckpoint(Callback):
    """Writes ``checkpoint.pt`` atomically after the row (a SIGKILL between the two leaves
    a row without its checkpoint, which resume drops: the generation runs again)."""

    def on_generation(self, report: GenerationReport) -> None:
        state = report.state
        save_checkpoint(report.run_dir, report.strategy, state.generation, state.env_steps, state.seconds,
                        state.best, state.observation_stats, report.config)


class ProgressBar(Callback):
    """A tqdm bar over the run's generations, with the last mean and max fitness."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.bar: tqdm | None = None

    def on_start(self, config: TrainConfig, run_dir: Path, state: TrainingState) -> None:
        self.bar = tqdm(total=config.generations, initial=state.generation, unit="gen",
                        desc=f"{config.agent} {config.task} ({self.workers} {config.backend} workers)")

    def on_generation(self, report: GenerationReport) -> None:
        assert self.bar is not None
        self.bar.set_postfix(fitness=f"{report.row['fitness_mean']:.1f}", best=f"{report.row['fitness_max']:.1f}")
        self.bar.update(1)

    def on_end(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_files(workers: int, progress: bool) -> list[Callback]:
    """The loop's own callbacks, in order: best tracking, the log row, the checkpoint (what
    resume reads), and with ``progress`` the bar."""
    return [TrackBest(), WriteLog(), SaveCheckpoint(), *([ProgressBar(workers)] if progress else [])]
