"""Verification records that check themselves (``hebbbench.verification/2``).

``hebbbench verify`` measures an entry: it re-runs the agent on seeds it draws in secret and
replays a randomly placed window of the submitted seeds. Its record keeps everything it
measured, per fold and variation: the seeds, returns and lengths, and the agent files'
sha256. The level a record states (exact, statistical, failed) is therefore a function of
the record and the entry, and :func:`record_problems` recomputes it on every load: a record
typed by hand, or edited, whose numbers do not support its level is refused with the entry
and the inconsistency named. What a consistent hand-made record could still fake, and how a
re-run exposes it, is in ``docs/results-format.md``.

Records written by hebbbench 0.4.1 and older (no ``schema``) replayed submitted seeds only
and kept no returns; they cannot be checked, so only the ones committed when this format
came (:data:`LEGACY_RECORDS`) are accepted, shown as legacy and ranked by the claim.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping, Sequence

from hebbbench.envs import get_task, variations
from hebbbench.evaluation import stats
from hebbbench.evaluation.results import canonical_json, is_int, is_number

SCHEMA = "hebbbench.verification/2"
#: Verification levels, strongest first (``failed``: the record keeps why).
LEVELS = ("exact", "statistical", "failed")
#: The nominal chance that an honest entry fails the statistical check, all its comparisons
#: together (Bonferroni); the rate measured on real, skewed returns is in docs/results-format.md.
FALSE_ALARM_RATE = 0.001
#: The verifier's secret seeds: a block of consecutive seeds whose first is drawn uniformly
#: from [SECRET_SEED_LOW, SECRET_SEED_HIGH): far from the protocol's and training seeds.
SECRET_SEED_LOW, SECRET_SEED_HIGH = 10_000_000, 2**31 - 10_000
#: The sha256 (:func:`legacy_key`) of every record the old verify wrote, as committed.
LEGACY_RECORDS = frozenset({
    # ant-hebbian-hebbbench-baseline-recipe-116-generations
    "8fe60f2d14f700dab0766a765d1f02ec83cb60c370c9ac028dd8fe399c9745d5",
    # ant-hebbian-hebbbench-baseline-recipe-142-generations
    "368c904003c3a25c049626fff97447ce54b1ee3699e66c3fa9371aee1d77be95",
    # ant-hebbian-hebbbench-baseline-recipe-58-generations
    "0dc581653576b7bf6027dc44afd6d52ca071e48afaa78c23d6ec0b0e4a4c7143",
    # ant-ppo-stable-baselines3-2m-steps
    "060d3ddfaaabd0a489c54ab5eda9cc3ddb0f3d5184fb4d1a63917aca3aa8472c",
    # ant-random-actions
    "1f06ddb70b270b73f2e92a9f1e2d416aca672916cf4a71ab61168f0fc9dae7c0",
    # ant-shared-rules-rho-128-hebbbench-baseline-recipe-32-generation
    "08a7b21d2e56ce5eacbf8d61147a18b4f5ab1bf30464c2fee641668b20d16010",
    # ant-static-10-generations
    "cdfd89e51fdd53202195e8edd04a5481a2edb2e9ff876b95ee7713ae5e467aff",
    # ant-static-hebbbench-baseline-recipe-103-generations
    "6cdb3a5a2d0f4d6305b20f8dc8bd1f2133431cfc78342987550885549f8e2110",
    # ant-static-hebbbench-baseline-recipe-122-generations
    "5e646a5149562561f41b2be5232ebb45a4c0bf00e94a0d301c1812f9f9588192",
    # ant-static-hebbbench-baseline-recipe-68-generations
    "d6b7a7228226fa54b0fe78641ace9b34c37ae84acc28621c2c5bef2131f22c2b",
    # car-hebbian-hebbbench-baseline-recipe-191-generations
    "d4a81f923e28c26d627456260ffab603687136b216c0d9ce0b7263da4cabfa71",
    # car-random-actions
    "3b31d1aac23f3997b6a5735ab061abf528fa4edfd42c0fa05cedb83179bc1a9e",
    # car-static-hebbbench-baseline-recipe-157-generations
    "a6a8a7229d2b7984ea84de8a963145f4a36900c9b3301e22553da9dcb923acb0",
    # car-static-hebbbench-baseline-recipe-168-generations
    "8e19de7da68c6126882b3db83c87b4161baeb3d2f1aab806934f71bfea8a9461",
})


def legacy_key(submission: Mapping[str, Any]) -> str:
    """sha256 of a legacy record together with the entry it belongs to (its id and results'
    integrity hashes), so that a committed legacy record cannot be moved to another entry."""
    body = {"id": submission.get("id"), "verification": submission.get("verification"),
            "integrity": [r.get("integrity") for r in submission.get("results", []) if isinstance(r, dict)]}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def is_measured(submission: Mapping[str, Any]) -> bool:
    """Whether ``submission`` carries a record of this format (the verifier's own numbers)."""
    record = submission.get("verification")
    return isinstance(record, dict) and record.get("schema") == SCHEMA


def measured_returns(submission: Mapping[str, Any]) -> list[dict[str, list[float]]]:
    """Per fold (in the entry's order), the verifier's returns per variation name."""
    return [fold["measured"]["returns"] for fold in submission["verification"]["folds"]]


def tests_of(submission: Mapping[str, Any]) -> int:
    """How many (fold, variation) comparisons the statistical check makes: the Bonferroni divisor."""
    return sum(len(r["variations"]) for r in submission["results"])


def judge(submission: Mapping[str, Any], folds: Sequence[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """The level that the measured ``folds`` (records' fold objects, in the entry's fold order)
    give ``submission``, and the problems behind it: a pure function, rerun on every load.

    ``failed`` if any portable fold's replay differs from the submitted returns (bit for bit,
    and lengths), or if any variation's submitted mean lies outside
    :func:`hebbbench.evaluation.stats.mean_tolerance` of the verifier's mean (level
    :data:`FALSE_ALARM_RATE` over all comparisons); else ``exact`` if every fold was
    replayable (portable arithmetic), else ``statistical``.
    """
    alpha = FALSE_ALARM_RATE / tests_of(submission)
    mismatches, disagreements = [], []
    for results, fold in zip(submission["results"], folds):
        name = results["holdout"]
        for variation in results["variations"]:
            if fold["replay"] is not None:
                mismatches.extend(_replay_mismatches(name, variation, fold["replay"]))
            measured = fold["measured"]["returns"][variation["name"]]
            claimed = stats.mean(variation["returns"])
            gap, tolerance = abs(claimed - stats.mean(measured)), _tolerance(measured, variation["returns"], alpha)
            if gap > tolerance:
                disagreements.append(
                    f"fold {name!r}, variation {variation['name']!r}: the submitted mean {claimed:.6g} lies "
                    f"{gap:.4g} from the verifier's mean {stats.mean(measured):.6g} over {len(measured)} secret "
                    f"seeds; at most {tolerance:.4g} is allowed (false-alarm rate {alpha:.2g} per comparison)")
    if mismatches or disagreements:
        return "failed", mismatches + disagreements
    return ("exact" if all(fold["replay"] is not None for fold in folds) else "statistical"), []


def _tolerance(measured: Sequence[float], submitted: Sequence[float], alpha: float) -> float:
    """:func:`hebbbench.evaluation.stats.mean_tolerance`, plus float noise: a constant return is no failure.
    (One submitted episode has no spread: the measured one stands for both.)"""
    noise = 1e-9 * (1 + abs(stats.mean(measured)))
    return stats.mean_tolerance(measured, submitted if len(submitted) >= 2 else measured, alpha) + noise


def _replay_mismatches(fold: str, variation: Mapping[str, Any], replay: Mapping[str, Any]) -> list[str]:
    """Sentences naming each replayed episode whose return or length differs from the submitted one."""
    where = {seed: i for i, seed in enumerate(variation["seeds"])}
    again_returns, again_lengths = replay["returns"][variation["name"]], replay["lengths"][variation["name"]]
    found = []
    for seed, again, length in zip(replay["seeds"], again_returns, again_lengths):
        submitted, steps = variation["returns"][where[seed]], variation["lengths"][where[seed]]
        if again != submitted or length != steps:
            found.append(f"fold {fold!r}, variation {variation['name']!r}, seed {seed}: submitted return "
                         f"{submitted!r} in {steps} steps, the replay gives {again!r} in {length} steps")
    return found


def record_problems(submission: Mapping[str, Any]) -> list[str]:
    """Why ``submission``'s verification record cannot be shown (empty: it can, or there is none).

    A record of this format must be complete and well formed (:func:`_shape_problems`), and
    the level recomputed from its numbers (:func:`judge`) must be the level it states. A
    record without ``schema`` is accepted only if it is one of :data:`LEGACY_RECORDS`.
    """
    record = submission.get("verification")
    if record is None:
        return []
    fix = ("set \"verification\" to null and run `hebbbench verify` again (records are written by verify "
           "only, never by hand)")
    if not isinstance(record, dict):
        return [f"verification is {type(record).__name__}, not null or a record; {fix}"]
    if record.get("schema") != SCHEMA:
        if legacy_key(submission) in LEGACY_RECORDS:
            return []
        return [f"verification is not a record `hebbbench verify` wrote (schema {record.get('schema')!r}, expected "
                f"{SCHEMA!r}, and not one of the legacy records committed before it); {fix}"]
    problems = _shape_problems(submission, record)
    if problems:
        return [f"verification record is inconsistent: {p}; {fix}" for p in problems[:5]]
    level, _ = judge(submission, record["folds"])
    if record["level"] != level:
        return [f"verification record is inconsistent: it says {record['level']!r} but its own measurements "
                f"give {level!r}; {fix}"]
    return []


def _shape_problems(submission: Mapping[str, Any], record: Mapping[str, Any]) -> list[str]:
    """Problems with a record's fields: every fold and variation present, seeds where they belong."""
    problems = []
    if record.get("level") not in LEVELS:
        problems.append(f"level is {record.get('level')!r}; expected one of {', '.join(LEVELS)}")
    if record.get("false_alarm_rate") != FALSE_ALARM_RATE:
        problems.append(f"false_alarm_rate is {record.get('false_alarm_rate')!r}; verify uses {FALSE_ALARM_RATE}")
    for key in ("verified", "package_version"):
        if not isinstance(record.get(key), str):
            problems.append(f"{key} is missing")
    folds = record.get("folds")
    results = submission.get("results", [])
    if not (isinstance(folds, list) and len(folds) == len(results) and all(isinstance(f, dict) for f in folds)):
        return problems + [f"folds must list one object per results file ({len(results)})"]
    for fold, result in zip(folds, results):
        problems.extend(_fold_problems(fold, result))
    return problems


def _fold_problems(fold: Mapping[str, Any], results: Mapping[str, Any]) -> list[str]:
    """Problems with one fold's measurements against that fold's (valid) results file."""
    name = results["holdout"]
    if fold.get("fold") != name:
        return [f"fold {fold.get('fold')!r} stands where fold {name!r} is"]
    problems = []
    if fold.get("agent_sha256") != results["agent"]["sha256"]:
        problems.append(f"fold {name!r}: agent_sha256 is not the sha256 the results record")
    arithmetic = results["agent"].get("arithmetic", "native")
    if fold.get("arithmetic") != arithmetic:
        problems.append(f"fold {name!r}: arithmetic is {fold.get('arithmetic')!r}; the results say {arithmetic!r}")
    names = [v.name for v in variations(results["task"])]
    max_steps = get_task(results["task"]).max_episode_steps
    measured = fold.get("measured")
    problems.extend(f"fold {name!r}, measured: {p}" for p in _episodes_problems(measured, names, max_steps, 2))
    if not problems:
        seeds = measured["seeds"]
        if seeds != list(range(seeds[0], seeds[0] + len(seeds))) or not SECRET_SEED_LOW <= seeds[0] < SECRET_SEED_HIGH:
            problems.append(f"fold {name!r}: measured seeds must be consecutive, from a first seed in "
                            f"[{SECRET_SEED_LOW}, {SECRET_SEED_HIGH})")
    replay = fold.get("replay")
    if arithmetic != "portable":
        if replay is not None:
            problems.append(f"fold {name!r}: a replay is recorded for native arithmetic, which is not replayable")
        return problems
    replay_problems = _episodes_problems(replay, names, max_steps, 1)
    problems.extend(f"fold {name!r}, replay: {p}" for p in replay_problems)
    if not replay_problems and not set(replay["seeds"]) <= set(results["variations"][0]["seeds"]):
        problems.append(f"fold {name!r}: replayed seeds are not among the submitted seeds")
    return problems


def _episodes_problems(episodes: Any, names: Sequence[str], max_steps: int, least: int) -> list[str]:
    """Problems with ``{"seeds": [...], "returns": {variation: [...]}, "lengths": {...}}``."""
    if not isinstance(episodes, dict):
        return ["missing (an object of seeds, returns and lengths)"]
    seeds = episodes.get("seeds")
    if not (isinstance(seeds, list) and len(seeds) >= least and all(is_int(s) and s >= 0 for s in seeds)
            and len(set(seeds)) == len(seeds)):
        return [f"seeds must be a list of at least {least} distinct non-negative integers"]
    problems = []
    for key, check in (("returns", is_number), ("lengths", lambda n: is_int(n) and 1 <= n <= max_steps)):
        per = episodes.get(key)
        if not (isinstance(per, dict) and sorted(per) == sorted(names)):
            problems.append(f"{key} must hold one list per variation ({', '.join(names)})")
            continue
        for variation, values in per.items():
            if not (isinstance(values, list) and len(values) == len(seeds) and all(check(v) for v in values)):
                problems.append(f"{key} of {variation!r} must be {len(seeds)} valid values (one per seed)")
    return problems


def summary_lines(entry_id: str, record: Mapping[str, Any]) -> list[str]:
    """What verify measured, for its output: the level, each fold's seeds and agreement, the problems."""
    rate = f"nominal false-alarm rate {record['false_alarm_rate']:.1%} for an honest entry"
    lines = [f"{entry_id}: {record['level']} ({rate})"]
    for fold in record["folds"]:
        measured, replay = fold["measured"], fold["replay"]
        means = ", ".join(f"{name} {stats.mean(values):.1f}" for name, values in measured["returns"].items())
        replayed = (f"replayed submitted seeds {replay['seeds'][0]}-{replay['seeds'][-1]}" if replay is not None
                    else "native arithmetic: not replayable")
        lines.append(f"  fold {fold['fold']}: {replayed}; measured {len(measured['seeds'])} secret seeds "
                     f"{measured['seeds'][0]}-{measured['seeds'][-1]} per variation, means {means}")
    return lines + [f"  - {problem}" for problem in record["problems"]]
