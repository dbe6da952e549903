"""The leaderboard: validated submissions in, a ranked table, markdown and a web page out.

A board is a folder (``leaderboard/`` by default)::

    submissions/<id>.json   one validated submission each (see :mod:`hebbbench.submission`)
    README.md               rendered from the submissions; never edited by hand
    index.html              the same, self-contained: sortable tables and a chart
    .lock                   held while a command changes the board (not part of it)

Scores follow rliable (Agarwal et al., NeurIPS 2021): for each entry the held-out (test)
score pools the test episodes of every fold it covers, the train score pools the training
variations' episodes; each gets a mean and an IQM with a 95% percentile bootstrap CI,
stratified so that each (fold, variation) sample is resampled within itself. Entries are
ranked by held-out mean, and only against entries that cover the same folds with full
protocol runs; the others are listed apart, unranked.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from hebbbench import stats
from hebbbench.envs import PAPER_HOLDOUT, TASKS, variations
from hebbbench.files import write_text_atomic
from hebbbench.submission import (
    SubmissionError,
    fold_index,
    make_submission,
    validate_submission,
)
from hebbbench.version import __version__

DEFAULT_DIR = Path("leaderboard")
FORMATS = ("table", "markdown", "html")
#: Bootstrap settings for every interval on the board (fixed, so renders are reproducible).
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Score:
    """Mean and IQM of a pool of episode returns, each with a 95% stratified bootstrap CI."""

    mean: float
    mean_ci: tuple[float, float]
    iqm: float
    iqm_ci: tuple[float, float]
    episodes: int


@dataclass(frozen=True)
class Row:
    """One entry's statistics: held-out and train scores, and per (variation, split) scores."""

    submission: dict
    heldout: Score
    train: Score
    by_variation: dict[tuple[str, str], Score]

    @property
    def entry(self) -> dict:
        return self.submission["entry"]


def score(groups: Sequence[Sequence[float]]) -> Score:
    """:class:`Score` of ``groups``, a list of 1-D samples (one per fold and variation).

    The statistics pool all groups; the bootstrap resamples within each group.
    """
    pooled = np.concatenate([np.asarray(group, dtype=np.float64) for group in groups])

    def ci(statistic: str) -> tuple[float, float]:
        return stats.pooled_bootstrap_ci(groups, statistic, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)

    return Score(mean=stats.mean(pooled), mean_ci=ci("mean"), iqm=stats.iqm(pooled),
                 iqm_ci=ci("iqm"), episodes=int(pooled.size))


def row(submission: dict) -> Row:
    """The statistics of one (valid) submission."""
    heldout, train = [], []
    by_variation: dict[tuple[str, str], list[list[float]]] = {}
    for results in submission["results"]:
        for variation in results["variations"]:
            (heldout if variation["split"] == "test" else train).append(variation["returns"])
            by_variation.setdefault((variation["name"], variation["split"]), []).append(variation["returns"])
    return Row(submission, score(heldout), score(train),
               {key: score(groups) for key, groups in by_variation.items()})


# --- the board folder -------------------------------------------------------------------

def check_board(directory: Path | str) -> None:
    """``ValueError`` unless ``directory`` is a board folder (it holds ``submissions/``)."""
    if not (Path(directory) / "submissions").is_dir():
        raise ValueError(f"{str(directory)!r} is not a leaderboard folder (it has no submissions/ folder): run "
                         "hebbbench from the repository's root, pass --leaderboard-dir DIR, or start a new board "
                         "with `hebbbench submit ... --new-board`")


def load_board(directory: Path | str = DEFAULT_DIR) -> list[dict]:
    """Every submission on the board, validated, in id order.

    Raises ``ValueError`` if ``directory`` is not a board folder, :class:`SubmissionError`
    listing every problem if a stored file is broken.
    """
    check_board(directory)
    problems, submissions = [], []
    for path in sorted((Path(directory) / "submissions").glob("*.json")):
        try:
            submission = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            problems.append(f"{path}: cannot be read as JSON ({error})")
            continue
        found = validate_submission(submission)
        if not found and submission["id"] != path.stem:
            found = [f"id {submission['id']!r} does not match the file name"]
        problems.extend(f"{path}: {problem}" for problem in found)
        submissions.append(submission)
    if problems:
        raise SubmissionError(problems)
    return submissions


def read_results(paths: Sequence[Path | str]) -> tuple[list[Any], list[str]]:
    """Parse each results file; returns the parsed objects and a problem per unreadable file."""
    parsed, problems = [], []
    for path in paths:
        try:
            parsed.append(json.loads(Path(path).read_text(encoding="utf-8")))
        except FileNotFoundError:
            problems.append(f"{path}: no such file")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{path}: cannot be read ({error})")
        except ValueError as error:
            problems.append(f"{path}: not valid JSON ({error})")
    return parsed, problems


@contextlib.contextmanager
def board_lock(directory: Path) -> Iterator[None]:
    """Hold ``directory``'s board for one change: read, check and write as one step.

    Without it, two submits of the same entry name could both pass the duplicate check
    and one submission file would replace the other, or a slower render would write a
    board that misses the other's entry. An exclusive ``flock`` on ``directory/.lock``;
    other processes wait for it. (Where ``fcntl`` does not exist, e.g. Windows, changes
    are not serialised.)
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def submit(results_paths: Sequence[Path | str], metadata: Mapping[str, Any], *,
           directory: Path | str = DEFAULT_DIR, submitted: str, new_board: bool = False) -> Path:
    """Validate results files plus entry metadata, add them to the board and re-render it.

    ``new_board``: start a board in ``directory`` if it is not one yet (otherwise refused).
    ``metadata`` holds the keyword arguments of :func:`make_submission` other than the
    results and ``submitted``. On any problem (invalid file, duplicate entry or results)
    raises :class:`SubmissionError` listing all of them, and writes nothing. Returns the
    path of the new submission file.
    """
    directory = Path(directory)
    results, problems = read_results(results_paths)
    if problems:
        raise SubmissionError(problems)
    pairs = sorted(zip([str(path) for path in results_paths], results), key=lambda p: fold_index(p[1]))
    labels, results = [label for label, _ in pairs], [result for _, result in pairs]
    submission = make_submission(results, submitted=submitted, **metadata)
    problems = validate_submission(submission, labels)
    if new_board:
        (directory / "submissions").mkdir(parents=True, exist_ok=True)
    check_board(directory)
    with board_lock(directory):
        board = load_board(directory)
        problems.extend(_duplicate_problems(submission, board, labels, results))
        if problems:
            raise SubmissionError(problems)
        return _store(directory, submission, board + [submission])


def _duplicate_problems(submission: dict, board: Sequence[dict], labels: Sequence[str],
                        results: Sequence[Any]) -> list[str]:
    """Problems where a submission repeats an entry name or a results file already on the board."""
    problems = []
    for other in board:
        if other["id"] == submission["id"]:
            problems.append(f"an entry named {other['entry']['name']!r} for task {other['task']!r} is "
                            f"already on the board ({other['id']}); choose another --name")
    on_board = {r["integrity"]: other["id"] for other in board for r in other["results"]}
    for label, result in zip(labels, results):
        if isinstance(result, dict) and isinstance(result.get("integrity"), str) and result["integrity"] in on_board:
            problems.append(f"{label}: these results are already on the board in entry "
                            f"{on_board[result['integrity']]!r}")
    return problems


#: Re-run returns must match the submitted ones to this relative (and absolute) tolerance.
VERIFY_TOLERANCE = 1e-6


def verify(entry_id: str, agents: Sequence[Path | str], *, episodes: int = 5,
           directory: Path | str = DEFAULT_DIR, workers: int | None = None,
           seed: int | None = None, verified_at: str) -> dict:
    """Re-run submitted episodes of a board entry and mark it verified if the returns match.

    For each fold, the agent file (among ``agents``) whose sha256 is the one its results
    record is evaluated with :func:`hebbbench.evaluate` on ``episodes`` consecutive
    protocol seeds of the submitted ones (a window placed at random, ``seed`` fixes it),
    on every variation; returns and lengths must equal the submitted ones (returns to
    :data:`VERIFY_TOLERANCE`). On success writes the entry's ``verification`` record,
    re-renders the board and returns the record; otherwise raises
    :class:`SubmissionError` listing every mismatch and changes nothing.
    """
    from hebbbench.agent_file import AgentError, agent_sha256
    from hebbbench.protocol import EvaluationError, evaluate

    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    directory = Path(directory)
    board = load_board(directory)
    matches = [s for s in board if s["id"] == entry_id]
    if not matches:
        known = ", ".join(s["id"] for s in board) or "none"
        raise ValueError(f"no entry {entry_id!r} on the board in {directory}; entries: {known}")
    submission = matches[0]
    by_sha = {}
    for path in agents:
        if not Path(path).exists():
            raise ValueError(f"agent {str(path)!r} does not exist")
        by_sha[agent_sha256(path)] = str(path)
    rng = np.random.default_rng(seed)
    problems, checked, largest = [], [], 0.0
    for results in submission["results"]:
        fold = results["holdout"]
        agent = by_sha.get(results["agent"]["sha256"])
        if agent is None:
            problems.append(f"fold {fold!r}: no --agent file has the sha256 its results record "
                            f"({results['agent']['sha256'][:12]}..., evaluated as {results['agent']['path']!r}): "
                            "the agent's files changed since it was evaluated (for a directory, any file in it "
                            "counts: more training, a plot or results file written there); pass the files as "
                            "they were evaluated, or evaluate and submit again")
            continue
        count = min(episodes, results["episodes_per_variation"])
        start = int(rng.integers(0, results["episodes_per_variation"] - count + 1))
        first_seed = results["variations"][0]["seeds"][start]
        try:
            rerun = evaluate(agent, task=results["task"], holdout=fold, episodes=count,
                             seed=first_seed, workers=workers, agent_options=results["agent"].get("options"))
        except (AgentError, EvaluationError) as error:
            problems.append(f"fold {fold!r}: re-running the agent failed: {error}")
            continue
        for variation in results["variations"]:
            again = rerun.variation(variation["name"])
            for i, seed_ in enumerate(again.seeds):
                submitted = variation["returns"][start + i], variation["lengths"][start + i]
                largest = max(largest, abs(again.returns[i] - submitted[0]))
                if again.lengths[i] != submitted[1] or not np.isclose(
                        again.returns[i], submitted[0], rtol=VERIFY_TOLERANCE, atol=VERIFY_TOLERANCE):
                    problems.append(f"fold {fold!r}, variation {variation['name']!r}, seed {seed_}: submitted "
                                    f"return {submitted[0]!r} in {submitted[1]} steps, re-run gives "
                                    f"{again.returns[i]!r} in {again.lengths[i]} steps")
        checked.append({"fold": fold, "seeds": list(again.seeds)})
    if problems:
        raise SubmissionError(problems, "the entry was not marked verified:")
    record = {"episodes": min(episodes, min(r["episodes_per_variation"] for r in submission["results"])),
              "checked": checked, "max_abs_difference": largest, "package_version": __version__,
              "verified": verified_at}
    with board_lock(directory):  # the board as it is now: others may have changed it meanwhile
        board = load_board(directory)
        if submission not in board:
            raise ValueError(f"entry {entry_id!r} changed or left the board in {directory} while it was being "
                             "verified; run verify again")
        updated = dict(submission, verification=record)
        _store(directory, updated, [updated if s == submission else s for s in board])
    return record


def write_board(directory: Path | str = DEFAULT_DIR) -> None:
    """Re-render README.md and index.html of the board from its submissions."""
    directory = Path(directory)
    check_board(directory)
    with board_lock(directory):
        _write_rendered(directory, render_files(load_board(directory)))


def _store(directory: Path, submission: dict, board: Sequence[dict]) -> Path:
    """Write ``submission``'s file, then re-render the board (``board``: every submission,
    this one included). Rendering comes first, so a failure there writes nothing."""
    rendered = render_files(board)
    path = directory / "submissions" / f"{submission['id']}.json"
    _write_atomic(path, json.dumps(submission, indent=1) + "\n")
    _write_rendered(directory, rendered)
    return path


def _write_rendered(directory: Path, rendered: Mapping[str, str]) -> None:
    """Write the board's rendered files (README.md, index.html) into ``directory``."""
    for name, text in rendered.items():
        _write_atomic(directory / name, text)


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, creating its folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)


# --- arranging the board ----------------------------------------------------------------

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
    budget = entry["budget"]
    return f"{budget['generations']} gen x {budget['population']} pop, {budget['env_steps']:,} env steps"


def verified_label(submission: Mapping[str, Any]) -> str:
    verification = submission.get("verification")
    if not verification:
        return "no"
    count = verification["episodes"]
    return f"yes ({count} seed{'s' if count != 1 else ''})"


def _number(value: float) -> str:
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _with_ci(value: float, ci: tuple[float, float]) -> str:
    return f"{_number(value)} [{_number(ci[0])}, {_number(ci[1])}]"


_COLUMNS = ("#", "entry", "family", "held out", "held-out mean [95% CI]", "held-out IQM [95% CI]",
            "train mean [95% CI]", "train IQM [95% CI]", "episodes/variation", "budget", "verified")


def _cells(section: Section, index: int, r: Row) -> list[str]:
    episodes = sorted({res["episodes_per_variation"] for res in r.submission["results"]})
    folds = r.submission["folds"]
    return [str(index + 1) if section.ranked else "-", r.entry["name"], r.entry["agent_family"],
            f"all {len(folds)} folds" if len(folds) == len(variations(section.task)) else ", ".join(folds),
            _with_ci(r.heldout.mean, r.heldout.mean_ci), _with_ci(r.heldout.iqm, r.heldout.iqm_ci),
            _with_ci(r.train.mean, r.train.mean_ci), _with_ci(r.train.iqm, r.train.iqm_ci),
            "/".join(str(e) for e in episodes), budget_label(r.entry), verified_label(r.submission)]


_EMPTY = ("No entries yet. The board holds only entries produced by real runs of this package "
          "(`hebbbench evaluate`, then `hebbbench submit`), each labelled with its training budget.")


# --- text table -------------------------------------------------------------------------

def render_table(board: Sequence[Section], tasks: Sequence[str]) -> str:
    """The board's sections of ``tasks`` as aligned plain-text tables for a terminal."""
    lines = []
    for name in tasks:
        lines.append(f"== {name} ==")
        mine = [s for s in board if s.task == name]
        if not mine:
            lines.append(_EMPTY.replace("`", ""))
        for section in mine:
            lines.append(section.title)
            rows = [list(_COLUMNS)] + [_cells(section, i, r) for i, r in enumerate(section.rows)]
            widths = [max(len(cells[c]) for cells in rows) for c in range(len(_COLUMNS))]
            lines.extend("  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip() for cells in rows)
        lines.append("")
    return "\n".join(lines)


# --- markdown ---------------------------------------------------------------------------

_METHOD = ("Each entry covers one task and one or more folds (a fold holds out one variation "
           "for testing and trains on the other four). Held-out pools the test-variation "
           "episodes of every fold the entry covers; train pools the training variations' "
           "episodes. Mean and IQM (interquartile mean) come with 95% percentile bootstrap "
           f"confidence intervals ({BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}), "
           "stratified so that each fold's episodes on each variation are resampled within "
           "themselves (rliable, Agarwal et al. 2021). Entries are ranked by held-out mean, "
           "only against entries with full protocol runs (100 episodes per variation on the "
           "protocol's seeds) of the same folds; other entries are listed apart, unranked. "
           "Results are reported by their submitters: the integrity hash catches a file changed "
           "after `hebbbench evaluate` wrote it, not a forged one. An entry marked verified had "
           "episodes re-run by `hebbbench verify` from its agent files, with matching returns.")


#: Characters that markdown (or the HTML it may carry) would read as markup in a table cell.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]()<>|])")


def _md_escape(text: str) -> str:
    """``text`` as literal characters in a markdown table cell (one line, markup escaped)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))


def render_markdown(board: Sequence[Section], tasks: Sequence[str]) -> str:
    """The board's sections of ``tasks`` as markdown: the rendered ``leaderboard/README.md``."""
    out = ["# hebbbench leaderboard", "",
           "Rendered by `hebbbench submit` from `submissions/*.json`; do not edit by hand. "
           "The same board, with sortable tables and a chart: `index.html`.", "", _METHOD, ""]
    for name in tasks:
        out += [f"## {name}", ""]
        mine = [s for s in board if s.task == name]
        if not mine:
            out += [_EMPTY, ""]
        for section in mine:
            out += [f"### {section.title}", "", "| " + " | ".join(_COLUMNS) + " |",
                    "|" + "---|" * len(_COLUMNS)]
            for i, r in enumerate(section.rows):
                cells = _cells(section, i, r)
                cells[1], cells[2] = _md_escape(cells[1]), _md_escape(cells[2])  # the entrant's own text
                if r.entry["link"]:
                    cells[1] = f"[{cells[1]}]({r.entry['link']})"
                cells[1] += f" ({_md_escape(', '.join(r.entry['authors']))})"
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
    out += _paper_markdown(tasks)
    out += ["## Submitting", "",
            "```bash",
            "hebbbench evaluate my_agent.py --task ant --holdout long-front --output results.json",
            "hebbbench submit results.json --name \"My agent\" --authors \"A. Author\" "
            "--family hebbian --generations G --population P --env-steps STEPS",
            "```", "",
            "G, P and STEPS are the training budget (ES generations, population size, environment "
            "steps in all; `hebbbench train` logs `env_steps` in its run's `log.jsonl`); 0 for an "
            "untrained agent. One results file per fold covered: one, or all five.", "",
            "`hebbbench submit` checks the schema, protocol version, every variation, the "
            "protocol's seeds and episode count, each summary against its per-episode returns "
            "and the integrity hash, and refuses duplicates. `hebbbench verify` re-runs "
            "episodes of an entry and marks it verified when the returns match.", ""]
    return "\n".join(out)


# --- the paper's own numbers ------------------------------------------------------------

#: Tables 1 and 2 of Palm, Najarro & Risi (2021), "Testing the Genomic Bottleneck Hypothesis
#: in Hebbian Meta-Learning", as printed (mean +- std over 100 samples, rounded); "" where
#: the paper ran no evaluation. Not runs of this package.
PAPER_TABLES: dict[str, dict[str, Any]] = {
    "ant": {
        "caption": "Table 1: Ant environment results. Average distance traveled. Mean and "
                   "standard deviation from 100 samples. Rounded to nearest integer.",
        "columns": ["default", "damage-left", "damage-right", "long-back", "long-front"],
        "rows": [
            ("Static", ["1545 ± 30", "839 ± 60", "1891 ± 105", "1197 ± 31", "202 ± 174"]),
            ("LSTM", ["1097 ± 57", "1374 ± 74", "1240 ± 140", "806 ± 113", "314 ± 115"]),
            ("Hebbian", ["928 ± 88", "1102 ± 164", "981 ± 140", "741 ± 169", "364 ± 131"]),
            ("Shared (ρ = 32)", ["2 ± 12", "", "", "", ""]),
            ("Shared (ρ = 64)", ["3 ± 13", "", "", "", ""]),
            ("Shared (ρ = 128)", ["0 ± 10", "-9 ± 18", "15 ± 31", "1 ± 6", "0 ± 4"]),
            ("Shared (ρ = 256)", ["2 ± 12", "", "", "", ""]),
            ("Shared (ρ = N)", ["-1 ± 0", "", "", "", ""]),
        ],
    },
    "car": {
        "caption": "Table 2: Car racing environment results. Average distance traveled.",
        "columns": ["default", "half-friction", "double-friction", "pushed-left", "pushed-right"],
        "rows": [
            ("Static", ["784 ± 119", "491 ± 202", "789 ± 202", "738 ± 219", "628 ± 228"]),
            ("LSTM", ["680 ± 247", "375 ± 209", "711 ± 243", "653 ± 273", "610 ± 316"]),
            ("Hebbian", ["674 ± 135", "552 ± 190", "692 ± 120", "725 ± 139", "606 ± 186"]),
            ("Shared (ρ = 128)", ["6 ± 3", "5 ± 1", "8 ± 7", "6 ± 1", "6 ± 2"]),
        ],
    },
}

_PAPER_NOTE = ("Numbers copied from Palm, Najarro & Risi (2021), *Testing the Genomic Bottleneck "
               "Hypothesis in Hebbian Meta-Learning*, Tables 1 and 2 (paper's models and code, "
               "not runs of this package; not ranked). Cells with \"-\": the paper evaluated shared "
               "rules at that ρ on the default variation only. Marked held out: the paper's fold, "
               "tested there and trained on the other four variations. The paper's Hebbian and "
               "shared-rule numbers include its coefficient penalty (-0.01 mean(h^2)), which "
               "this board's returns do not: its ant \"Shared (ρ = N)\" row, -1 ± 0, is most "
               "likely that penalty on an ant that does not move. Its evaluation drew 100 "
               "individuals from the search distribution of the best generation.")


def _paper_markdown(tasks: Sequence[str]) -> list[str]:
    out = ["## Reported in the paper", "", _PAPER_NOTE, ""]
    for name in tasks:
        table = PAPER_TABLES[name]
        columns = [f"**{c}** (held out)" if c == PAPER_HOLDOUT[name] else c for c in table["columns"]]
        out += [f"{name}: {table['caption']}", "", "| model | " + " | ".join(columns) + " |",
                "|" + "---|" * (len(columns) + 1)]
        out += ["| " + " | ".join([model] + [v or "-" for v in values]) + " |" for model, values in table["rows"]]
        out.append("")
    return out


def render_files(submissions: Sequence[dict]) -> dict[str, str]:
    """The rendered files of a board holding ``submissions``: README.md and index.html."""
    board = sections(submissions)
    return {"README.md": render_markdown(board, list(TASKS)), "index.html": render_html(board, list(TASKS))}


def render(submissions: Sequence[dict], fmt: str, task: str | None = None) -> str:
    """The board in format ``fmt`` (one of :data:`FORMATS`), optionally one task only."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task {task!r}; allowed tasks: {', '.join(TASKS)}")
    renderer = {"table": render_table, "markdown": render_markdown, "html": render_html}[fmt]
    return renderer(sections(submissions, task), list(TASKS) if task is None else [task])


# --- html -------------------------------------------------------------------------------

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2733;
       margin: 0 auto; max-width: 1240px; padding: 1.5em 2em 3em; background: #fbfbfd; }
h1 { margin-bottom: .2em; } h2 { margin-top: 1.8em; border-bottom: 2px solid #d5dbe3; }
h3 { margin: 1.4em 0 .4em; font-size: 1.05em; } .note { color: #4a5868; max-width: 62em; }
table { border-collapse: collapse; margin: .4em 0 1em; font-size: 13.5px; background: #fff; }
th, td { border: 1px solid #d5dbe3; padding: .3em .55em; text-align: left; vertical-align: top; }
th { background: #eef2f7; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort=descending]::after { content: " \\25BC"; font-size: .75em; }
table.sortable th[aria-sort=ascending]::after { content: " \\25B2"; font-size: .75em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td .ci { display: block; color: #5b6878; font-size: .85em; }
td.name { min-width: 11em; } td .authors { display: block; color: #5b6878; font-size: .9em; }
.empty { padding: .8em 1em; background: #fff7e0; border: 1px solid #ecd9a0; max-width: 60em; }
figure { margin: .6em 0 1em; } figcaption { color: #4a5868; font-size: .9em; }
svg.chart { background: #fff; border: 1px solid #d5dbe3; max-width: 100%; height: auto; }
svg.chart text { font: 12px system-ui, sans-serif; fill: #1d2733; }
svg.chart .grid { stroke: #e7ebf0; } svg.chart .axis { stroke: #8a96a5; }
"""

_JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("board-data").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#1f6fb2", "#d1495b", "#2e8b57", "#e08e0b", "#7b4fa0", "#00798c",
                "#8c564b", "#c2185b", "#556b2f", "#4a5868"];

  function node(name, attrs, parent, text) {
    var element = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) { element.setAttribute(key, attrs[key]); });
    if (text !== undefined) { element.textContent = text; }
    parent.appendChild(element);
    return element;
  }

  function sortTable(table, column, header) {
    var descending = header.getAttribute("aria-sort") !== "descending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      cell.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[column].getAttribute("data-value"), y = b.cells[column].getAttribute("data-value");
      var nx = parseFloat(x), ny = parseFloat(y);
      var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
      header.title = "click to sort";
      header.addEventListener("click", function () { sortTable(table, column, header); });
    });
  });

  function niceStep(span) {
    var raw = span / 6, power = Math.pow(10, Math.floor(Math.log10(raw))), unit = raw / power;
    return power * (unit < 1.5 ? 1 : unit < 3 ? 2 : unit < 7 ? 5 : 10);
  }

  function drawChart(task) {
    var svg = document.getElementById("chart-" + task.task);
    var width = 1000, height = 380, left = 64, right = 16, top = 16, bottom = 92;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    var points = [];
    task.entries.forEach(function (entry, e) {
      entry.points.forEach(function (p) { points.push({entry: entry, e: e, p: p}); });
    });
    var low = Math.min(0, Math.min.apply(null, points.map(function (q) { return q.p.lo; })));
    var high = Math.max(0, Math.max.apply(null, points.map(function (q) { return q.p.hi; })));
    var step = niceStep((high - low) || 1);
    low = Math.floor(low / step) * step; high = Math.ceil(high / step) * step;
    function y(value) { return top + (high - value) / (high - low) * (height - top - bottom); }
    for (var tick = low; tick <= high + step / 2; tick += step) {
      node("line", {x1: left, x2: width - right, y1: y(tick), y2: y(tick), "class": "grid"}, svg);
      node("text", {x: left - 6, y: y(tick) + 4, "text-anchor": "end"}, svg, String(Math.round(tick)));
    }
    node("line", {x1: left, x2: left, y1: top, y2: height - bottom, "class": "axis"}, svg);
    node("text", {transform: "translate(14," + ((top + height - bottom) / 2) + ") rotate(-90)",
                  "text-anchor": "middle"}, svg, "episode return");
    var band = (width - left - right) / task.variations.length;
    var slots = task.entries.length * 2;
    task.variations.forEach(function (variation, v) {
      node("text", {x: left + band * (v + 0.5), y: height - bottom + 18, "text-anchor": "middle"}, svg, variation);
      if (v) {
        node("line", {x1: left + band * v, x2: left + band * v, y1: top, y2: height - bottom, "class": "grid"}, svg);
      }
    });
    points.forEach(function (q) {
      var v = task.variations.indexOf(q.p.variation);
      var slot = q.e * 2 + (q.p.split === "test" ? 1 : 0);
      var x = left + band * v + band * (slot + 1) / (slots + 1);
      var color = COLORS[q.e % COLORS.length];
      var group = node("g", {"class": "point", "data-entry": q.entry.id}, svg);
      node("line", {x1: x, x2: x, y1: y(q.p.lo), y2: y(q.p.hi), stroke: color, "stroke-width": 2}, group);
      [q.p.lo, q.p.hi].forEach(function (end) {
        node("line", {x1: x - 4, x2: x + 4, y1: y(end), y2: y(end), stroke: color, "stroke-width": 2}, group);
      });
      node("circle", {cx: x, cy: y(q.p.mean), r: 5, stroke: color, "stroke-width": 2,
                      fill: q.p.split === "test" ? color : "#fff"}, group);
      node("title", {}, group, q.entry.name + " - " + q.p.variation + " (" +
           (q.p.split === "test" ? "held out" : "train") + "): mean " + q.p.mean.toFixed(1) +
           ", 95% CI [" + q.p.lo.toFixed(1) + ", " + q.p.hi.toFixed(1) + "]");
    });
    var lx = left, ly = height - bottom + 44;
    node("circle", {cx: lx + 5, cy: ly - 4, r: 5, fill: "#1d2733"}, svg);
    node("text", {x: lx + 14, y: ly}, svg, "held out");
    node("circle", {cx: lx + 85, cy: ly - 4, r: 5, fill: "#fff", stroke: "#1d2733", "stroke-width": 2}, svg);
    node("text", {x: lx + 94, y: ly}, svg, "train (bars: 95% CI of the mean)");
    var x0 = lx, y0 = ly + 22;
    task.entries.forEach(function (entry, e) {
      var label = entry.name + (entry.ranked ? "" : " (not ranked)");
      var width_ = 24 + 7 * label.length;
      if (x0 + width_ > width - right) { x0 = lx; y0 += 18; }
      node("rect", {x: x0, y: y0 - 10, width: 12, height: 12, fill: COLORS[e % COLORS.length]}, svg);
      node("text", {x: x0 + 17, y: y0}, svg, label);
      x0 += width_;
    });
    svg.setAttribute("data-points", String(points.length));
    svg.setAttribute("data-rendered", "true");
  }

  data.tasks.forEach(drawChart);
})();
"""


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _num_cell(value: float, ci: tuple[float, float]) -> str:
    interval = f"[{_number(ci[0])}, {_number(ci[1])}]"
    return f'<td class="num" data-value="{value!r}">{_number(value)}<span class="ci">{interval}</span></td>'


def _html_section(section: Section) -> list[str]:
    out = [f"<h3>{_esc(section.title)}</h3>", '<table class="board sortable">',
           "<thead><tr>" + "".join(f"<th>{_esc(c)}</th>" for c in _COLUMNS) + "</tr></thead>", "<tbody>"]
    for i, r in enumerate(section.rows):
        cells = _cells(section, i, r)
        name = _esc(cells[1])
        if r.entry["link"]:
            name = f'<a href="{_esc(r.entry["link"])}">{name}</a>'
        authors = _esc(", ".join(r.entry["authors"]))
        budget = r.entry["budget"]
        out.append(
            f'<tr data-entry="{_esc(r.submission["id"])}">'
            f'<td class="num" data-value="{i + 1 if section.ranked else ""}">{_esc(cells[0])}</td>'
            f'<td class="name" data-value="{_esc(r.entry["name"])}">{name}<span class="authors">{authors}</span></td>'
            f'<td data-value="{_esc(cells[2])}">{_esc(cells[2])}</td>'
            f'<td data-value="{_esc(cells[3])}">{_esc(cells[3])}</td>'
            + _num_cell(r.heldout.mean, r.heldout.mean_ci) + _num_cell(r.heldout.iqm, r.heldout.iqm_ci)
            + _num_cell(r.train.mean, r.train.mean_ci) + _num_cell(r.train.iqm, r.train.iqm_ci)
            + f'<td class="num" data-value="{_esc(cells[8].split("/")[0])}">{_esc(cells[8])}</td>'
            f'<td data-value="{budget["env_steps"]}">{_esc(cells[9])}</td>'
            f'<td data-value="{_esc(cells[10])}">{_esc(cells[10])}</td></tr>')
    return out + ["</tbody></table>"]


def _chart_data(rows: Sequence[Row], task: str) -> dict:
    entries = []
    for r in rows:
        points = [{"variation": name, "split": split, "mean": s.mean, "lo": s.mean_ci[0], "hi": s.mean_ci[1]}
                  for (name, split), s in r.by_variation.items()]
        entries.append({"id": r.submission["id"], "name": r.entry["name"],
                        "ranked": r.submission["full_protocol"], "points": points})
    return {"task": task, "variations": [v.name for v in variations(task)], "entries": entries}


def render_html(board: Sequence[Section], tasks: Sequence[str]) -> str:
    """The board's sections of ``tasks`` as one self-contained HTML page (inline CSS, JS, SVG)."""
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>hebbbench leaderboard</title>", f"<style>{_CSS}</style></head><body>",
           "<h1>hebbbench leaderboard</h1>",
           f'<p class="note">{_esc(_METHOD)} Click a column header to sort.</p>']
    charts = []
    for name in tasks:
        mine = [s for s in board if s.task == name]
        out.append(f'<section class="task" id="task-{name}"><h2>{name}</h2>')
        if mine:
            out += [f'<figure><svg class="chart" id="chart-{name}" role="img" '
                    f'aria-label="{name}: mean episode return per variation with 95% CIs"></svg>',
                    "<figcaption>Mean episode return of each entry on each variation, held out "
                    "(filled) and as a training variation (hollow), with 95% stratified bootstrap "
                    "confidence intervals.</figcaption></figure>"]
            charts.append(_chart_data([r for section in mine for r in section.rows], name))
        else:
            out.append(f'<p class="empty">{_esc(_EMPTY.replace("`", ""))}</p>')
        for section in mine:
            out += _html_section(section)
        out.append("</section>")
    out += ['<section id="paper"><h2>Reported in the paper</h2>',
            f'<p class="note">{_esc(_PAPER_NOTE.replace("*", ""))}</p>']
    for name in tasks:
        table = PAPER_TABLES[name]
        heads = "".join(f"<th>{_esc(c)}{' (held out)' if c == PAPER_HOLDOUT[name] else ''}</th>"
                        for c in table["columns"])
        out += [f"<h3>{name}</h3>", f'<p class="note">{_esc(table["caption"])}</p>',
                f"<table><thead><tr><th>model</th>{heads}</tr></thead><tbody>"]
        out += ["<tr><td>" + _esc(model) + "</td>" + "".join(f'<td class="num">{_esc(v or "-")}</td>' for v in values)
                + "</tr>" for model, values in table["rows"]]
        out.append("</tbody></table>")
    data = json.dumps({"tasks": charts}, sort_keys=True).replace("<", "\\u003c")
    out += ["</section>", f'<script type="application/json" id="board-data">{data}</script>',
            f"<script>{_JS}</script>", "</body></html>", ""]
    return "\n".join(out)
