"""Leaderboard submissions: a versioned schema around the results files of `hebbbench evaluate`.

A submission is one entry on one task: who made it (name, authors, link, agent family), what
it cost (training budget), and one results file per fold it covers (a fold holds out one
variation; an entry covers one fold or all five). The results files are embedded verbatim,
so their integrity hashes stay checkable.

Validation never stops at the first problem: every check adds a sentence to a list, so a
user sees everything to fix at once (:class:`SubmissionError` carries that list).
The results-file checks follow ``docs/results-format.md``.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from hebbbench.envs import TASKS, env_settings, get_task, variations
from hebbbench.evaluation.protocol import EPISODES as PROTOCOL_EPISODES
from hebbbench.evaluation.protocol import PROTOCOL_VERSION, protocol_seeds
from hebbbench.evaluation.results import FIELDS as RESULTS_FIELDS
from hebbbench.evaluation.results import format_problems, is_int
from hebbbench.leaderboard.records import record_problems

SCHEMA = "hebbbench.submission/1"

_BUDGET_KEYS = ("generations", "population", "env_steps")
#: Largest plausible training budget: far past any run of the paper (its ant: ~1,000 generations
#: of 128, ~10^9 env steps); larger numbers are typos or made up.
_BUDGET_LIMITS = {"generations": 10_000_000, "population": 10_000_000, "env_steps": 10**13}
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PRINTABLE_ASCII = re.compile(r"[ -~]+")
_SUBMISSION_KEYS = {"schema", "id", "submitted", "task", "folds", "full_protocol", "entry", "results", "verification"}
MAX_AUTHORS = 50
#: The longest reason an entry may give for publishing no agent files.
MAX_UNVERIFIABLE_REASON = 300
#: Most distinct learning rules an entry may declare: far past one per synapse of either
#: task's Hebbian network (ant 12,288 synapses, car 91,328); larger numbers are typos.
MAX_RULES = 10**9


class SubmissionError(ValueError):
    """A submission or results file failed validation; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[str], outcome: str = "nothing was written:"):
        self.problems = list(problems)
        self.outcome = outcome
        super().__init__("; ".join(self.problems))

    def __str__(self) -> str:
        count = len(self.problems)
        lines = [f"{count} problem{'s' if count != 1 else ''} found, {self.outcome}"]
        return "\n".join(lines + [f"  - {problem}" for problem in self.problems])


def submission_id(task: str, name: str) -> str:
    """File-name-safe id of an entry: the task, then the entry name in lower-case words."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60].strip("-")
    return f"{task}-{slug}"


def validate_results(results: Any, label: str = "results") -> list[str]:
    """Every problem with one results file, each a sentence starting with ``label``.

    The format's own checks (:func:`hebbbench.evaluation.results.format_problems`: schema, types,
    summaries, integrity hash), then the protocol's: its version, the agent file's sha256,
    the task and held-out variation, every variation of the task present in registry order
    with the right env ID, settings and split, the protocol's seeds and episode count, and
    episode lengths within the task's limit. An empty list means the file is valid.
    """
    problems = format_problems(results, label)
    if not isinstance(results, dict):
        return problems

    def problem(text: str) -> None:
        problems.append(f"{label}: {text}")

    if results.get("protocol_version") != PROTOCOL_VERSION:
        problem(f"protocol_version is {results.get('protocol_version')!r}; this leaderboard "
                f"accepts {PROTOCOL_VERSION!r} (re-run `hebbbench evaluate` with this version)")
    agent = results.get("agent")
    if not (isinstance(agent, dict) and isinstance(agent.get("sha256"), str) and _SHA256.fullmatch(agent["sha256"])):
        problem("agent must be an object with a path and the sha256 hex of the agent file (results "
                "of an in-memory agent factory have none: evaluate an agent file)")
    unknown = sorted(set(results) - RESULTS_FIELDS)
    if unknown:
        problem(f"unknown fields {unknown} (the board stores only the results format's own)")
    episodes = results.get("episodes_per_variation")
    episodes = episodes if is_int(episodes) and episodes >= 1 else None
    if episodes is not None and episodes > PROTOCOL_EPISODES:
        problem(f"episodes_per_variation is {episodes}; the board takes at most the protocol's {PROTOCOL_EPISODES}")
        episodes = None
    task = results.get("task")
    if not _is_task(task):
        problem(f"task is {task!r}; expected one of {', '.join(TASKS)}")
    else:
        problems.extend(_variation_problems(results, task, episodes, label))
    return problems


def _variation_problems(results: dict, task: str, episodes: int | None, label: str) -> list[str]:
    """Problems with the held-out name and the ``variations`` list of a results file."""
    problems: list[str] = []
    registry = variations(task)
    names = [v.name for v in registry]
    holdout = results.get("holdout")
    if holdout not in names:
        problems.append(f"{label}: holdout is {holdout!r}; expected one of {', '.join(names)}")
    listed = results.get("variations")
    if not isinstance(listed, list) or not all(isinstance(v, dict) for v in listed):
        return problems + [f"{label}: variations must be a list of objects"]
    listed_names = [v.get("name") if isinstance(v.get("name"), str) else None for v in listed]
    for name in names:
        if name not in listed_names:
            problems.append(f"{label}: variation {name!r} of task {task!r} is missing")
    for name in listed_names:
        if name not in names:
            problems.append(f"{label}: variation {name!r} is not a variation of task {task!r}")
    duplicated = sorted({n for n in listed_names if listed_names.count(n) > 1}, key=str)
    for name in duplicated:
        problems.append(f"{label}: variation {name!r} is listed more than once")
    present = [n for n in listed_names if n in names]
    if not duplicated and present != [n for n in names if n in present]:
        problems.append(f"{label}: variations are not in registry order ({', '.join(names)})")
    full = episodes == PROTOCOL_EPISODES
    for entry, variation in ((v, r) for v in listed for r in registry if r.name == v.get("name")):
        where = f"{label}: variation {variation.name!r}"
        if entry.get("env_id") != variation.env_id:
            problems.append(f"{where}: env_id is {entry.get('env_id')!r}; expected {variation.env_id!r}")
        if entry.get("env_kwargs") != env_settings(variation):
            problems.append(f"{where}: env_kwargs are {entry.get('env_kwargs')!r}; this protocol's env has "
                            f"{env_settings(variation)!r}")
        split = "test" if variation.name == holdout else "train"
        if holdout in names and entry.get("split") != split:
            problems.append(f"{where}: split is {entry.get('split')!r}; expected {split!r}")
        episode_problems = _episode_problems(entry, task, variation.name, episodes, where)
        problems.extend(episode_problems)
        full = full and not episode_problems
    if isinstance(results.get("full_protocol"), bool) and episodes is not None:
        if results["full_protocol"] and episodes != PROTOCOL_EPISODES:
            problems.append(f"{label}: full_protocol is true but episodes_per_variation is "
                            f"{episodes}, not the protocol's {PROTOCOL_EPISODES}")
        elif not results["full_protocol"] and full and len(present) == len(names):
            problems.append(f"{label}: full_protocol is false for a run with the protocol's "
                            f"{PROTOCOL_EPISODES} episodes and seeds")
    return problems


def _episode_problems(entry: dict, task: str, variation: str, episodes: int | None, where: str) -> list[str]:
    """The protocol's checks of one variation's episodes: its seeds and episode lengths
    (the lists' format and summary are :func:`hebbbench.evaluation.results.format_problems`')."""
    problems: list[str] = []
    seeds, lengths = entry.get("seeds"), entry.get("lengths")
    max_steps = get_task(task).max_episode_steps
    if isinstance(lengths, list) and not all(is_int(n) and 1 <= n <= max_steps for n in lengths):
        problems.append(f"{where}: lengths must be a list of integers in [1, {max_steps}]")
    if episodes is not None and isinstance(seeds, list) and len(seeds) == episodes:
        expected = protocol_seeds(task, variation, episodes)
        if seeds != expected:
            problems.append(f"{where}: seeds are not the protocol's seeds for this variation "
                            f"(expected {_preview(expected)}, got {_preview(seeds)})")
    return problems


def _preview(values: Sequence[int]) -> str:
    head = ", ".join(str(v) for v in values[:3])
    return f"[{head}{', ...' if len(values) > 3 else ''}]"


def _is_task(value: Any) -> bool:
    return isinstance(value, str) and value in TASKS




def make_submission(results: Sequence[dict], *, name: str, authors: Sequence[str], link: str | None,
                    agent_family: str, generations: int, population: int, env_steps: int,
                    submitted: str, unverifiable: str | None = None, rules: int | None = None) -> dict:
    """Wrap results files (one per fold) and the entry's metadata in a submission object.

    Nothing is checked here; :func:`validate_submission` does that. ``submitted`` is an
    ISO 8601 UTC time stamp. Results are stored in fold (registry) order. ``unverifiable``:
    why the entry's agent files are not published (e.g. a 604 MB state kept outside the
    repository, with its sha256), so that the board says why it shows no verification.
    ``rules``: how many distinct learning rules the agent's genome holds (a per-synapse
    Hebbian network: one per synapse; shared rules: M), which the bottleneck page
    (``hebbbench leaderboard --bottleneck``) plots scores against; declared, like the budget.
    """
    task = next((r.get("task") for r in results if isinstance(r, dict)), None)
    ordered = sorted(results, key=fold_index)
    return {
        "schema": SCHEMA,
        "id": submission_id(str(task), name),
        "submitted": submitted,
        "task": task,
        "folds": [r.get("holdout") if isinstance(r, dict) else None for r in ordered],
        "full_protocol": all(isinstance(r, dict) and r.get("full_protocol") is True for r in ordered),
        "entry": {
            "name": name,
            "authors": list(authors),
            "link": link,
            "agent_family": agent_family,
            "budget": {"generations": generations, "population": population, "env_steps": env_steps},
            **({"unverifiable": unverifiable} if unverifiable is not None else {}),
            **({"rules": rules} if rules is not None else {}),
        },
        "results": list(ordered),
        "verification": None,
    }


def fold_index(results: Any) -> int:
    """Position of a results file's held-out variation in the registry (unknown ones last)."""
    if isinstance(results, dict) and _is_task(results.get("task")):
        names = [v.name for v in variations(results["task"])]
        if results.get("holdout") in names:
            return names.index(results["holdout"])
    return len(TASKS) * 100


def validate_submission(submission: Any, labels: Sequence[str] | None = None) -> list[str]:
    """Every problem with a submission: its metadata, each results file, and how they fit.

    ``labels`` names each results file in messages (e.g. the path the user gave), in the
    order of ``submission["results"]``; by default the fold name is used.
    """
    if not isinstance(submission, dict):
        return [f"submission is {type(submission).__name__}, not a JSON object"]
    problems: list[str] = []
    if submission.get("schema") != SCHEMA:
        problems.append(f"submission schema is {submission.get('schema')!r}; expected {SCHEMA!r}")
    unknown = sorted(set(submission) - _SUBMISSION_KEYS)
    if unknown:
        problems.append(f"submission has unknown fields {unknown} (the board stores only its own)")
    problems.extend(_entry_problems(submission.get("entry")))
    results = submission.get("results")
    if not isinstance(results, list) or not results:
        return problems + ["submission holds no results files (one per fold is needed)"]
    if labels is None:
        labels = [f"results for fold {r.get('holdout')!r}" if isinstance(r, dict) else f"results[{i}]"
                  for i, r in enumerate(results)]
    for result, label in zip(results, labels):
        problems.extend(validate_results(result, label))
    dicts = [r for r in results if isinstance(r, dict)]
    tasks = sorted({str(r.get("task")) for r in dicts})
    if len(tasks) > 1:
        problems.append(f"results files are for different tasks ({', '.join(tasks)}); "
                        "an entry covers one task")
    task = submission.get("task")
    if len(tasks) == 1 and task != tasks[0]:
        problems.append(f"submission task is {task!r} but its results are for {tasks[0]!r}")
    holdouts = [r.get("holdout") for r in dicts]
    for fold in sorted({str(h) for h in holdouts if holdouts.count(h) > 1}):
        problems.append(f"fold {fold!r} is covered by more than one results file")
    if submission.get("folds") != holdouts:
        problems.append(f"folds is {submission.get('folds')!r} but the results files hold out {holdouts!r}")
    full = all(r.get("full_protocol") is True for r in dicts)
    if submission.get("full_protocol") is not full:
        problems.append(f"full_protocol is {submission.get('full_protocol')!r} but the results files say {full}")
    entry = submission.get("entry")
    if _is_task(task) and isinstance(entry, dict) and isinstance(entry.get("name"), str):
        expected_id = submission_id(task, entry["name"])
        if submission.get("id") != expected_id:
            problems.append(f"id is {submission.get('id')!r}; expected {expected_id!r}")
    if not problems:  # a record is checked against a valid entry only
        problems.extend(f"entry {submission.get('id')!r}: {p}" for p in record_problems(submission))
    if not isinstance(submission.get("submitted"), str):
        problems.append("submitted time stamp is missing")
    return problems


def _entry_problems(entry: Any) -> list[str]:
    """Problems with the metadata of an entry (name, authors, link, family, budget)."""
    if not isinstance(entry, dict):
        return ["entry metadata is missing"]
    problems = []
    name = entry.get("name")
    if not (isinstance(name, str) and name.strip() and len(name) <= 80 and _PRINTABLE_ASCII.fullmatch(name)
            and re.search(r"[A-Za-z0-9]", name)):
        problems.append(f"entry name {name!r} must be 1 to 80 printable ASCII characters, at least one a letter "
                        "or digit (names that only look alike, in other alphabets, would become separate, "
                        "identical-looking rows; authors may use any script)")
    authors = entry.get("authors")
    if not (isinstance(authors, list) and 0 < len(authors) <= MAX_AUTHORS
            and all(isinstance(a, str) and a.strip() and len(a) <= 200 for a in authors)):
        problems.append(f"authors must be a non-empty list of at most {MAX_AUTHORS} names, each at most 200 characters")
    unknown = sorted(set(entry) - {"name", "authors", "link", "agent_family", "budget", "unverifiable", "rules"})
    if unknown:
        problems.append(f"entry has unknown fields {unknown}")
    reason = entry.get("unverifiable")
    if "unverifiable" in entry and not (isinstance(reason, str) and reason.strip()
                                        and len(reason) <= MAX_UNVERIFIABLE_REASON
                                        and _PRINTABLE_ASCII.fullmatch(reason)):
        problems.append(f"unverifiable must say why in 1 to {MAX_UNVERIFIABLE_REASON} printable ASCII characters "
                        f"(or be left out), got {reason!r}")
    if "rules" in entry and not (is_int(entry["rules"]) and 1 <= entry["rules"] <= MAX_RULES):
        problems.append(f"rules is {entry['rules']!r}; expected the number of distinct learning rules, an integer "
                        f"in [1, {MAX_RULES:,}] (or left out)")
    link = entry.get("link")
    if link is not None and not (isinstance(link, str) and re.fullmatch(r"https?://[^\s()<>|\[\]\"'`\\]+", link)):
        problems.append(f"link {link!r} must be an http:// or https:// address (or left out)")
    family = entry.get("agent_family")
    if not (isinstance(family, str) and family.strip() and len(family) <= 40):
        problems.append(f"agent family {family!r} must be 1 to 40 characters (e.g. hebbian, static, lstm)")
    budget = entry.get("budget")
    if not isinstance(budget, dict):
        return problems + ["training budget (generations, population, env_steps) is missing"]
    for key in _BUDGET_KEYS:
        if not (is_int(budget.get(key)) and 0 <= budget[key] <= _BUDGET_LIMITS[key]):
            problems.append(f"training budget {key} is {budget.get(key)!r}; expected an integer in "
                            f"[0, {_BUDGET_LIMITS[key]:,}]")
    if not problems and budget["generations"] * budget["population"] > budget["env_steps"]:
        problems.append(f"training budget env_steps is {budget['env_steps']:,}; {budget['generations']} generations "
                        f"of {budget['population']} individuals take at least one step each, so it must be in "
                        f"[{budget['generations'] * budget['population']:,}, {_BUDGET_LIMITS['env_steps']:,}]")
    return problems
