"""Results files (schema ``hebbbench.results/1``): build, hash, write, load, validate.

The format is specified in ``docs/results-format.md``; this module is its one
implementation. :class:`Results` is what :func:`hebbbench.evaluate` returns;
:func:`write_results` writes it atomically and :func:`load_results` reads one back,
checking the schema and the integrity hash.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from hebbbench.evaluation import stats
from hebbbench.system.files import write_text_atomic

SCHEMA = "hebbbench.results/1"
#: The summary's bootstrap CI: 2000 resamples with seed 0, as the format doc fixes.
CI_RESAMPLES = 2000
CI_SEED = 0
SPLITS = ("train", "test")
#: How an agent file's process computed (``evaluate(arithmetic=...)``): CPU-independent
#: torch arithmetic, or the CPU's fastest.
ARITHMETIC = ("portable", "native")
#: The top-level fields of a results file (what :meth:`Results.to_dict` writes).
FIELDS = frozenset({"schema", "protocol_version", "package_version", "created", "task", "holdout", "agent",
                    "episodes_per_variation", "full_protocol", "workers", "wall_time_s", "variations", "integrity"})
#: The fields of a results file's ``agent`` object.
AGENT_FIELDS = frozenset({"path", "sha256", "options", "observes", "arithmetic", "sandbox"})
#: Plausible ranges of how a run says it ran (see :func:`run_problems`): hebbbench's first
#: results were written in 2026; worker processes and wall time far past any real run.
EARLIEST_CREATED = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
MAX_WORKERS = 4096
MAX_WALL_TIME_S = 30 * 24 * 3600
#: Largest difference tolerated between a stored summary number and its recomputation.
SUMMARY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class VariationResult:
    """Every episode of one variation: ``seeds``, ``returns``, ``lengths`` in episode order.

    ``returns`` are the summed env rewards of each episode; ``lengths`` the number of
    policy steps (``act`` calls) it lasted. ``env_kwargs``: every constructor setting of
    the env (:func:`hebbbench.envs.env_settings`; ``None`` in files of protocol 1, which
    did not record them).
    """

    name: str
    env_id: str
    split: str
    seeds: tuple[int, ...]
    returns: tuple[float, ...]
    lengths: tuple[int, ...]
    env_kwargs: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        """Mean, population std and 95% percentile bootstrap CI of the mean of ``returns``."""
        low, high = stats.bootstrap_ci(self.returns, resamples=CI_RESAMPLES, seed=CI_SEED)
        return {"mean": stats.mean(self.returns), "std": stats.std(self.returns), "ci95": [low, high]}


@dataclass(frozen=True)
class Results:
    """One evaluation of one agent on every variation of one task (one fold)."""

    protocol_version: str
    package_version: str
    created: str
    task: str
    holdout: str
    agent_path: str
    agent_sha256: str
    episodes_per_variation: int
    full_protocol: bool
    workers: int
    wall_time_s: float
    variations: tuple[VariationResult, ...]
    #: Keyword arguments ``make_agent`` was called with (``evaluate --agent-option``).
    agent_options: dict[str, Any] = field(default_factory=dict)
    #: Whether the agent took each step's reward through ``observe`` (recorded only if so).
    agent_observes: bool = False
    #: The agent process's arithmetic, one of :data:`ARITHMETIC` (recorded unless "native").
    agent_arithmetic: str = "native"
    #: How the agent's process was contained (``"pid-namespace+ro-fs+no-net"``, or
    #: ``"none (why)"``); ``""`` in files written before it was recorded.
    agent_sandbox: str = ""

    @property
    def test(self) -> VariationResult:
        """The held-out variation's results."""
        return next(v for v in self.variations if v.split == "test")

    def variation(self, name: str) -> VariationResult:
        """The results of variation ``name``; ``KeyError`` naming the known ones otherwise."""
        for variation in self.variations:
            if variation.name == name:
                return variation
        raise KeyError(f"no variation {name!r}; have {', '.join(v.name for v in self.variations)}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the results file, ``integrity`` included."""
        obj = {
            "schema": SCHEMA,
            "protocol_version": self.protocol_version,
            "package_version": self.package_version,
            "created": self.created,
            "task": self.task,
            "holdout": self.holdout,
            "agent": {"path": self.agent_path, "sha256": self.agent_sha256,
                      **({"options": self.agent_options} if self.agent_options else {}),
                      **({"observes": True} if self.agent_observes else {}),
                      **({"arithmetic": self.agent_arithmetic} if self.agent_arithmetic != "native" else {}),
                      **({"sandbox": self.agent_sandbox} if self.agent_sandbox else {})},
            "episodes_per_variation": self.episodes_per_variation,
            "full_protocol": self.full_protocol,
            "workers": self.workers,
            "wall_time_s": self.wall_time_s,
            "variations": [
                {
                    "name": v.name,
                    "env_id": v.env_id,
                    **({} if v.env_kwargs is None else {"env_kwargs": v.env_kwargs}),
                    "split": v.split,
                    "seeds": list(v.seeds),
                    "returns": list(v.returns),
                    "lengths": list(v.lengths),
                    "summary": v.summary(),
                }
                for v in self.variations
            ],
        }
        obj["integrity"] = integrity_hash(obj)
        return obj

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> "Results":
        """Rebuild :class:`Results` from a results-file object (call :func:`validate` first)."""
        return cls(
            protocol_version=obj["protocol_version"],
            package_version=obj["package_version"],
            created=obj["created"],
            task=obj["task"],
            holdout=obj["holdout"],
            agent_path=obj["agent"]["path"],
            agent_sha256=obj["agent"]["sha256"],
            agent_options=dict(obj["agent"].get("options", {})),
            agent_observes=obj["agent"].get("observes", False) is True,
            agent_arithmetic=obj["agent"].get("arithmetic", "native"),
            agent_sandbox=obj["agent"].get("sandbox", ""),
            episodes_per_variation=obj["episodes_per_variation"],
            full_protocol=obj["full_protocol"],
            workers=obj["workers"],
            wall_time_s=obj["wall_time_s"],
            variations=tuple(
                VariationResult(v["name"], v["env_id"], v["split"], tuple(v["seeds"]),
                                tuple(float(r) for r in v["returns"]), tuple(v["lengths"]), v.get("env_kwargs"))
                for v in obj["variations"]
            ),
        )


def canonical_json(obj: Any) -> str:
    """The canonical JSON text the integrity hash is taken of (sorted keys, no spaces)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def integrity_hash(obj: dict[str, Any]) -> str:
    """sha256 hex of the canonical JSON of ``obj`` without its ``integrity`` key."""
    body = {key: value for key, value in obj.items() if key != "integrity"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def returns_sha256(obj: Any) -> str | None:
    """sha256 of what a results object measured: its task, held-out variation and every
    variation's returns, in order (``None`` if it has no such lists). Two files with the same
    value hold the same episodes, whatever their metadata (``created``, ``wall_time_s``)."""
    try:
        body = {"task": obj["task"], "holdout": obj["holdout"],
                "returns": [[v["name"], [float(x) for x in v["returns"]]] for v in obj["variations"]]}
        return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def write_results(results: Results, path: str | Path) -> Path:
    """Write ``results`` to ``path`` atomically (temp file in the same folder, then rename).

    A reader never sees a partial file, and an earlier file at ``path`` survives any
    failure before the rename.
    """
    path = Path(path)
    write_text_atomic(path, json.dumps(results.to_dict(), indent=2, allow_nan=False) + "\n")
    return path


def load_results(path: str | Path) -> Results:
    """Read, validate and return the results file at ``path``; ``ValueError`` if it is bad."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    except RecursionError:
        raise ValueError(f"{path}: not a results file (its JSON is nested far too deeply)") from None
    validate(obj, source=str(path))
    return Results.from_dict(obj)


def validate(obj: Any, *, source: str = "results") -> None:
    """Check ``obj`` against the ``hebbbench.results/1`` format; ``ValueError`` naming its
    problems (:func:`format_problems`)."""
    problems = format_problems(obj, source)
    if problems:
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        raise ValueError(problems[0] + more)


def format_problems(obj: Any, label: str = "results") -> list[str]:
    """Every way ``obj`` breaks the results format, each a sentence starting with ``label``.

    The one checker of the format: the schema string, every field's type, one ``test``
    variation, per-episode lists of ``episodes_per_variation`` values, finite returns,
    summaries that match the returns, and the integrity hash. Whether the file follows
    the *protocol* (its version, the task's variations, seeds) is the leaderboard's check
    (:func:`hebbbench.leaderboard.submission.validate_results`). An empty list: valid.
    """
    if not isinstance(obj, dict):
        return [f"{label}: is {type(obj).__name__}, not a JSON object"]
    problems: list[str] = []

    def problem(text: str) -> None:
        problems.append(f"{label}: {text}")

    if obj.get("schema") != SCHEMA:
        problem(f"schema is {obj.get('schema')!r}; expected {SCHEMA!r}")
    for key in ("protocol_version", "package_version", "task", "holdout"):
        if not isinstance(obj.get(key), str):
            problem(f"{key} is missing or not a string")
    problems.extend(f"{label}: {text}" for text in run_problems(obj))
    problems.extend(f"{label}: {text}" for text in _agent_problems(obj.get("agent")))
    episodes = obj.get("episodes_per_variation")
    if not (is_int(episodes) and episodes >= 1):
        problem(f"episodes_per_variation is {episodes!r}; expected a positive integer")
        episodes = None
    if not isinstance(obj.get("full_protocol"), bool):
        problem("full_protocol is missing or not true/false")
    listed = obj.get("variations")
    if not isinstance(listed, list) or not all(isinstance(v, dict) for v in listed):
        problem("variations must be a list of objects")
    else:
        if [v.get("split") for v in listed].count("test") != 1:
            problem("exactly one variation must have split 'test'")
        for variation in listed:
            problems.extend(_variation_problems(variation, episodes, label))
    if not isinstance(obj.get("integrity"), str):
        problem("integrity hash is missing")
    elif obj["integrity"] != _safe_hash(obj):
        problem("integrity hash does not match the contents: the file was changed after "
                "`hebbbench evaluate` wrote it (e.g. altered returns)")
    return problems


def run_problems(obj: dict) -> list[str]:
    """Problems with how a run says it ran: ``created`` (an ISO 8601 time with its offset, from
    :data:`EARLIEST_CREATED` to a day past now), ``workers`` (an integer in [1, MAX_WORKERS]),
    ``wall_time_s`` (a number in (0, MAX_WALL_TIME_S]); each names the value and its range."""
    problems = []
    created = obj.get("created")
    when = _parse_time(created)
    latest = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    if when is None or not EARLIEST_CREATED <= when <= latest:
        problems.append(f"created is {created!r}; expected an ISO 8601 time with its UTC offset (as evaluate "
                        f"writes) in [{EARLIEST_CREATED.isoformat()}, {latest.isoformat(timespec='seconds')}]")
    workers = obj.get("workers")
    if not (is_int(workers) and 1 <= workers <= MAX_WORKERS):
        problems.append(f"workers is {workers!r}; expected an integer in [1, {MAX_WORKERS}]")
    wall = obj.get("wall_time_s")
    if not (is_number(wall) and 0 < wall <= MAX_WALL_TIME_S):
        problems.append(f"wall_time_s is {wall!r}; expected a number of seconds in (0, {MAX_WALL_TIME_S:,}] "
                        "(30 days)")
    return problems


def _parse_time(text: Any) -> datetime.datetime | None:
    """``text`` as an aware datetime, or ``None`` if it is not an ISO 8601 time with an offset."""
    if not isinstance(text, str):
        return None
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _agent_problems(agent: Any) -> list[str]:
    if not (isinstance(agent, dict) and isinstance(agent.get("path"), str) and isinstance(agent.get("sha256"), str)):
        return ["agent must be an object holding strings 'path' and 'sha256'"]
    unknown = sorted(set(agent) - AGENT_FIELDS)
    if unknown:
        return [f"agent has unknown fields {unknown} (it holds {sorted(AGENT_FIELDS)})"]
    found = option_problems(agent.get("options", {}))
    if found:
        return found
    if agent.get("observes", True) is not True:
        return ["agent.observes is written only as true (the agent defined observe)"]
    if agent.get("arithmetic", "portable") not in ARITHMETIC:
        return [f"agent.arithmetic must be one of {list(ARITHMETIC)}, got {agent['arithmetic']!r}"]
    if not isinstance(agent.get("sandbox", ""), str):
        return [f"agent.sandbox must be a string (how the agent's process was contained), got {agent['sandbox']!r}"]
    return []


def option_problems(options: Any) -> list[str]:
    """Problems with agent options (``make_agent`` keyword arguments): an object of
    identifier keys and JSON scalar values (strings, finite numbers, booleans, null)."""
    if not isinstance(options, dict):
        return ["agent options must be an object of make_agent's keyword arguments"]
    for key, value in options.items():
        if not (isinstance(key, str) and key.isidentifier()):
            return [f"agent option names must be Python identifiers, got {key!r}"]
        if not (value is None or isinstance(value, (str, bool)) or is_number(value)):
            return [f"agent option {key!r} must be a string, number, true/false or null, got {value!r}"]
    return []


def _variation_problems(variation: dict, episodes: int | None, label: str) -> list[str]:
    name = variation.get("name")
    where = f"{label}: variation {name!r}"
    problems = []
    if not isinstance(name, str) or not isinstance(variation.get("env_id"), str):
        problems.append(f"{label}: every variation needs string 'name' and 'env_id'")
    if not isinstance(variation.get("env_kwargs", {}), dict):
        problems.append(f"{where}: env_kwargs must be an object of the env's settings")
    if variation.get("split") not in SPLITS:
        problems.append(f"{where}: split must be one of {SPLITS}, got {variation.get('split')!r}")
    seeds, returns, lengths = variation.get("seeds"), variation.get("returns"), variation.get("lengths")
    if not (isinstance(seeds, list) and all(is_int(x) for x in seeds)):
        problems.append(f"{where}: seeds must be a list of integers")
        seeds = None
    if not (isinstance(returns, list) and all(is_number(x) for x in returns)):
        problems.append(f"{where}: returns must be a list of finite numbers")
        returns = None
    if not (isinstance(lengths, list) and all(is_int(x) for x in lengths)):
        problems.append(f"{where}: lengths must be a list of integers")
        lengths = None
    if episodes is not None:
        for key, values in (("seeds", seeds), ("returns", returns), ("lengths", lengths)):
            if values is not None and len(values) != episodes:
                problems.append(f"{where}: {len(values)} {key} for episodes_per_variation={episodes}")
    if returns:
        problems.extend(summary_problems(variation.get("summary"), returns, where))
    elif not isinstance(variation.get("summary"), dict):
        problems.append(f"{where}: summary is missing")
    return problems


def _safe_hash(obj: dict) -> str | None:
    """The integrity hash, or None where the object holds NaN or infinity (not valid JSON)."""
    try:
        return integrity_hash(obj)
    except ValueError:
        return None


def is_int(value: Any) -> bool:
    """Whether a JSON value is an integer (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """Whether a JSON value is a finite real number (an int or float, not a bool)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def summary_problems(summary: Any, returns: Sequence[float], where: str) -> list[str]:
    """Problems where a stored summary (mean, std, ci95) disagrees with the returns it
    summarises, each a sentence starting with ``where``; ``returns`` must be finite numbers."""
    if not isinstance(summary, dict):
        return [f"{where}: summary is missing"]
    ci = summary.get("ci95")
    if not (isinstance(ci, list) and len(ci) == 2):
        return [f"{where}: summary.ci95 must be a [low, high] pair"]
    low, high = stats.bootstrap_ci(returns, resamples=CI_RESAMPLES, seed=CI_SEED)
    expected = {"mean": stats.mean(returns), "std": stats.std(returns), "ci95 low": low, "ci95 high": high}
    stored = {"mean": summary.get("mean"), "std": summary.get("std"), "ci95 low": ci[0], "ci95 high": ci[1]}
    wrong = [f"{key} {value!r} (returns give {expected[key]:.6g})" for key, value in stored.items()
             if not (is_number(value) and math.isclose(value, expected[key], rel_tol=SUMMARY_TOLERANCE,
                                                       abs_tol=SUMMARY_TOLERANCE))]
    if wrong:
        return [f"{where}: summary disagrees with the per-episode returns: {'; '.join(wrong)}"]
    return []


def summary_rows(results: Results) -> list[tuple[str, ...]]:
    """Table rows (header first): variation, split, episodes, mean, std, 95% CI."""
    rows = [("variation", "split", "episodes", "mean", "std", "95% CI")]
    for variation in results.variations:
        summary = variation.summary()
        low, high = summary["ci95"]
        rows.append((
            variation.name,
            "TEST" if variation.split == "test" else "train",
            str(len(variation.returns)),
            f"{summary['mean']:.1f}",
            f"{summary['std']:.1f}",
            f"[{low:.1f}, {high:.1f}]",
        ))
    return rows


def format_table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned text columns; numbers right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    numeric = [i >= 2 for i in range(len(widths))]
    lines = []
    for row in rows:
        cells = [cell.rjust(w) if num else cell.ljust(w) for cell, w, num in zip(row, widths, numeric)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
