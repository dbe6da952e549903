"""Results files (schema ``hebbbench.results/1``): build, hash, write, load, validate.

The format is specified in ``docs/results-format.md``; this module is its one
implementation. :class:`Results` is what :func:`hebbbench.evaluate` returns;
:func:`write_results` writes it atomically and :func:`load_results` reads one back,
checking the schema and the integrity hash.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from hebbbench import stats
from hebbbench.files import write_text_atomic

SCHEMA = "hebbbench.results/1"
#: The summary's bootstrap CI: 2000 resamples with seed 0, as the format doc fixes.
CI_RESAMPLES = 2000
CI_SEED = 0
SPLITS = ("train", "test")
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
                      **({"observes": True} if self.agent_observes else {})},
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
    validate(obj, source=str(path))
    return Results.from_dict(obj)


def validate(obj: Any, *, source: str = "results") -> None:
    """Check ``obj`` against the ``hebbbench.results/1`` format; ``ValueError`` naming the first problem.

    Checks: the schema string, every field's type, one ``test`` variation, per-episode
    lists of equal length ``episodes_per_variation``, finite returns, summaries that match
    the returns, and the integrity hash.
    """

    def fail(message: str) -> None:
        raise ValueError(f"{source}: {message}")

    if not isinstance(obj, dict):
        fail(f"expected a JSON object, got {type(obj).__name__}")
    if obj.get("schema") != SCHEMA:
        fail(f"schema must be {SCHEMA!r}, got {obj.get('schema')!r}")
    expected_types = {
        "protocol_version": str, "package_version": str, "created": str, "task": str,
        "holdout": str, "agent": dict, "episodes_per_variation": int, "full_protocol": bool,
        "workers": int, "wall_time_s": (int, float), "variations": list, "integrity": str,
    }
    for key, kind in expected_types.items():
        if not isinstance(obj.get(key), kind) or (kind is int and isinstance(obj.get(key), bool)):
            fail(f"field {key!r} is missing or not a {getattr(kind, '__name__', 'number')}")
    if not isinstance(obj["agent"].get("path"), str) or not isinstance(obj["agent"].get("sha256"), str):
        fail("field 'agent' must hold strings 'path' and 'sha256'")
    if not isinstance(obj["agent"].get("options", {}), dict):
        fail("field 'agent.options' must be an object of make_agent's keyword arguments")
    if obj["agent"].get("observes", True) is not True:
        fail("field 'agent.observes' is written only as true (the agent defined observe)")
    episodes = obj["episodes_per_variation"]
    if episodes < 1:
        fail(f"episodes_per_variation must be >= 1, got {episodes}")
    if [v.get("split") for v in obj["variations"] if isinstance(v, dict)].count("test") != 1:
        fail("exactly one variation must have split 'test'")
    for variation in obj["variations"]:
        _validate_variation(variation, episodes, fail)
    if integrity_hash(obj) != obj["integrity"]:
        fail("integrity hash does not match the contents (the file was edited after it was written)")


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


def _validate_variation(variation: Any, episodes: int, fail) -> None:
    if not isinstance(variation, dict):
        fail("every entry of 'variations' must be an object")
    name = variation.get("name")
    if not isinstance(name, str) or not isinstance(variation.get("env_id"), str):
        fail("every variation needs string 'name' and 'env_id'")
    if not isinstance(variation.get("env_kwargs", {}), dict):
        fail(f"variation {name!r}: 'env_kwargs' must be an object of the env's settings")
    if variation.get("split") not in SPLITS:
        fail(f"variation {name!r}: split must be one of {SPLITS}, got {variation.get('split')!r}")
    for key, kind in (("seeds", int), ("returns", (int, float)), ("lengths", int)):
        values = variation.get(key)
        if not isinstance(values, list) or len(values) != episodes:
            fail(f"variation {name!r}: {key!r} must be a list of {episodes} values")
        if not all(isinstance(x, kind) and not isinstance(x, bool) for x in values):
            fail(f"variation {name!r}: {key!r} holds a value of the wrong type")
    if not all(is_number(r) for r in variation["returns"]):
        fail(f"variation {name!r}: returns must be finite")
    for problem in summary_problems(variation.get("summary"), variation["returns"], f"variation {name!r}"):
        fail(problem)


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
