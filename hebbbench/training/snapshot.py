"""A snapshot of a run directory: what its agent reads, and nothing that only training needs.

A board entry keeps its agent's files for ever (they are hashed and verified), so it
should keep only what evaluation reads: the config, the agent file, the best and the final
distributions (mean, sigma, observation statistics) and the log for its curve. The
optimiser's state (Adam moments, ClipUp velocity) and ``parameters.npy`` stay with the live
run, whose resume state is committed only while it trains. A snapshot acts exactly as the
run directory it came from (``--agent-option checkpoint=best|final``, any sigma) and
refuses ``--resume``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from hebbbench.es import STRATEGIES
from hebbbench.training.run_dir import (
    AGENT_FILE,
    BEST_FILE,
    CHECKPOINT_FILE,
    CONFIG_FILE,
    LOG_FILE,
    distribution_state,
    load_state,
    save_state,
)

#: The checkpoint key that marks a snapshot (its strategy has no optimiser state).
SNAPSHOT_KEY = "snapshot"


def snapshot(run_dir: str | Path, out: str | Path, half_precision: bool = False) -> Path:
    """Write the snapshot of ``run_dir`` into the new (or empty) folder ``out``; returns it.

    ``half_precision``: keep only the best generation's distribution, in the strategy's
    ``half_precision_state`` form (a shared-rule mixture: lambda as row-shifted float16, half
    the bytes; docs/shared-rules.md measures how little that moves each synapse's rule
    distribution). Such a snapshot is a slightly different agent than its run, so its board
    entry is evaluated as exported; it has no ``checkpoint=final``. ``ValueError`` for a
    strategy that has no such form."""
    run_dir, out = Path(run_dir), Path(out)
    for name in (CONFIG_FILE, AGENT_FILE, CHECKPOINT_FILE):
        if not (run_dir / name).is_file():
            raise ValueError(f"{str(run_dir)!r} is not a run directory (no {name})")
    if half_precision and not (run_dir / BEST_FILE).is_file():
        raise ValueError(f"{str(run_dir)!r} has no {BEST_FILE}, which a half-precision snapshot keeps")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{str(out)!r} exists and is not an empty folder; give the snapshot a new folder")
    best = load_state(run_dir / BEST_FILE) if half_precision else None
    compact = _half_precision_form(best["strategy"]) if best is not None else None
    out.mkdir(parents=True, exist_ok=True)
    for name in (CONFIG_FILE, AGENT_FILE, LOG_FILE):
        if (run_dir / name).is_file():
            shutil.copyfile(run_dir / name, out / name)
    if best is not None:
        save_state(out / BEST_FILE, {**best, "strategy": compact(best["strategy"]), SNAPSHOT_KEY: True})
        return out
    final = load_state(run_dir / CHECKPOINT_FILE)
    save_state(out / CHECKPOINT_FILE, {**final, "strategy": distribution_state(final["strategy"]), SNAPSHOT_KEY: True})
    if (run_dir / BEST_FILE).is_file():
        best = load_state(run_dir / BEST_FILE)
        save_state(out / BEST_FILE, {**best, "strategy": distribution_state(best["strategy"])})
    return out


def _half_precision_form(state: dict) -> Callable[[dict], dict]:
    """The registered strategy's ``half_precision_state`` for a saved ``state``."""
    kind = state.get("kind")
    form = getattr(STRATEGIES.get(kind), "half_precision_state", None)
    if form is None:
        raise ValueError(f"strategy {kind!r} keeps no half-precision form (only gaussian-mixture does: "
                         "shared rules); snapshot this run without --half-precision")
    return form
