"""Where training episodes run: in this process, in a persistent local worker pool, or on Ray.

Every backend answers one call, :meth:`Backend.run`: "play these batches of episodes of
this population; give me each episode's return and length". A batch
(:class:`EpisodeBatch`) is a contiguous range of individuals on one variation, all reset
with the same env seed and Hebbian weight seed; its K episodes run in lockstep, one
batched policy call per step (:mod:`hebbbench.training.lockstep`).

What travels to a worker is the population's compact form (``strategy.compact_population()``,
:mod:`hebbbench.es.population`): for OpenAI-ES the mean and the seeds, sent once per worker
per generation, from which the worker rebuilds the rows it plays; for a strategy without a
compact form, the rows of each batch. Workers keep their envs between batches and
generations: an env is reset with the batch's seed, so a reused env plays exactly the
episode a fresh one would, and an episode's numbers depend only on its parameters and
seeds, never on the backend, the worker count or the order the batches run in.

Backends (:func:`make_backend`):

* ``"inprocess"``: plays the batches here, one after the other (tests, debugging);
* ``"local"``: W worker processes started once per run (the default, one per core);
* ``"ray"``: W Ray actors, on a local Ray instance or on the cluster at ``address``.

Faults: a worker that dies during a batch (killed, segfault, out of memory) is replaced and
its batch re-run, so the generation completes with the numbers it would have had; a batch
that has taken down :data:`MAX_FAILURES` workers stops the run with
:class:`WorkerCrashError`. An exception raised inside a batch is a bug, not bad luck: it is
not retried but raised as :class:`BatchError` with the worker's traceback.
"""

from __future__ import annotations

import collections
import importlib.util
import multiprocessing
import os
import pickle
import signal
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import wait as wait_for_ready
from typing import Any, Iterable, Sequence

import torch

import hebbbench  # noqa: F401  (registers the env IDs, also in worker processes)
from hebbbench.system.checks import int_at_least
from hebbbench.system.interrupts import sigint_ignored
from hebbbench.system.processes import default_workers
from hebbbench.training.lockstep import BatchResult, EpisodeBatch, EpisodeWorker

#: Workers a single batch may take down before the run stops.
MAX_FAILURES = 3


class BatchError(RuntimeError):
    """An exception raised while a worker played a batch (a bug; not retried)."""


class WorkerCrashError(RuntimeError):
    """A batch took down ``max_failures`` workers (default :data:`MAX_FAILURES`); the run stops."""


@dataclass(frozen=True)
class _Failed:
    """A batch that raised inside the worker: the worker's traceback."""

    traceback: str


@dataclass(frozen=True)
class _Died:
    """The worker running a batch died: how (``"killed by SIGKILL"``, ``"exit code 1"``)."""

    how: str


def _describe(batch: EpisodeBatch) -> str:
    return (f"episodes of individuals {batch.start}..{batch.stop - 1} on {batch.env_id} "
            f"(env seed {batch.env_seed}, weight seed {batch.weight_seed}, seed period {batch.seed_period})")


class Backend:
    """Runs batches of episodes on ``workers`` workers; see the module docstring.

    ``stats`` counts, over the backend's life: ``bytes_sent`` (pickled bytes of batches and
    populations sent to workers), ``bytes_received``, ``batches`` run, ``worker_seconds``
    (time workers spent playing) and ``worker_restarts``.
    """

    name = ""

    #: Whether the backend can join a running cluster at an ``address`` (Ray).
    joins_cluster = False

    @classmethod
    def check(cls, workers: int | None, address: str | None) -> None:
        """``ValueError`` unless ``workers`` (``None``: the backend's default) and
        ``address`` (a cluster's, for backends that join one) suit this backend."""
        if workers is not None:
            int_at_least("workers", workers, 1)
        if address is not None and not cls.joins_cluster:
            raise ValueError(f"a Ray address applies only to the ray backend, not {cls.name!r}")

    def __init__(self, workers: int, max_failures: int = MAX_FAILURES) -> None:
        self.workers = int_at_least("workers", workers, 1)
        self.max_failures = max_failures
        self.stats = {"bytes_sent": 0, "bytes_received": 0, "batches": 0, "worker_seconds": 0.0,
                      "worker_restarts": 0}
        self._closed = False

    def run(self, population: Any, batches: Sequence[EpisodeBatch]) -> list[BatchResult]:
        """Play every batch of ``population`` (a compact population); results in batch order.

        Each worker has one batch in flight; a batch goes to whichever worker is free.
        A worker receives the population part a batch needs unless it already holds it."""
        if self._closed:
            raise RuntimeError(f"this {self.name} backend is closed")
        results: list[BatchResult | None] = [None] * len(batches)
        pending = collections.deque(range(len(batches)))
        failures: collections.Counter[int] = collections.Counter()
        busy: dict[int, int] = {}  # worker slot -> batch index
        held: dict[int, Any] = {}  # worker slot -> the population part it holds
        try:
            while pending or busy:
                for slot in range(self.workers):
                    if slot in busy or not pending:
                        continue
                    index = pending.popleft()
                    part = population.part(batches[index].start, batches[index].stop)
                    self._submit(slot, batches[index], None if held.get(slot) is part else part)
                    held[slot], busy[slot] = part, index
                for slot, outcome in self._wait(sorted(busy)):
                    index = busy.pop(slot)
                    if isinstance(outcome, _Died):
                        held.pop(slot, None)
                        failures[index] += 1
                        self.stats["worker_restarts"] += 1
                        if failures[index] >= self.max_failures:
                            raise WorkerCrashError(
                                f"the {_describe(batches[index])} took down {failures[index]} workers "
                                f"(last one {outcome.how}); the run stops here")
                        self._replace(slot)
                        pending.appendleft(index)
                    elif isinstance(outcome, _Failed):
                        raise BatchError(f"the {_describe(batches[index])} raised an error in a worker:\n"
                                         f"{outcome.traceback}")
                    else:
                        results[index] = outcome
                        self.stats["batches"] += 1
                        self.stats["worker_seconds"] += outcome.seconds
        except BaseException:
            self.close()  # workers may still be busy with batches nobody will collect
            raise
        return results  # type: ignore[return-value]

    def worker_pids(self) -> list[int]:
        """Process IDs of the workers (to watch them, or to kill one in a fault test)."""
        raise NotImplementedError

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # What each backend provides:
    def _submit(self, slot: int, batch: EpisodeBatch, part: Any) -> None:
        """Start ``batch`` on worker ``slot``; ``part`` is the population (None: the one it holds)."""
        raise NotImplementedError

    def _wait(self, slots: list[int]) -> Iterable[tuple[int, BatchResult | _Failed | _Died]]:
        """Block until at least one busy worker of ``slots`` finished, failed or died."""
        raise NotImplementedError

    def _replace(self, slot: int) -> None:
        """Start a fresh worker in ``slot`` after its worker died."""
        raise NotImplementedError


def _play(worker: EpisodeWorker, batch: EpisodeBatch, part: Any) -> BatchResult | _Failed:
    try:
        return worker.run(batch, part)
    except Exception:  # noqa: BLE001  (sent back to the trainer, which raises BatchError)
        return _Failed(traceback.format_exc())


class InProcessBackend(Backend):
    """Plays the batches in this process, one after the other (one worker)."""

    name = "inprocess"

    @classmethod
    def check(cls, workers: int | None, address: str | None) -> None:
        super().check(workers, address)
        if workers not in (None, 1):
            raise ValueError(f"the inprocess backend plays in this process (1 worker), got workers={workers}; "
                             f"use the local backend for worker processes")

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        self.check(workers, address)
        super().__init__(workers=1)
        self._worker = EpisodeWorker()
        self._outcome: BatchResult | _Failed | None = None

    def _submit(self, slot: int, batch: EpisodeBatch, part: Any) -> None:
        self._outcome = _play(self._worker, batch, part)

    def _wait(self, slots: list[int]) -> Iterable[tuple[int, BatchResult | _Failed | _Died]]:
        return [(0, self._outcome)]

    def worker_pids(self) -> list[int]:
        return [os.getpid()]

    def close(self) -> None:
        super().close()
        self._worker.close()


def _local_worker_main(connection: Any) -> None:
    """A local pool worker: play batches from ``connection`` until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the trainer's (also when started off the main thread)
    torch.set_num_threads(1)  # single-threaded envs; one process per core
    worker = EpisodeWorker()
    try:
        while True:
            batch, part = pickle.loads(connection.recv_bytes())
            connection.send_bytes(pickle.dumps(_play(worker, batch, part), protocol=pickle.HIGHEST_PROTOCOL))
    except (EOFError, OSError):  # the trainer closed the pool or died
        pass
    finally:
        worker.close()


def _how_it_died(process: Any) -> str:
    process.join(timeout=5)
    code = process.exitcode
    if code is None:
        return "stopped answering"
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


class LocalPoolBackend(Backend):
    """``workers`` processes on this machine, started once and reused for every batch."""

    name = "local"

    def __init__(self, workers: int | None = None, address: str | None = None,
                 max_failures: int = MAX_FAILURES) -> None:
        self.check(workers, address)
        super().__init__(default_workers() if workers is None else workers, max_failures)
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[Any] = [None] * self.workers
        self._connections: list[Any] = [None] * self.workers
        self._busy: set[int] = set()  # slots playing a batch not yet collected
        for slot in range(self.workers):
            self._replace(slot)

    def _replace(self, slot: int) -> None:
        if self._processes[slot] is not None:
            self._connections[slot].close()
            self._processes[slot].kill()
            self._processes[slot].join()
        mine, theirs = self._context.Pipe()
        process = self._context.Process(target=_local_worker_main, args=(theirs,), daemon=True,
                                        name=f"hebbbench-worker-{slot}")
        with sigint_ignored():  # a Ctrl-C during the worker's imports must not print its traceback
            process.start()
        theirs.close()
        self._processes[slot], self._connections[slot] = process, mine

    def _submit(self, slot: int, batch: EpisodeBatch, part: Any) -> None:
        data = pickle.dumps((batch, part), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self._connections[slot].send_bytes(data)
        except OSError:  # already dead: _wait sees its sentinel
            pass
        self._busy.add(slot)
        self.stats["bytes_sent"] += len(data)

    def _wait(self, slots: list[int]) -> Iterable[tuple[int, BatchResult | _Failed | _Died]]:
        handles = [self._connections[s] for s in slots] + [self._processes[s].sentinel for s in slots]
        ready = set(wait_for_ready(handles))
        outcomes = []
        for slot in slots:
            connection, process = self._connections[slot], self._processes[slot]
            if connection not in ready and process.sentinel not in ready:
                continue
            self._busy.discard(slot)
            try:
                data = connection.recv_bytes() if connection.poll() else None
            except (EOFError, OSError):
                data = None
            if data is None:
                outcomes.append((slot, _Died(_how_it_died(process))))
            else:
                self.stats["bytes_received"] += len(data)
                outcomes.append((slot, pickle.loads(data)))
        return outcomes

    def worker_pids(self) -> list[int]:
        return [process.pid for process in self._processes]

    def close(self) -> None:
        if self._closed:
            return
        super().close()
        for connection in self._connections:
            connection.close()  # an idle worker reads EOF and exits
        for slot in self._busy:  # a busy one would notice only after its batch: its result is not wanted
            self._processes[slot].kill()
        deadline = time.monotonic() + 5
        for process in self._processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


class _RayWorker:
    """The body of a Ray actor: an :class:`EpisodeWorker` in a single-threaded process."""

    def __init__(self) -> None:
        torch.set_num_threads(1)
        self.worker = EpisodeWorker()

    def run(self, batch: EpisodeBatch, part: Any) -> BatchResult | _Failed:
        return _play(self.worker, batch, part)

    def pid(self) -> int:
        return os.getpid()


class RayBackend(Backend):
    """``workers`` Ray actors (one CPU each), on a local Ray or the cluster at ``address``.

    ``address=None`` starts a local Ray instance with ``workers`` CPUs (shut down on
    :meth:`close`); an address (``"auto"``, ``"ray://host:10001"``, ...) joins a running
    cluster, and ``workers=None`` then takes one actor per CPU of the cluster. A population
    part is put into Ray's object store once per generation; ``bytes_sent`` counts it once
    per worker it reaches (its size on the network when every worker is on another node).
    """

    name = "ray"

    joins_cluster = True

    @classmethod
    def check(cls, workers: int | None, address: str | None) -> None:
        super().check(workers, address)
        if importlib.util.find_spec("ray") is None:
            raise ValueError("the ray backend needs Ray: pip install 'hebbbench[ray]' (or use the local backend)")

    def __init__(self, workers: int | None = None, address: str | None = None,
                 max_failures: int = MAX_FAILURES) -> None:
        self.check(workers, address)
        import ray

        self._ray = ray
        self._started_ray = not ray.is_initialized()
        if self._started_ray:
            try:
                ray.init(address=address, num_cpus=(workers or default_workers()) if address is None else None,
                         include_dashboard=False, log_to_driver=False, configure_logging=False)
            except ConnectionError as error:
                raise ValueError(f"cannot reach a Ray cluster at {address!r} ({error}); start one with "
                                 "'ray start --head', or leave out the address for a local Ray") from None
        if workers is None:
            workers = int(ray.cluster_resources().get("CPU", 1))
        super().__init__(workers, max_failures)
        self._actor_class = ray.remote(num_cpus=1, max_restarts=0)(_RayWorker)
        self._actors: list[Any] = [self._actor_class.remote() for _ in range(self.workers)]
        self._in_flight: dict[Any, int] = {}  # object ref -> slot
        self._stored: tuple[Any, Any, int] | None = None  # the last part put: (part, object ref, bytes)

    def _submit(self, slot: int, batch: EpisodeBatch, part: Any) -> None:
        reference = None
        if part is not None:
            if self._stored is None or self._stored[0] is not part:
                self._stored = (part, self._ray.put(part), len(pickle.dumps(part, protocol=5)))
            _, reference, size = self._stored
            self.stats["bytes_sent"] += size
        self.stats["bytes_sent"] += len(pickle.dumps(batch, protocol=5))
        self._in_flight[self._actors[slot].run.remote(batch, reference)] = slot

    def _wait(self, slots: list[int]) -> Iterable[tuple[int, BatchResult | _Failed | _Died]]:
        ready, _ = self._ray.wait(list(self._in_flight), num_returns=1)
        outcomes = []
        for reference in ready:
            slot = self._in_flight.pop(reference)
            try:
                outcome = self._ray.get(reference)
            except self._ray.exceptions.RayActorError as error:
                outcome = _Died(f"lost ({type(error).__name__})")
            outcomes.append((slot, outcome))
        return outcomes

    def _replace(self, slot: int) -> None:
        self._ray.kill(self._actors[slot], no_restart=True)
        self._actors[slot] = self._actor_class.remote()

    def worker_pids(self) -> list[int]:
        return self._ray.get([actor.pid.remote() for actor in self._actors])

    def close(self) -> None:
        if self._closed:
            return
        super().close()
        for actor in self._actors:
            self._ray.kill(actor, no_restart=True)
        self._in_flight.clear()
        self._stored = None
        if self._started_ray:
            self._ray.shutdown()


#: Backends by name (``backend = "local"`` in a config): a new backend is one
#: :class:`Backend` subclass (its ``check``, ``_submit``, ``_wait``, ``_replace``) and one entry here.
BACKENDS = {cls.name: cls for cls in (InProcessBackend, LocalPoolBackend, RayBackend)}


def _backend_class(name: str) -> type[Backend]:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; allowed: {', '.join(BACKENDS)}")
    return BACKENDS[name]


def check_backend(name: str, workers: int | None = None, address: str | None = None) -> None:
    """Raise ``ValueError`` unless ``name``, ``workers`` and ``address`` make a backend."""
    _backend_class(name).check(workers, address)


def make_backend(name: str = "local", workers: int | None = None, address: str | None = None) -> Backend:
    """The backend ``name`` (see :data:`BACKENDS`) with ``workers`` workers (default: one per
    core; for Ray on a cluster, one per cluster CPU). ``address`` is Ray's, for ``"ray"`` only."""
    return _backend_class(name)(workers, address)  # each backend checks its options
