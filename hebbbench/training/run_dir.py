"""A training run's directory: its files, its config (:class:`TrainConfig`), its strategy
and its log. The loop that fills it is :mod:`hebbbench.training.train`.

Run directory::

    config.json      the TrainConfig (JSON)
    checkpoint.pt    strategy state + counters after the last finished generation
    log.jsonl        one JSON row per generation (see :func:`hebbbench.training.train.run_generations`)
    parameters.npy   the strategy's solution (its mean) after the last finished generation
    best.pt          the strategy at the generation with the best population-mean fitness
    agent.py         an agent file: ``hebbbench evaluate RUN_DIR --task ...`` evaluates it
                     (by default as the paper did: samples of the best generation's
                     distribution; :mod:`hebbbench.training.run_agent`)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomllib
import torch

from hebbbench.agents import AGENTS, INIT_SCHEMES, hebbian_slice, initial_parameters
from hebbbench.agents.networks import architecture
from hebbbench.agents.normalization import ObservationStats
from hebbbench.envs import get_task, get_variation
from hebbbench.es import STRATEGIES, GaussianMixtureES, GaussianMixtureESConfig, Strategy, rules_for_rho
from hebbbench.evaluation.protocol import get_fold
from hebbbench.system.checks import device_name, int_at_least
from hebbbench.system.files import write_atomic
from hebbbench.training.rollouts import check_backend
from hebbbench.training.sampling import VARIATION_SAMPLING

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
#: The strategy that samples shared rules, and only them.
MIXTURE_STRATEGY = "gaussian-mixture"
#: The paper's shared rules: the Hebbian network, each synapse's rule drawn from M = N / rho
#: learned rules by the Gaussian-mixture ES (:mod:`hebbbench.es.gmm`, docs/shared-rules.md).
SHARED_AGENT = "shared"
TRAIN_AGENTS = (*AGENTS, SHARED_AGENT)
#: The paper's budget per task: (population, generations).
PAPER_BUDGET = {"car": (200, 300), "ant": (500, 500)}
#: Episode-seed schemes: how many distinct episodes a population of P meets per variation
#: (0: one, shared by all; see :class:`hebbbench.training.lockstep.EpisodeBatch`).
SEED_PERIOD = {"shared": lambda p: 0, "per-pair": lambda p: p // 2, "per-individual": lambda p: p}
EPISODE_SEEDS = tuple(SEED_PERIOD)


@dataclass(frozen=True)
class TrainConfig:
    """What to train, on what, for how long. ``None`` fields take the defaults that
    :meth:`_resolved` gives them (the paper's budget and fold), all in one place."""

    agent: str
    """The network to evolve: ``"static"``, ``"lstm"``, ``"hebbian"``, or ``"shared"`` (the
    Hebbian network whose rules are shared by ``rho`` synapses each)."""
    task: str
    """``"ant"`` or ``"car"``."""
    population: int | None = None
    """Individuals per generation (even for OpenAI-ES; default: the paper's, car 200, ant 500)."""
    generations: int | None = None
    """Generations to run (default: the paper's, car 300, ant 500)."""
    seed: int = 0
    """Seeds every random number of the run (noise, episode seeds, initial mean)."""
    holdout: str | None = None
    """The variation left out of training (default: the paper's fold)."""
    variations: tuple[str, ...] | None = None
    """The training variations (default: the fold's four, the paper's meta-task)."""
    max_episode_steps: int | None = None
    """Cut every training episode to this many policy steps (``None``: the task's full length)."""
    workers: int | None = None
    """Worker processes (default: one per core); speed only, never the numbers."""
    backend: str = "local"
    """Where episodes run: ``"local"`` pool, ``"ray"`` or ``"inprocess"`` (:mod:`hebbbench.training.rollouts`)."""
    ray_address: str | None = None
    """Join this Ray cluster (``backend="ray"``; default: start a local Ray)."""
    device: str = "cpu"
    """Where the workers' batched policies and the shared rules' mixture update compute:
    ``"cpu"`` or ``"cuda"`` (``"cuda:N"``); envs and the OpenAI-ES update stay on the CPU.
    Same device, same numbers; another device gives numbers that differ in the last bits
    (docs/scaling.md). Checked against the machine when training starts."""
    strategy: str | None = None
    """A name in :data:`hebbbench.es.STRATEGIES`: ``"openai-es"`` (the paper's; the default),
    ``"pgpe"`` (PGPE with ClipUp), or ``"gaussian-mixture"`` (always, and only, for
    ``agent="shared"``, whose default it is)."""
    es: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the strategy's config other than the population size (its
    ``config_class``): :class:`~hebbbench.es.OpenAIESConfig` (e.g. ``{"optimizer": "adam",
    "lr": 0.01}``), :class:`~hebbbench.es.PGPEConfig`, or
    :class:`~hebbbench.es.GaussianMixtureESConfig` for ``agent="shared"``."""
    rho: int | str | None = None
    """Synapses per shared rule for ``agent="shared"``: an int in [1, N] or ``"N"`` (default 128)."""
    episode_seeds: str = "shared"
    """Who meets which episode in a generation, on each variation: ``"shared"`` one episode
    for the whole population (common random numbers), ``"per-pair"`` one per mirrored pair
    (OpenAI-ES only), ``"per-individual"`` one each, as the paper's code (which reset each
    individual's env unseeded)."""
    init_std: float = 1.0
    """The ES mean starts at N(0, init_std^2) for every parameter (the paper: 1.0); with
    ``init="fan-in"``, only the Hebbian rule coefficients do."""
    init: str = "normal"
    """How the ES mean starts: ``"normal"`` (N(0, init_std^2), the paper's) or ``"fan-in"``
    (each weight U(+-1/sqrt(fan_in)), PyTorch's layer default, where Najarro & Risi's
    static-network code started); :func:`hebbbench.agents.initial_parameters`."""
    variation_sampling: str = "all"
    """Who plays which training variation in a generation
    (:data:`hebbbench.training.sampling.VARIATION_SAMPLING`): ``"all"`` every individual each
    (the paper's), ``"per-pair"`` each mirrored pair one, in equal blocks, ranked within its
    variation (``V`` times fewer episodes per generation)."""
    observation_normalization: bool = False
    """Normalise the policies' observations by the running mean and std of every observation
    seen in training so far, fixed within a generation (:mod:`hebbbench.agents.normalization`;
    vector observations only: the ant). Off by default, as the paper."""

    def __post_init__(self) -> None:
        if self.agent not in TRAIN_AGENTS:
            raise ValueError(f"unknown agent {self.agent!r}; allowed agents: {', '.join(TRAIN_AGENTS)}")
        get_task(self.task)
        for name, value in self._resolved().items():
            object.__setattr__(self, name, value)
        self._check()

    def _resolved(self) -> dict[str, Any]:
        """Every defaulted field's value: the paper's budget and fold, the fold's training
        variations, the shared-rule agent's strategy and rho."""
        paper_population, paper_generations = PAPER_BUDGET[self.task]
        fold = get_fold(self.task, self.holdout)
        if self.variations is not None and (isinstance(self.variations, str) or not self.variations):
            raise ValueError(f"variations must list at least one training variation, got {self.variations!r}; "
                             "leave it out to train on all but the holdout")
        shared = self.agent == SHARED_AGENT
        return {
            "population": paper_population if self.population is None else self.population,
            "generations": paper_generations if self.generations is None else self.generations,
            "holdout": fold.holdout,
            "variations": fold.train if self.variations is None else tuple(self.variations),
            "strategy": self.strategy or (MIXTURE_STRATEGY if shared else "openai-es"),
            "rho": (128 if self.rho is None else self.rho) if shared else self.rho,
            "es": dict(self.es),
        }

    def _check(self) -> None:
        """``ValueError`` naming the first bad value and what is allowed."""
        if self.agent != SHARED_AGENT and self.rho is not None:
            raise ValueError(f"rho applies only to agent {SHARED_AGENT!r}, not {self.agent!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; allowed: {', '.join(STRATEGIES)}")
        if (self.agent == SHARED_AGENT) != (self.strategy == MIXTURE_STRATEGY):
            raise ValueError(f"the {MIXTURE_STRATEGY} strategy samples shared rules, and only it trains them: "
                             f"agent {SHARED_AGENT!r} goes with strategy {MIXTURE_STRATEGY!r}, got agent "
                             f"{self.agent!r} with strategy {self.strategy!r}")
        if getattr(STRATEGIES[self.strategy], "ties_rules", False) and hebbian_slice(self.agent, self.task) is None:
            raise ValueError(f"the {self.strategy} strategy ties learning rules between synapses; agent "
                             f"{self.agent!r} has none: use a Hebbian family (hebbian, modulated)")
        if not isinstance(self.observation_normalization, bool):
            raise ValueError(f"observation_normalization must be true or false, got {self.observation_normalization!r}")
        if self.observation_normalization and architecture(self.task).conv_front_end:
            raise ValueError(f"observation_normalization applies to vector observations; the {self.task} agents "
                             "observe frames (already scaled to [0, 1]): leave it out")
        for name in ("population", "generations"):
            int_at_least(name, getattr(self, name), 1)
        int_at_least("seed", self.seed, 0)
        if self.max_episode_steps is not None:
            int_at_least("max_episode_steps", self.max_episode_steps, 1)
        for name in self.variations:
            get_variation(self.task, name)
        repeated = sorted({name for name in self.variations if self.variations.count(name) > 1})
        if repeated:
            raise ValueError(f"training variations must differ; {', '.join(repeated)} given more than once")
        if self.holdout in self.variations:
            raise ValueError(f"the holdout variation {self.holdout!r} cannot also be a training variation")
        check_backend(self.backend, self.workers, self.ray_address)
        device_name("device", self.device)
        if self.episode_seeds not in EPISODE_SEEDS:
            raise ValueError(f"unknown episode_seeds {self.episode_seeds!r}; allowed: {', '.join(EPISODE_SEEDS)}")
        mirrored = getattr(STRATEGIES[self.strategy], "mirrored", False)
        if self.episode_seeds == "per-pair" and not mirrored:
            raise ValueError(f"episode_seeds 'per-pair' needs mirrored pairs (OpenAI-ES, PGPE); the {self.strategy} "
                             "strategy samples unpaired individuals: use 'per-individual'")
        if self.variation_sampling not in VARIATION_SAMPLING:
            raise ValueError(f"unknown variation_sampling {self.variation_sampling!r}; allowed: "
                             f"{', '.join(VARIATION_SAMPLING)}")
        VARIATION_SAMPLING[self.variation_sampling].check(self.population, len(self.variations), mirrored,
                                                          self.strategy)
        if isinstance(self.init_std, bool) or not isinstance(self.init_std, (int, float)) or not self.init_std > 0:
            raise ValueError(f"init_std must be a positive number, got {self.init_std!r}")
        if self.init not in INIT_SCHEMES:
            raise ValueError(f"unknown init {self.init!r}; allowed: {', '.join(INIT_SCHEMES)}")
        if self.agent == SHARED_AGENT and (self.init_std != 1.0 or self.init != "normal"):
            raise ValueError(f"init and init_std apply to the openai-es agents; the shared-rule mixture starts "
                             f"its means at N(0, 1) as the paper (es.means_init_std sets their std), "
                             f"got init={self.init!r}, init_std={self.init_std!r}")
        es_config = STRATEGIES[self.strategy].config_class
        allowed = sorted(f.name for f in dataclasses.fields(es_config) if f.name != "population_size")
        unknown = sorted(set(self.es) - set(allowed))
        if unknown:
            raise ValueError(f"unknown es settings {unknown} for the {self.strategy} strategy; allowed: "
                             f"{', '.join(allowed)}")
        if self.agent == SHARED_AGENT:  # validates rho
            rules_for_rho(hebbian_synapses(self.task), self.rho)
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


def hebbian_synapses(task: str) -> int:
    """N, the plastic synapses of the Hebbian network (its rules are the vector's tail, [N, 5])."""
    where = hebbian_slice("hebbian", task)
    return (where.stop - where.start) // 5


def make_strategy(config: TrainConfig) -> Strategy:
    """The config's strategy, its means drawn by ``init`` with the run's seed (the paper:
    N(0, 1)).

    ``shared``: lambda [N, M] and mu [M, 5]; the car's conv weights (the vector's head, before
    the rules) are the mixture ES's plain Gaussian block. A strategy that ties rules between
    synapses (``ties_rules``: evolve-merge, em-rules) is told where the rules lie."""
    if config.agent == SHARED_AGENT:
        synapses = hebbian_synapses(config.task)
        return GaussianMixtureES(synapses, rules_for_rho(synapses, config.rho),
                                 GaussianMixtureESConfig(population_size=config.population, **config.es),
                                 num_dense=hebbian_slice("hebbian", config.task).start, seed=config.seed,
                                 device=config.device)
    generator = torch.Generator().manual_seed(config.seed)
    mean = initial_parameters(config.agent, config.task, config.init, config.init_std, generator)
    strategy = STRATEGIES[config.strategy]
    extra = {"rule_slice": hebbian_slice(config.agent, config.task)} if getattr(strategy, "ties_rules", False) else {}
    return strategy(mean, strategy.config_class(population_size=config.population, **config.es), seed=config.seed,
                    **extra)


def initial_observation_stats(config: TrainConfig) -> ObservationStats | None:
    """A new run's observation statistics (empty), or ``None`` without normalisation."""
    if not config.observation_normalization:
        return None
    return ObservationStats.empty(architecture(config.task).widths[0])


#: Keys of a strategy's state that only continuing the run needs (optimiser moments and
#: velocity): a distribution saved for evaluation (best.pt) leaves them out.
OPTIMIZER_STATE = ("adam_m", "adam_v", "velocity", "moments")
#: The key of a saved state's checksum (:func:`state_checksum`).
CHECKSUM_KEY = "checksum"


def distribution_state(state: dict[str, Any]) -> dict[str, Any]:
    """A strategy's state without what only training needs (:data:`OPTIMIZER_STATE`)."""
    return {key: value for key, value in state.items() if key not in OPTIMIZER_STATE}


def state_checksum(value: Any) -> str:
    """SHA-256 over a saved state's contents (nested dicts, lists, tensors, numbers,
    strings), independent of how ``torch.save`` laid out the file: what a flipped byte in a
    tensor or a changed counter changes."""
    digest = hashlib.sha256()

    def feed(item: Any) -> None:
        if isinstance(item, dict):
            digest.update(b"{")
            for key in sorted(item, key=str):
                feed(key)
                feed(item[key])
            digest.update(b"}")
        elif isinstance(item, (list, tuple)):
            digest.update(b"[")
            for element in item:
                feed(element)
            digest.update(b"]")
        elif isinstance(item, torch.Tensor):
            flat = item.detach().cpu().contiguous().reshape(-1)
            digest.update(f"tensor{item.dtype}{tuple(item.shape)}".encode())
            digest.update(flat.view(torch.uint8).numpy() if flat.numel() else b"")
        else:
            digest.update(f"{type(item).__name__}:{item!r};".encode())

    feed(value)
    return digest.hexdigest()


def save_state(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` ``state`` to ``path`` atomically with its :func:`state_checksum`."""
    checked = {**state, CHECKSUM_KEY: state_checksum(state)}
    write_atomic(path, lambda handle: torch.save(checked, handle))


def load_state(path: Path) -> dict[str, Any]:
    """A state written by :func:`save_state` (memory-mapped), its checksum verified;
    ``ValueError`` saying what to do if the file cannot be read or was changed. Files
    from before checksums (hebbbench < 0.5) load unchecked."""
    try:
        state = torch.load(path, mmap=True)
    except Exception as error:  # torch raises several kinds for a truncated or foreign file
        raise ValueError(f"{path} cannot be read ({type(error).__name__}: {error}); the file is damaged "
                         "(hebbbench writes it atomically, so something else changed it): restore it, "
                         "e.g. from git") from None
    saved = state.pop(CHECKSUM_KEY, None)
    if saved is not None and saved != state_checksum(state):
        raise ValueError(f"{path} does not match the checksum hebbbench wrote into it: its contents were "
                         "changed after training saved them; restore it (e.g. from git) instead of using it")
    return state


def save_checkpoint(run_dir: Path, strategy: Strategy, generation: int, env_steps: int, seconds: float,
                    best: dict[str, Any] | None, observation_stats: ObservationStats | None = None,
                    config: TrainConfig | None = None) -> None:
    """Write ``checkpoint.pt`` (with its checksum) and ``parameters.npy`` atomically.
    ``observation_stats``: the statistics whose normaliser the next generation acts with
    (``None``: no normalisation); ``config``: the run's config, so that a resume notices
    a ``config.json`` edited by hand."""
    state = {"generation": generation, "env_steps": env_steps, "seconds": seconds, "best": best,
             "strategy": strategy.state_dict(),
             "observation_stats": None if observation_stats is None else observation_stats.state_dict(),
             "config": None if config is None else config_values(config)}
    save_state(run_dir / CHECKPOINT_FILE, state)
    parameters = strategy.solution().numpy()
    write_atomic(run_dir / PARAMETERS_FILE, lambda handle: np.save(handle, parameters))


def config_values(config: TrainConfig) -> dict[str, Any]:
    """The config as the plain JSON values ``config.json`` holds."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def write_config(run_dir: Path, config: TrainConfig) -> None:
    text = json.dumps(config_values(config), indent=2)
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
