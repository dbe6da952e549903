"""How the board is arranged: sections of rows per task, and the cells every renderer shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from hebbbench.envs import PAPER_HOLDOUT, TASKS, variations
from hebbbench.leaderboard import records
from hebbbench.leaderboard.scores import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, Row, Score, row
from hebbbench.system.processes import SANDBOXED


@dataclass(frozen=True)
class Section:
    """Rows of one task shown together: ``ranked`` rows share their folds and are full runs."""

    task: str
    title: str
    ranked: bool
    rows: list[Row]


def sections(submissions: Sequence[dict], task: str | None = None) -> list[Section]:
    """The board's tables, task by task: ranked groups (same folds, full protocol), then the rest."""
    rows = [row(s) for s in submissions]
    result = []
    for name in TASKS if task is None else [task]:
        order = [v.name for v in variations(name)]
        mine = sorted((r for r in rows if r.submission["task"] == name), key=lambda r: -r.heldout.mean)
        groups: dict[tuple[str, ...], list[Row]] = {}
        for r in mine:
            if r.submission["full_protocol"]:
                groups.setdefault(tuple(r.submission["folds"]), []).append(r)
        for folds in sorted(groups, key=lambda f: (-len(f), [order.index(x) for x in f])):
            result.append(Section(name, f"Ranked: held out {folds_label(name, folds)}", True, groups[folds]))
        apart = [r for r in mine if not r.submission["full_protocol"]]
        if apart:
            result.append(Section(name, "Not full protocol runs (shown apart, not ranked)", False, apart))
    return result


def folds_label(task: str, folds: Sequence[str]) -> str:
    """Human name of a set of held-out variations, e.g. ``long-front (the paper's fold)``."""
    if len(folds) == len(variations(task)):
        return f"all {len(folds)} folds"
    if list(folds) == [PAPER_HOLDOUT[task]]:
        return f"{folds[0]} (the paper's fold)"
    return ", ".join(folds)


def budget_label(entry: Mapping[str, Any]) -> str:
    """The entry's training budget in the form that fits it.

    An evolution strategies budget is generations x population plus env steps; a budget
    without generations and population (gradient RL such as PPO) is its env steps alone,
    since "0 gen x 0 pop" would misdescribe it; no budget at all is ``untrained``.
    """
    budget = entry["budget"]
    steps = f"{budget['env_steps']:,} env steps"
    if budget["generations"] or budget["population"]:
        return f"{budget['generations']} gen x {budget['population']} pop, {steps}"
    return steps if budget["env_steps"] else "untrained (0 env steps)"


def verified_label(submission: Mapping[str, Any], claimed: Score | None = None, short: bool = False) -> str:
    """How far ``submission`` was verified, with the submitter's held-out mean (``claimed``)
    beside the verifier's: e.g. ``exact, 20 secret seeds (claimed 114.0)``,
    ``statistical, not replayable, 20 secret seeds (claimed 1.5)``, ``FAILED (claimed 1000.0)``,
    ``legacy exact (5 submitted seeds)`` for a record of the old verify, or ``no`` (with the
    entry's reason where it publishes no agent files: ``no: unverifiable, ...``; ``short``:
    without the reason, for pages that point to the board for it)."""
    record = submission.get("verification")
    if not record:
        reason = submission["entry"].get("unverifiable")
        return ("no: unverifiable" if short else f"no: unverifiable, {reason}") if reason else "no"
    if not records.is_measured(submission):
        return f"legacy {record['level'] if record['level'] != 'failed' else 'FAILED'} ({record['episodes']} " \
               "submitted seeds)"
    seeds = len(record["folds"][0]["measured"]["seeds"])
    claim = f"(claimed {number(claimed.mean)})" if claimed is not None else ""
    if record["level"] == "failed":
        return f"FAILED {claim}"
    replay = "" if record["level"] == "exact" else ", not replayable"
    return f"{record['level']}{replay}, {seeds} secret seeds {claim}".rstrip()


#: The longest reason for no sandbox a board cell shows (the package's own are under 100).
MAX_SANDBOX_REASON = 160


def sandbox_label(submission: Mapping[str, Any]) -> str:
    """Whether the entry's agent ran in the sandbox when its results were made, from each
    results file's ``agent.sandbox`` (``docs/sandbox.md``): ``sandboxed``, ``not sandboxed
    (why)``, or ``not recorded`` for results written before evaluate recorded it. One label
    when every fold agrees, else one per fold (``default: sandboxed; long-front: ...``), so a
    mixed entry cannot pass for a contained one."""
    folds = [(r["holdout"], sandbox_state(r["agent"].get("sandbox", ""))) for r in submission["results"]]
    if len({state for _, state in folds}) == 1:
        return folds[0][1]
    return "; ".join(f"{fold}: {state}" for fold, state in folds)


def sandbox_state(recorded: str) -> str:
    """One results file's ``agent.sandbox`` in words: ``"pid-namespace+ro-fs+no-net"`` is
    ``sandboxed``, ``"none (why)"`` is ``not sandboxed (why)``, absent (``""``) is ``not recorded``.
    The reason is the submitter's text: shown on one line, cut at :data:`MAX_SANDBOX_REASON` characters."""
    if not recorded:
        return "not recorded"
    if recorded == SANDBOXED:
        return "sandboxed"
    inner = recorded.removeprefix("none (").removesuffix(")") if recorded.startswith("none (") else recorded
    inner = " ".join(inner.split())
    if len(inner) > MAX_SANDBOX_REASON:
        inner = inner[:MAX_SANDBOX_REASON - 3] + "..."
    return f"not sandboxed ({inner})"


def number(value: float) -> str:
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def with_ci(value: float, ci: tuple[float, float]) -> str:
    return f"{number(value)} [{number(ci[0])}, {number(ci[1])}]"


COLUMNS = ("#", "entry", "family", "held out", "held-out mean [95% CI]", "held-out IQM [95% CI]",
           "train mean [95% CI]", "train IQM [95% CI]", "episodes/variation", "budget",
           "verified (submitter's claim)", "sandbox")


def row_cells(section: Section, index: int, r: Row) -> list[str]:
    episodes = sorted({res["episodes_per_variation"] for res in r.submission["results"]})
    folds = r.submission["folds"]
    return [str(index + 1) if section.ranked else "-", r.entry["name"], r.entry["agent_family"],
            f"all {len(folds)} folds" if len(folds) == len(variations(section.task)) else ", ".join(folds),
            with_ci(r.heldout.mean, r.heldout.mean_ci), with_ci(r.heldout.iqm, r.heldout.iqm_ci),
            with_ci(r.train.mean, r.train.mean_ci), with_ci(r.train.iqm, r.train.iqm_ci),
            "/".join(str(e) for e in episodes), budget_label(r.entry), verified_label(r.submission, r.claimed),
            sandbox_label(r.submission)]


EMPTY = ("No entries yet. The board holds only entries produced by real runs of this package "
          "(`hebbbench evaluate`, then `hebbbench submit`), each labelled with its training budget.")


METHOD = ("Each entry covers one task and one or more folds (a fold holds out one variation "
           "for testing and trains on the other four). Held-out pools the test-variation "
           "episodes of every fold the entry covers; train pools the training variations' "
           "episodes. Mean and IQM (interquartile mean) come with 95% percentile bootstrap "
           f"confidence intervals ({BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}), "
           "stratified so that each fold's episodes on each variation are resampled within "
           "themselves (rliable, Agarwal et al. 2021). Entries are ranked by held-out mean, "
           "only against entries with full protocol runs (100 episodes per variation on the "
           "protocol's seeds) of the same folds; other entries are listed apart, unranked. "
           "Results are reported by their submitters: the integrity hash catches a file changed "
           "after `hebbbench evaluate` wrote it, not a forged one. `hebbbench verify` measures an entry "
           "from its agent files on seeds it draws in secret at verify time; a verified entry's scores "
           "and rank are the verifier's (its episodes/variation column counts the submitted episodes), "
           "the submitter's held-out mean is shown beside them. exact: a randomly placed window of "
           "submitted seeds replayed bit for bit (portable arithmetic) and every variation's submitted "
           "mean lies within what the verifier's episodes allow; statistical: the latter only, for "
           "agents run with native arithmetic, which no other CPU can replay; FAILED: a replay differed or "
           f"a submitted mean lies outside (Welch tests at a nominal false-alarm rate of "
           f"{records.FALSE_ALARM_RATE:.1%} per entry; 0-2% measured on the board's real returns). "
           "Legacy: recorded by the verify of hebbbench 0.4.1 or older, "
           "which replayed submitted seeds only; ranked by the submitter's numbers. Every record is "
           "re-checked against its stored measurements whenever the board is rendered. Sandbox: whether "
           "the submitter's `hebbbench evaluate` ran the agent contained by bubblewrap (its own PID namespace, "
           "a read-only file system, no network; docs/sandbox.md), as its results files record it: sandboxed, "
           "not sandboxed (why), or not recorded for results written before evaluate recorded it; one per "
           "fold where an entry's folds differ.")
