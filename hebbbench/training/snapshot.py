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


def snapshot(run_dir: str | Path, out: str | Path) -> Path:
    """Write the snapshot of ``run_dir`` into the new (or empty) folder ``out``; returns it."""
    run_dir, out = Path(run_dir), Path(out)
    for name in (CONFIG_FILE, AGENT_FILE, CHECKPOINT_FILE):
        if not (run_dir / name).is_file():
            raise ValueError(f"{str(run_dir)!r} is not a run directory (no {name})")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{str(out)!r} exists and is not an empty folder; give the snapshot a new folder")
    out.mkdir(parents=True, exist_ok=True)
    for name in (CONFIG_FILE, AGENT_FILE, LOG_FILE):
        if (run_dir / name).is_file():
            shutil.copyfile(run_dir / name, out / name)
    final = load_state(run_dir / CHECKPOINT_FILE)
    save_state(out / CHECKPOINT_FILE, {**final, "strategy": distribution_state(final["strategy"]), SNAPSHOT_KEY: True})
    if (run_dir / BEST_FILE).is_file():
        best = load_state(run_dir / BEST_FILE)
        save_state(out / BEST_FILE, {**best, "strategy": distribution_state(best["strategy"])})
    return out
