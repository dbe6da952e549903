"""The board folder: load, lock, submit, verify and re-render (see the package docstring)."""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from hebbbench.envs import TASKS
from hebbbench.evaluation.episodes import AGENT_LOAD_TIMEOUT
from hebbbench.evaluation.protocol import check_load_timeout
from hebbbench.evaluation.results import returns_sha256
from hebbbench.leaderboard import records
from hebbbench.leaderboard.html import render_html
from hebbbench.leaderboard.sections import sections
from hebbbench.leaderboard.submission import SubmissionError, fold_index, make_submission, validate_submission
from hebbbench.leaderboard.text import render_markdown, render_table
from hebbbench.system.checks import int_at_least
from hebbbench.system.files import write_atomic, write_text_atomic
from hebbbench.version import __version__

DEFAULT_DIR = Path("leaderboard")
#: A protocol run's results file is about 60 kB; anything past this is refused unread.
MAX_RESULTS_BYTES = 2_000_000
FORMATS = ("table", "markdown", "html")
#: The secret source of verify's seeds and replay windows: the operating system's (os.urandom).
SECRET = secrets.SystemRandom()


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
        except (OSError, ValueError, RecursionError) as error:
            problems.append(f"{path}: cannot be read as JSON ({type(error).__name__}: {str(error)[:200]})")
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
            size = Path(path).stat().st_size
            if size > MAX_RESULTS_BYTES:
                problems.append(f"{path}: {size:,} bytes is far more than a results file of the protocol holds "
                                f"(at most {MAX_RESULTS_BYTES:,})")
                continue
            parsed.append(json.loads(Path(path).read_text(encoding="utf-8")))
        except FileNotFoundError:
            problems.append(f"{path}: no such file")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{path}: cannot be read ({error})")
        except ValueError as error:
            problems.append(f"{path}: not valid JSON ({error})")
        except RecursionError:
            problems.append(f"{path}: not a results file (its JSON is nested far too deeply)")
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
    """Problems where a submission repeats an entry name or results already on the board.

    Results are compared by content (:func:`hebbbench.evaluation.results.returns_sha256`: the task, fold and
    every variation's returns), so a copy with another time stamp or wall time is still a copy."""
    problems = []
    for other in board:
        if other["id"] == submission["id"]:
            problems.append(f"an entry named {other['entry']['name']!r} for task {other['task']!r} is "
                            f"already on the board ({other['id']}); choose another --name")
    on_board = {returns_sha256(r): (other["id"], r["holdout"]) for other in board for r in other["results"]}
    for label, result in zip(labels, results):
        found = on_board.get(returns_sha256(result)) if isinstance(result, dict) else None
        if found:
            problems.append(f"{label}: these returns are already on the board (entry {found[0]!r}, fold {found[1]!r}): "
                            "the same episodes, whatever other fields (created, wall_time_s, ...) say; an entry "
                            "is submitted once")
    return problems


def verify(entry_id: str, agents: Sequence[Path | str], *, episodes: int = 5, fresh_episodes: int = 20,
           directory: Path | str = DEFAULT_DIR, workers: int | None = None, verified_at: str,
           progress: bool = False, load_timeout: float = AGENT_LOAD_TIMEOUT) -> dict:
    """Measure a board entry's agent on secret seeds and record how far its claim holds.

    For each fold, the agent files (among ``agents``) whose sha256 its results record are
    run with :func:`hebbbench.evaluate`, with the options and arithmetic they were evaluated
    with, on every variation:

    * **measurement**: ``fresh_episodes`` consecutive seeds whose first is drawn at verify
      time from the operating system's secret source (:mod:`secrets`), in
      [:data:`~.records.SECRET_SEED_LOW`, :data:`~.records.SECRET_SEED_HIGH`): nobody can
      know them before the run. The board ranks the entry by these returns;
    * **exact replay** (portable arithmetic only; native is not replayable): ``episodes``
      consecutive submitted seeds, the window placed at random from the same secret source;
      returns must equal the submitted ones bit for bit, and lengths too.

    The level (:func:`.records.judge`): ``failed`` on any replay mismatch or any variation
    whose submitted mean lies outside what the measurement allows; else ``exact`` if every
    fold was replayed, else ``statistical``. The record (``docs/results-format.md``) keeps
    every seed, return and length measured, so that every load recomputes its level; it is
    written, failures included, and the board re-rendered. Agent files that cannot be
    matched or run raise :class:`SubmissionError` and change nothing. ``progress``: say on
    stderr what runs, with evaluate's progress bars. ``load_timeout``: seconds each worker
    may take to import the agent and run ``make_agent``, as evaluate's (``--load-timeout``),
    checked before anything runs: an agent that hangs at import fails in seconds, not 10 minutes.
    """
    int_at_least("episodes", episodes, 1)
    int_at_least("fresh_episodes", fresh_episodes, 2)
    load_timeout = check_load_timeout(load_timeout)
    directory = Path(directory)
    submission = _entry(load_board(directory), entry_id, directory)
    folds = _measure_folds(submission, _agents_by_sha256(agents), episodes, fresh_episodes, workers, progress,
                           load_timeout)
    level, problems = records.judge(submission, folds)
    record = {"schema": records.SCHEMA, "level": level, "false_alarm_rate": records.FALSE_ALARM_RATE,
              "problems": problems[:20], "package_version": __version__, "verified": verified_at, "folds": folds}
    _record_verification(directory, entry_id, submission, record)
    return record


def _measure_folds(submission: dict, by_sha: Mapping[str, str], episodes: int, fresh_episodes: int,
                   workers: int | None, progress: bool, load_timeout: float) -> list[dict]:
    """Each fold's record (:func:`_measure_fold`), its agent found in ``by_sha`` by the sha256
    its results record; :class:`SubmissionError` listing every fold that could not be matched or run."""
    refused, folds = [], []
    for results in submission["results"]:
        agent = by_sha.get(results["agent"]["sha256"])
        if agent is None:
            refused.append(f"fold {results['holdout']!r}: no --agent file has the sha256 its results record "
                           f"({results['agent']['sha256'][:12]}..., evaluated as {results['agent']['path']!r}): "
                           "the agent's files changed since it was evaluated (for a directory, any file in it "
                           "counts: more training, a plot or results file written there); pass the files as "
                           "they were evaluated, or evaluate and submit again")
            continue
        try:
            folds.append(_measure_fold(results, agent, episodes, fresh_episodes, workers, progress, load_timeout))
        except RuntimeError as error:
            refused.append(f"fold {results['holdout']!r}: re-running the agent failed: {error}")
    if refused:
        raise SubmissionError(refused, "nothing was recorded:")
    return folds


def _record_verification(directory: Path, entry_id: str, submission: dict, record: dict) -> None:
    """Store ``record`` as the entry's verification and re-render the board, if the entry is
    still on it unchanged (``ValueError`` otherwise)."""
    with board_lock(directory):  # the board as it is now: others may have changed it meanwhile
        board = load_board(directory)
        if submission not in board:
            raise ValueError(f"entry {entry_id!r} changed or left the board in {directory} while it was being "
                             "verified; run verify again")
        updated = dict(submission, verification=record)
        _store(directory, updated, [updated if s == submission else s for s in board])


def _agents_by_sha256(agents: Sequence[Path | str]) -> dict[str, str]:
    """The agent paths given to verify, by the sha256 results record (``ValueError`` for a missing one)."""
    from hebbbench.evaluation.agent_file import agent_sha256

    by_sha = {}
    for path in agents:
        if not Path(path).exists():
            raise ValueError(f"agent {str(path)!r} does not exist")
        by_sha[agent_sha256(path)] = str(path)
    return by_sha


def _measure_fold(results: dict, agent: str, episodes: int, fresh_episodes: int, workers: int | None,
                  progress: bool, load_timeout: float) -> dict:
    """One fold's record: the agent run on secret seeds, and (portable arithmetic) a replay of a
    secretly placed window of the submitted seeds. ``RuntimeError`` if the agent fails."""
    from hebbbench.evaluation.agent_file import AgentError
    from hebbbench.evaluation.episodes import EvaluationError
    from hebbbench.evaluation.protocol import evaluate

    fold, arithmetic = results["holdout"], results["agent"].get("arithmetic", "native")
    as_evaluated = dict(task=results["task"], holdout=fold, workers=workers, progress=progress,
                        agent_options=results["agent"].get("options"), arithmetic=arithmetic,
                        load_timeout=load_timeout)
    first = SECRET.randrange(records.SECRET_SEED_LOW, records.SECRET_SEED_HIGH)
    submitted = results["variations"][0]["seeds"]
    count = min(episodes, len(submitted))
    start = SECRET.randrange(len(submitted) - count + 1)
    try:
        if arithmetic == "portable":
            _say(progress, f"fold {fold}: replaying {count} submitted seeds from {submitted[start]} (portable "
                           "arithmetic: must match bit for bit)")
            replay = _episodes(evaluate(agent, episodes=count, seed=submitted[start], **as_evaluated))
        else:
            _say(progress, f"fold {fold}: native arithmetic, not replayable: no exact replay")
            replay = None
        _say(progress, f"fold {fold}: measuring {fresh_episodes} secret seeds per variation")
        measured = _episodes(evaluate(agent, episodes=fresh_episodes, seed=first, **as_evaluated))
    except (AgentError, EvaluationError) as error:
        raise RuntimeError(str(error)) from None
    return {"fold": fold, "agent_sha256": results["agent"]["sha256"], "arithmetic": arithmetic,
            "replay": replay, "measured": measured}


def _episodes(run: Any) -> dict:
    """A :class:`~hebbbench.evaluation.results.Results`' seeds, and its returns and lengths per variation."""
    return {"seeds": list(run.variations[0].seeds),
            "returns": {v.name: list(v.returns) for v in run.variations},
            "lengths": {v.name: list(v.lengths) for v in run.variations}}


def _say(show: bool, text: str) -> None:
    """One progress line on stderr, when ``show``."""
    if show:
        print(text, file=sys.stderr, flush=True)


def _entry(board: Sequence[dict], entry_id: str, directory: Path) -> dict:
    matches = [s for s in board if s["id"] == entry_id]
    if not matches:
        known = ", ".join(s["id"] for s in board) or "none"
        raise ValueError(f"no entry {entry_id!r} on the board in {directory}; entries: {known}")
    return matches[0]


def write_board(directory: Path | str = DEFAULT_DIR) -> None:
    """Re-render README.md and index.html of the board from its submissions."""
    directory = Path(directory)
    check_board(directory)
    with board_lock(directory):
        _write_rendered(directory, render_files(load_board(directory)))


def _store(directory: Path, submission: dict, board: Sequence[dict]) -> Path:
    """Write ``submission``'s file, then re-render the board (``board``: every submission,
    this one included). Rendering comes first, so a failure there writes nothing; if the
    pages cannot be written (a full disk), the submission file is put back as it was, so
    the board never holds an entry its pages do not show and the command can be re-run."""
    rendered = render_files(board)
    path = directory / "submissions" / f"{submission['id']}.json"
    before = path.read_bytes() if path.exists() else None
    _write_atomic(path, json.dumps(submission, indent=1) + "\n")
    try:
        _write_rendered(directory, rendered)
    except OSError:
        if before is None:
            path.unlink()
        else:
            write_atomic(path, lambda handle: handle.write(before))
        raise
    return path


def _write_rendered(directory: Path, rendered: Mapping[str, str]) -> None:
    """Write the board's rendered files (README.md, index.html) into ``directory``."""
    for name, text in rendered.items():
        _write_atomic(directory / name, text)


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, creating its folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)



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
