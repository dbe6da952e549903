"""The training loop: reference agents, an ask/tell strategy and the benchmark's envs.

Read top to bottom: :class:`TrainConfig` says what to train; :func:`train` starts a run
directory and :func:`resume` continues one; :func:`run_generations` is the loop itself:

1. ``population = strategy.ask()`` (``[P, D]``);
2. every individual plays one episode on each training variation, on the run's backend
   (:mod:`hebbbench.parallel`: in-process, a local worker pool, or Ray); the episodes of a
   batch run in lockstep, one batched policy call per step;
3. fitness = mean return over the training variations (+ the Hebbian coefficient penalty);
4. ``strategy.tell(fitness)``, a log row is appended, then an atomic checkpoint (a Ctrl-C
   waits until both are written; a SIGKILL between them leaves a row that resume drops).

Every random number comes from the run's seed and the generation number (the strategy's
noise, each variation's episode seed, the Hebbian weights), so the same config gives the
same numbers, and a run killed at any moment and resumed ends with exactly the parameters
of an uninterrupted one. All individuals of a generation meet the same episode seed on a
variation (common random numbers: the same track, the same start, the same initial
Hebbian weights), which makes the ranking of a mirrored pair depend on its parameters only.
(The paper's code gave every individual a fresh, unseeded episode instead; README says so,
and ``episode_seeds="per-individual"`` does the same with seeds.)

Run directory::

    config.json      the TrainConfig (JSON)
    checkpoint.pt    strategy state + counters after the last finished generation
    log.jsonl        one JSON row per generation (see :func:`run_generations`)
    parameters.npy   the strategy's solution (its mean) after the last finished generation
    best.pt          the strategy at the generation with the best population-mean fitness
    agent.py         an agent file: ``hebbbench evaluate RUN_DIR --task ...`` evaluates it
                     (by default as the paper did: samples of the best generation's distribution)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import tomllib
import torch
from tqdm import tqdm

from hebbbench.agents import AGENTS, ReferenceAgent, hebbian_slice, parameter_count
from hebbbench.envs import PAPER_HOLDOUT, get_task, get_variation, variations
from hebbbench.envs.validation import int_at_least
from hebbbench.es import (
    GaussianMixtureES,
    GaussianMixtureESConfig,
    OpenAIES,
    OpenAIESConfig,
    coefficient_penalty,
    rules_for_rho,
)
from hebbbench.es.openai_es import NOISE_SCHEME
from hebbbench.files import write_atomic
from hebbbench.parallel import Backend, EpisodeBatch, check_backend, make_backend, split_batches
from hebbbench.protocol import sigint_deferred

CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.pt"
#: The strategy as it was at the generation with the best population-mean fitness so far
#: (the paper's ``best.t``): ``{"generation", "fitness_mean", "strategy"}``.
BEST_FILE = "best.pt"
LOG_FILE = "log.jsonl"
PARAMETERS_FILE = "parameters.npy"
AGENT_FILE = "agent.py"
#: Log keys that say how a generation ran, not what it found (they may differ between runs
#: with the same numbers: timings, and what depends on the backend and its workers).
EXECUTION_KEYS = ("seconds", "rollout_seconds", "worker_seconds", "bytes_sent", "workers", "worker_restarts")
STRATEGIES = ("openai-es", "gaussian-mixture")
#: The paper's shared rules: the Hebbian network, each synapse's rule drawn from M = N / rho
#: learned rules by the Gaussian-mixture ES (:mod:`hebbbench.es.gmm`, docs/shared-rules.md).
SHARED_AGENT = "shared"
TRAIN_AGENTS = (*AGENTS, SHARED_AGENT)
#: The paper's budget per task: (population, generations).
PAPER_BUDGET = {"car": (200, 300), "ant": (500, 500)}
#: Episode-seed schemes: how many distinct episodes a population of P meets per variation
#: (0: one, shared by all; see :class:`hebbbench.parallel.EpisodeBatch`).
_SEED_PERIOD = {"shared": lambda p: 0, "per-pair": lambda p: p // 2, "per-individual": lambda p: p}
EPISODE_SEEDS = tuple(_SEED_PERIOD)


@dataclass(frozen=True)
class TrainConfig:
    """What to train, on what, for how long.

    ``holdout``: the variation left out (default: the paper's fold). ``variations``: the
    training variations; default all but the holdout (the paper's leave-one-out meta-task).
    ``population`` and ``generations`` default to the paper's budget for the task.
    ``max_episode_steps``: shorten every episode (``None``: the task's full length).
    ``episode_seeds``: who meets which episode in a generation, on each variation:
    ``"shared"`` (default) one episode seed for the whole population (common random
    numbers), ``"per-pair"`` one per mirrored pair (OpenAI-ES only), ``"per-individual"``
    one per individual, as the paper's code (which reset each individual's env unseeded).
    ``backend``, ``workers``, ``ray_address``: where episodes run (:mod:`hebbbench.parallel`;
    default a local pool with one worker per core); they change the speed, never the numbers.
    ``es``: keyword arguments of :class:`~hebbbench.es.OpenAIESConfig` other than the
    population size (e.g. ``{"optimizer": "adam", "lr": 1.0, "lr_decay": 0.9931}``).
    ``agent="shared"``: the Hebbian network with ``rho`` synapses per shared rule (an int
    in [1, N] or ``"N"`` for one rule; default 128), trained by the ``"gaussian-mixture"``
    strategy; ``es`` then holds :class:`~hebbbench.es.GaussianMixtureESConfig` settings.
    ``init_std``: the ES mean starts at N(0, init_std^2) for every parameter (the paper's
    code: 1.0, which saturates the ant's tanh layers; the reduced-budget baselines use 0.1).
    """

    agent: str
    task: str
    population: int | None = None
    generations: int | None = None
    seed: int = 0
    holdout: str | None = None
    variations: tuple[str, ...] | None = None
    max_episode_steps: int | None = None
    workers: int | None = None
    backend: str = "local"
    ray_address: str | None = None
    strategy: str = "openai-es"
    es: dict[str, Any] = field(default_factory=dict)
    rho: int | str | None = None
    episode_seeds: str = "shared"
    init_std: float = 1.0

    def __post_init__(self) -> None:
        if self.agent not in TRAIN_AGENTS:
            raise ValueError(f"unknown agent {self.agent!r}; allowed agents: {', '.join(TRAIN_AGENTS)}")
        if self.agent == SHARED_AGENT:
            object.__setattr__(self, "strategy", "gaussian-mixture")
            object.__setattr__(self, "rho", 128 if self.rho is None else self.rho)
        elif self.rho is not None:
            raise ValueError(f"rho applies only to agent {SHARED_AGENT!r}, not {self.agent!r}")
        elif self.strategy == "gaussian-mixture":
            raise ValueError(f"the gaussian-mixture strategy samples shared rules: use agent {SHARED_AGENT!r}")
        get_task(self.task)
        paper_population, paper_generations = PAPER_BUDGET[self.task]
        object.__setattr__(self, "population", paper_population if self.population is None else self.population)
        object.__setattr__(self, "generations", paper_generations if self.generations is None else self.generations)
        for name in ("population", "generations"):
            int_at_least(name, getattr(self, name), 1)
        int_at_least("seed", self.seed, 0)
        if self.max_episode_steps is not None:
            int_at_least("max_episode_steps", self.max_episode_steps, 1)
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; allowed: {', '.join(STRATEGIES)}")
        holdout = self.holdout or PAPER_HOLDOUT[self.task]
        get_variation(self.task, holdout)
        if self.variations is not None and (isinstance(self.variations, str) or not self.variations):
            raise ValueError(f"variations must list at least one training variation, got {self.variations!r}; "
                             "leave it out to train on all but the holdout")
        names = tuple(self.variations) if self.variations is not None else tuple(
            v.name for v in variations(self.task) if v.name != holdout)
        for name in names:
            get_variation(self.task, name)
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"training variations must differ; {', '.join(repeated)} given more than once")
        if holdout in names:
            raise ValueError(f"the holdout variation {holdout!r} cannot also be a training variation")
        object.__setattr__(self, "holdout", holdout)
        object.__setattr__(self, "variations", names)
        object.__setattr__(self, "es", dict(self.es))
        check_backend(self.backend, self.workers, self.ray_address)
        if self.episode_seeds not in EPISODE_SEEDS:
            raise ValueError(f"unknown episode_seeds {self.episode_seeds!r}; allowed: {', '.join(EPISODE_SEEDS)}")
        if self.episode_seeds == "per-pair" and self.strategy != "openai-es":
            raise ValueError("episode_seeds 'per-pair' needs mirrored pairs (OpenAI-ES); the gaussian-mixture "
                             "strategy samples unpaired individuals: use 'per-individual'")
        if isinstance(self.init_std, bool) or not isinstance(self.init_std, (int, float)) or not self.init_std > 0:
            raise ValueError(f"init_std must be a positive number, got {self.init_std!r}")
        if self.agent == SHARED_AGENT and self.init_std != 1.0:
            raise ValueError(f"init_std applies to the openai-es agents; the shared-rule mixture starts its means "
                             f"at N(0, 1) as the paper, got init_std={self.init_std!r}")
        es_config = GaussianMixtureESConfig if self.agent == SHARED_AGENT else OpenAIESConfig
        allowed = sorted(f.name for f in dataclasses.fields(es_config) if f.name != "population_size")
        unknown = sorted(set(self.es) - set(allowed))
        if unknown:
            raise ValueError(f"unknown es settings {unknown} for the {self.strategy} strategy; allowed: "
                             f"{', '.join(allowed)}")
        if self.agent == SHARED_AGENT:  # validates rho
            rules_for_rho(_hebbian_synapses(self.task), self.rho)
        es_config(population_size=self.population, **self.es)

    @property
    def network(self) -> str:
        """The reference network that acts: the agent's own, the Hebbian one for ``shared``."""
        return "hebbian" if self.agent == SHARED_AGENT else self.agent

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> "TrainConfig":
        """A preset from a TOML file (``configs/``) or a run's ``config.json``, with overrides."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"config file {str(path)!r} does not exist")
        text = path.read_text()
        values = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        values.pop("budget", None)  # presets describe their cost in words
        values.update({k: v for k, v in overrides.items() if v is not None})
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise ValueError(f"unknown config keys {unknown} in {str(path)!r}; allowed: {', '.join(sorted(allowed))}")
        if values.get("variations") is not None:
            values["variations"] = tuple(values["variations"])
        return cls(**values)


def _hebbian_synapses(task: str) -> int:
    """N, the plastic synapses of the Hebbian network (its rules are the vector's tail, [N, 5])."""
    where = hebbian_slice("hebbian", task)
    return (where.stop - where.start) // 5


def make_strategy(config: TrainConfig) -> OpenAIES | GaussianMixtureES:
    """The config's strategy, its means drawn from N(0, init_std^2) with the run's seed (the
    paper: N(0, 1)).

    ``shared``: lambda [N, M] and mu [M, 5]; the car's conv weights (the vector's head, before
    the rules) are the mixture ES's plain Gaussian block."""
    if config.agent == SHARED_AGENT:
        synapses = _hebbian_synapses(config.task)
        return GaussianMixtureES(synapses, rules_for_rho(synapses, config.rho),
                                 GaussianMixtureESConfig(population_size=config.population, **config.es),
                                 num_dense=hebbian_slice("hebbian", config.task).start, seed=config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    mean = config.init_std * torch.randn(parameter_count(config.agent, config.task), generator=generator)
    return OpenAIES(mean, OpenAIESConfig(population_size=config.population, **config.es), seed=config.seed)


def episode_seeds(seed: int, generation: int, variation: int) -> tuple[int, int]:
    """(env reset seed, Hebbian weight seed) of one variation's episodes in one generation."""
    env_seed, weight_seed = np.random.SeedSequence([seed, generation, variation]).generate_state(2)
    return int(env_seed), int(weight_seed)


def generation_batches(config: TrainConfig, generation: int, workers: int) -> list[EpisodeBatch]:
    """The episodes of one generation: every individual once on each training variation,
    cut into lockstep batches (at least one per worker per variation)."""
    batches = []
    for v, name in enumerate(config.variations):
        env_seed, weight_seed = episode_seeds(config.seed, generation, v)
        template = EpisodeBatch(config.network, config.task, get_variation(config.task, name).env_id, env_seed,
                                weight_seed, 0, config.population, config.max_episode_steps,
                                seed_period=_SEED_PERIOD[config.episode_seeds](config.population))
        batches.extend(split_batches(template, config.population, workers))
    return batches


def evaluate_population(config: TrainConfig, population: Any, generation: int,
                        backend: Backend) -> tuple[np.ndarray, np.ndarray]:
    """Play a generation on ``backend``. ``population``: the strategy's compact population.

    Returns the returns ``[P, V]`` of every individual on every training variation and
    the episode lengths ``[P, V]`` (policy steps)."""
    returns = np.zeros((config.population, len(config.variations)))
    lengths = np.zeros((config.population, len(config.variations)), dtype=np.int64)
    batches = generation_batches(config, generation, backend.workers)
    column = {get_variation(config.task, name).env_id: v for v, name in enumerate(config.variations)}
    for batch, result in zip(batches, backend.run(population, batches)):
        returns[batch.start:batch.stop, column[batch.env_id]] = result.returns
        lengths[batch.start:batch.stop, column[batch.env_id]] = result.lengths
    return returns, lengths


def _save_checkpoint(run_dir: Path, strategy: OpenAIES, generation: int, env_steps: int, seconds: float,
                     best: dict[str, Any] | None) -> None:
    state = {"generation": generation, "env_steps": env_steps, "seconds": seconds, "best": best,
             "strategy": strategy.state_dict()}
    write_atomic(run_dir / CHECKPOINT_FILE, lambda handle: torch.save(state, handle))
    parameters = strategy.solution().numpy()
    write_atomic(run_dir / PARAMETERS_FILE, lambda handle: np.save(handle, parameters))


def _write_config(run_dir: Path, config: TrainConfig) -> None:
    text = json.dumps(dataclasses.asdict(config), indent=2)
    write_atomic(run_dir / CONFIG_FILE, lambda handle: handle.write(text.encode()))


def read_log(run_dir: str | Path) -> list[dict[str, Any]]:
    """The log rows of a run; a half-written last line (a killed run) is skipped.

    Any other line that is not a JSON object is damage nothing here wrote: ``ValueError``
    naming it, so that no row after it is silently dropped (by a resume, say)."""
    path = Path(run_dir) / LOG_FILE
    rows: list[dict[str, Any]] = []
    if not path.exists():
        return rows
    lines = path.read_text().split("\n")
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if isinstance(row, dict) and isinstance(row.get("generation"), int):
            rows.append(row)
        elif number < len(lines):  # the last piece may be half-written, or empty after the final newline
            raise ValueError(f"{path} line {number} is not a log row ({line[:60]!r}): the log was changed by "
                             "hand or damaged; restore it (e.g. from git) or delete that line, then resume")
    return rows


_AGENT_TEMPLATE = '''"""Agent file written by `hebbbench train`: the {agent} agent on {task}, trained with
{holdout!r} held out.

By default it acts as the paper's evaluation script did: with the search distribution of
the generation whose population had the best mean training fitness (best.pt), drawing a
fresh individual from it at each episode, seeded by the episode's seed, with that
generation's sigma. Options (`hebbbench evaluate DIR --agent-option KEY=VALUE`):
checkpoint=best|final (final: the last generation, checkpoint.pt) and
sigma=checkpoint|S (a number; 0 acts with the distribution's mean itself).

Evaluate it with: hebbbench evaluate <this directory> --task {task}
"""

from pathlib import Path

from hebbbench.train import load_run_agent


def make_agent(task, holdout, observation_space, action_space, checkpoint="best", sigma="checkpoint"):
    return load_run_agent(Path(__file__).parent, task, holdout, checkpoint=checkpoint, sigma=sigma)
'''

#: Mixed with an episode's seed to seed its parameter sample, so that the sample and the
#: Hebbian agent's initial weights (seeded by the episode's seed itself) are independent.
_SAMPLE_STREAM = 0x5A3B1E
#: Which saved distribution a run directory's agent acts with.
RUN_CHECKPOINTS = {"best": BEST_FILE, "final": CHECKPOINT_FILE}


class SampledRunAgent:
    """A run's search distribution as an agent: at each ``reset(seed)`` it draws one
    individual from the distribution (``strategy.sample``) with std ``sigma``, seeded by
    the episode's seed, and acts with it for the episode. Same seed, same individual."""

    def __init__(self, network: str, task: str, strategy: OpenAIES | GaussianMixtureES, sigma: float) -> None:
        self.network, self.task, self.strategy, self.sigma = network, task, strategy, sigma
        self.agent: ReferenceAgent | None = None

    def reset(self, seed: int | None) -> None:
        """Draw this episode's individual from ``seed`` (``None``: a random one)."""
        seed = int(np.random.SeedSequence().generate_state(1)[0]) if seed is None else int(seed)
        sample_seed = int(np.random.SeedSequence((seed, _SAMPLE_STREAM)).generate_state(1)[0])
        self.agent = ReferenceAgent(self.network, self.task, self.strategy.sample(sample_seed, self.sigma))
        self.agent.reset(seed)

    def act(self, observation: np.ndarray) -> np.ndarray:
        if self.agent is None:
            raise RuntimeError("call reset(seed) before act()")
        return self.agent.act(observation)


def load_run_agent(run_dir: str | Path, task: str, holdout: str | None = None, *, checkpoint: str = "best",
                   sigma: float | str = "checkpoint") -> ReferenceAgent | SampledRunAgent:
    """The K=1 agent of the run in ``run_dir``.

    ``checkpoint``: ``"best"`` (default; ``best.pt``, the search distribution of the
    generation with the best population-mean training fitness, as the paper's ``best.t``)
    or ``"final"`` (``checkpoint.pt``, after the last generation). ``sigma``:
    ``"checkpoint"`` (default) draws a fresh individual at each episode with that
    distribution's own std (as the paper's evaluation: one sample per episode); a number
    S > 0 draws with std S; 0 acts with the distribution's mean itself (for shared rules,
    each synapse's most probable rule). ``holdout``: the variation an evaluation holds out;
    refused if the run trained on it, since its score there would not measure
    generalisation."""
    run_dir = Path(run_dir)
    if checkpoint not in RUN_CHECKPOINTS:
        raise ValueError(f"checkpoint must be one of {', '.join(RUN_CHECKPOINTS)}, got {checkpoint!r}")
    if sigma != "checkpoint" and (isinstance(sigma, bool) or not isinstance(sigma, (int, float))
                                  or not np.isfinite(sigma) or sigma < 0):
        raise ValueError(f"sigma must be 'checkpoint' or a number >= 0, got {sigma!r}")
    config = TrainConfig.from_file(run_dir / CONFIG_FILE)
    if task != config.task:
        raise ValueError(f"this run trained a {config.task} agent; it cannot act on task {task!r}")
    if holdout in config.variations:
        raise ValueError(f"this run trained on {holdout!r}, so it cannot be evaluated with {holdout!r} held out; "
                         f"it held out {config.holdout!r}")
    path = run_dir / RUN_CHECKPOINTS[checkpoint]
    if not path.is_file():
        raise ValueError(f"{str(run_dir)!r} has no {path.name} (runs of hebbbench 0.1 kept only the final "
                         "distribution): evaluate it with --agent-option checkpoint=final")
    # Memory-mapped: the checkpoint's pages are read once into the strategy's tensors, and
    # evaluation workers on one machine share them in the page cache.
    state = torch.load(path, mmap=True)["strategy"]
    if state.get("kind") == "gaussian-mixture":
        # Sampling needs the distribution, not Adam's moments (2 x 604 MB at ant rho = 1):
        # restore it into an SGD strategy, which keeps none.
        config = dataclasses.replace(config, es={**config.es, "optimizer": "sgd"})
        state = {**state, "config": {**state["config"], "optimizer": "sgd"}, "moments": {}}
    strategy = make_strategy(config)
    strategy.load_state_dict(state)
    if sigma == 0:
        return ReferenceAgent(config.network, config.task, strategy.solution().numpy())
    return SampledRunAgent(config.network, config.task, strategy, None if sigma == "checkpoint" else float(sigma))


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


def _unstarted(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a run killed before its first checkpoint (nothing trained)."""
    return (run_dir / CONFIG_FILE).exists() and not (run_dir / CHECKPOINT_FILE).exists()


def train(config: TrainConfig, run_dir: str | Path, progress: bool = True) -> Path:
    """Start a run in the new (or empty) directory ``run_dir`` and train to the end."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"run directory {str(run_dir)!r} is a file; give --out a new or empty folder")
    if run_dir.exists() and any(run_dir.iterdir()):
        if _unstarted(run_dir):
            raise ValueError(f"{str(run_dir)!r} holds a run stopped before its first checkpoint, so nothing was "
                             "trained there: delete the folder and start again, or give --out another folder")
        raise ValueError(f"run directory {str(run_dir)!r} is not empty; use --resume to continue a run there")
    run_dir.mkdir(parents=True, exist_ok=True)
    with _run_locked(run_dir):
        return _start(config, run_dir, progress)


def _start(config: TrainConfig, run_dir: Path, progress: bool) -> Path:
    strategy = make_strategy(config)
    _write_config(run_dir, config)
    text = _AGENT_TEMPLATE.format(agent=config.agent, task=config.task, holdout=config.holdout)
    write_atomic(run_dir / AGENT_FILE, lambda h: h.write(text.encode()))
    _save_checkpoint(run_dir, strategy, generation=0, env_steps=0, seconds=0.0, best=None)
    (run_dir / LOG_FILE).touch()
    return run_generations(config, run_dir, strategy, progress)


#: What ``resume`` may change: where episodes run (never the numbers) and the run's length.
RESUME_CHANGES = ("workers", "backend", "ray_address", "generations")


def resume(run_dir: str | Path, progress: bool = True, **changes: Any) -> Path:
    """Continue the run in ``run_dir`` from its last checkpoint.

    ``changes`` (:data:`RESUME_CHANGES`, ``None`` values ignored): ``workers``, ``backend``
    and ``ray_address`` may change (a new backend starts from its defaults for the
    others); ``generations`` may extend a run (the generations already run are the same
    whatever the total). Changes are saved in ``config.json``."""
    run_dir = Path(run_dir)
    if not (run_dir / CHECKPOINT_FILE).is_file():
        if _unstarted(run_dir):
            raise ValueError(f"{str(run_dir)!r} holds a run stopped before its first checkpoint, so there is "
                             "nothing to resume: delete the folder and start the run again with --out")
        raise ValueError(f"{str(run_dir)!r} is not a run directory (no {CHECKPOINT_FILE}); start one with --out")
    with _run_locked(run_dir):
        return _resume(run_dir, progress, **changes)


def _resume(run_dir: Path, progress: bool, **changes: Any) -> Path:
    refused = sorted(set(changes) - set(RESUME_CHANGES))
    if refused:
        raise ValueError(f"resume cannot change {', '.join(refused)}; it may change {', '.join(RESUME_CHANGES)}")
    config = TrainConfig.from_file(run_dir / CONFIG_FILE)
    given = {name: value for name, value in changes.items() if value is not None}
    if given.get("backend", config.backend) != config.backend:
        # The saved worker count and Ray address belonged to the old backend.
        given = {"workers": None, "ray_address": None, **given}
    try:
        checkpoint = torch.load(run_dir / CHECKPOINT_FILE, mmap=True)
    except Exception as error:  # torch raises several kinds for a truncated or foreign file
        raise ValueError(f"{run_dir / CHECKPOINT_FILE} cannot be read ({type(error).__name__}: {error}); the file is "
                         "damaged (hebbbench writes it atomically, so something else changed it): restore it, "
                         "e.g. from git") from None
    done = checkpoint["generation"]
    if "generations" in given and given["generations"] <= done:
        raise ValueError(f"{str(run_dir)!r} already has {done} generations; --generations extends a run, so give "
                         f"more than {done} (or drop it to finish the run's {config.generations})")
    config = dataclasses.replace(config, **given)
    state = checkpoint["strategy"]  # copied by load_state_dict
    if state.get("kind") == "openai-es" and state.get("noise") != NOISE_SCHEME:
        raise ValueError(f"{str(run_dir)!r} was trained by an older hebbbench that drew its ES noise differently "
                         "(before per-row seeds); resuming would not continue its numbers: start a new run, or "
                         "resume it with the hebbbench version that started it (evaluating it works as is)")
    _write_config(run_dir, config)
    strategy = make_strategy(config)
    strategy.load_state_dict(state)
    return run_generations(config, run_dir, strategy, progress)


def run_generations(config: TrainConfig, run_dir: Path, strategy: OpenAIES, progress: bool = True) -> Path:
    """Train from the checkpoint in ``run_dir`` to ``config.generations``.

    Each log row holds: ``generation``; ``fitness_mean``, ``fitness_max`` and ``fitness_min``
    over the population (penalty included); ``return_<variation>``: the population's mean
    return there; ``penalty_mean``; the strategy's numbers (``sigma``, ``lr``, ...);
    ``env_steps`` (cumulative policy steps) and ``seconds`` (cumulative training time);
    and how the generation ran: ``rollout_seconds`` (wall time of its episodes),
    ``worker_seconds`` (time workers spent playing them), ``bytes_sent`` (to workers),
    ``workers`` and ``worker_restarts`` (workers replaced after dying).
    """
    checkpoint = torch.load(run_dir / CHECKPOINT_FILE, mmap=True)  # only its counters are read here
    done, env_steps, seconds = checkpoint["generation"], checkpoint["env_steps"], checkpoint["seconds"]
    best = checkpoint.get("best")  # runs from before best tracking start tracking here
    # Rows of a generation that ran but was not checkpointed are dropped: it runs again.
    rows = [row for row in read_log(run_dir) if row["generation"] < done]
    write_atomic(run_dir / LOG_FILE, lambda h: h.write("".join(json.dumps(r) + "\n" for r in rows).encode()))
    _save_checkpoint(run_dir, strategy, done, env_steps, seconds, best)
    where = hebbian_slice(config.network, config.task)
    backend = make_backend(config.backend, config.workers, config.ray_address)
    # Episodes run in lockstep with single-threaded envs: one torch thread per process
    # avoids threads spinning against the envs (and against other jobs on the machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    bar = tqdm(total=config.generations, initial=done, disable=not progress, unit="gen",
               desc=f"{config.agent} {config.task} ({backend.workers} {config.backend} workers)")
    try:
        for generation in range(done, config.generations):
            start = time.perf_counter()
            population = strategy.ask()
            before = dict(backend.stats)
            rollout_start = time.perf_counter()
            returns, lengths = evaluate_population(config, strategy.compact_population(), generation, backend)
            rollout_seconds = time.perf_counter() - rollout_start
            penalty = coefficient_penalty(population, where).numpy()
            fitness = returns.mean(axis=1) + penalty
            env_steps += int(lengths.sum())
            seconds += time.perf_counter() - start
            row: dict[str, Any] = {
                "generation": generation,
                "fitness_mean": float(fitness.mean()),
                "fitness_max": float(fitness.max()),
                "fitness_min": float(fitness.min()),
                **{f"return_{name}": float(returns[:, v].mean()) for v, name in enumerate(config.variations)},
                "penalty_mean": float(penalty.mean()),
            }
            improved = best is None or row["fitness_mean"] > best["fitness_mean"]
            if improved:  # the distribution that produced this generation, before tell() moves it
                best = {"generation": generation, "fitness_mean": row["fitness_mean"]}
                best_state = {**best, "strategy": strategy.state_dict()}
            row.update(strategy.tell(fitness))
            row.update(env_steps=env_steps, seconds=round(seconds, 3), rollout_seconds=round(rollout_seconds, 3),
                       worker_seconds=round(backend.stats["worker_seconds"] - before["worker_seconds"], 3),
                       bytes_sent=backend.stats["bytes_sent"] - before["bytes_sent"], workers=backend.workers,
                       worker_restarts=backend.stats["worker_restarts"] - before["worker_restarts"])
            with sigint_deferred():  # a Ctrl-C here would leave a row without its checkpoint
                if improved:  # before the checkpoint: a kill in between re-runs and rewrites it
                    write_atomic(run_dir / BEST_FILE, lambda handle: torch.save(best_state, handle))
                with open(run_dir / LOG_FILE, "a") as handle:
                    handle.write(json.dumps(row) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                _save_checkpoint(run_dir, strategy, generation + 1, env_steps, seconds, best)
            bar.set_postfix(fitness=f"{row['fitness_mean']:.1f}", best=f"{row['fitness_max']:.1f}")
            bar.update(1)
    finally:
        bar.close()
        torch.set_num_threads(threads)
        backend.close()
    return run_dir


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the learning curve of ``run_dir`` (population mean and best fitness per
    generation, against env steps on a second axis label) to ``out`` (default
    ``RUN_DIR/learning_curve.png``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    rows = read_log(run_dir)
    if not rows:
        raise ValueError(f"{str(run_dir)!r} has no logged generations to plot")
    config = TrainConfig.from_file(run_dir / CONFIG_FILE)
    generations = [r["generation"] for r in rows]
    from matplotlib.ticker import MaxNLocator

    figure, axis = plt.subplots(figsize=(8, 4.5))
    axis.plot(generations, [r["fitness_mean"] for r in rows], label="population mean")
    axis.plot(generations, [r["fitness_max"] for r in rows], label="population best", alpha=0.7)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("generation")
    axis.set_ylabel("fitness\n(mean return over training variations)")
    axis.set_title(f"{config.agent} on {config.task}: {', '.join(config.variations)}\n"
                   f"P={config.population}, {len(rows)} generations, {rows[-1]['env_steps']:,} env steps",
                   fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    out = Path(out) if out is not None else run_dir / "learning_curve.png"
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out
