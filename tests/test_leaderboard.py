"""Leaderboard statistics, ranking and rendering, on results files built in code
(``helpers.results_dict``: synthetic test data, never put on the real board)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ROOT, submission, write_json

from hebbbench import leaderboard
from hebbbench.envs import variations
from hebbbench.evaluation import stats
from hebbbench.leaderboard.submission import SubmissionError


def test_score_pools_groups_and_brackets_mean_and_iqm():
    groups = [np.arange(100.0), np.arange(100.0) + 50]
    score = leaderboard.score(groups)
    pooled = np.concatenate(groups)
    assert score.mean == pytest.approx(pooled.mean()) and score.iqm == pytest.approx(stats.iqm(pooled))
    assert score.mean_ci[0] < score.mean < score.mean_ci[1]
    assert score.iqm_ci[0] < score.iqm < score.iqm_ci[1]
    assert score.episodes == 200
    assert leaderboard.score(groups) == score  # seeded: same input, same intervals


def test_board_bootstrap_matches_a_naive_per_replicate_loop_up_to_bootstrap_noise():
    rng = np.random.default_rng(1)
    groups = [rng.normal(i, 3.0, 100) for i in range(8)]
    draws = np.random.default_rng(3)
    replicates = [np.concatenate([g[draws.integers(0, g.size, g.size)] for g in groups]) for _ in range(2000)]
    for statistic, aggregate in ((stats.row_mean, stats.mean), (stats.row_iqm, stats.iqm)):
        fast = stats.stratified_bootstrap_ci(groups, statistic, seed=3)
        loop = tuple(np.percentile([aggregate(r) for r in replicates], [2.5, 97.5]))
        assert fast == stats.stratified_bootstrap_ci(groups, statistic, seed=3)
        assert fast == pytest.approx(loop, abs=0.05)  # CI half-width is about 0.35 here


def test_row_separates_held_out_from_train_episodes_over_folds():
    entry = submission("ant", ["default", "long-front"], "two folds")
    row = leaderboard.row(entry)
    test = [v["returns"] for r in entry["results"] for v in r["variations"] if v["split"] == "test"]
    train = [v["returns"] for r in entry["results"] for v in r["variations"] if v["split"] == "train"]
    assert row.heldout.mean == pytest.approx(np.mean(test)) and row.heldout.episodes == 200
    assert row.train.mean == pytest.approx(np.mean(train)) and row.train.episodes == 800
    assert set(row.by_variation) == {(v.name, "train") for v in variations("ant")} | {
        ("default", "test"), ("long-front", "test")}


def test_ranking_groups_by_folds_and_keeps_partial_runs_apart():
    board = [submission("ant", ["long-front"], "low", loc=10.0),
             submission("ant", ["long-front"], "high", loc=50.0),
             submission("ant", [v.name for v in variations("ant")], "all folds", loc=5.0),
             submission("ant", ["long-front"], "short run", episodes=7, loc=90.0)]
    sections = leaderboard.sections(board, "ant")
    titles = [(s.title, s.ranked, [r.entry["name"] for r in s.rows]) for s in sections]
    assert titles == [
        ("Ranked: held out all 5 folds", True, ["all folds"]),
        ("Ranked: held out long-front (the paper's fold)", True, ["high", "low"]),
        ("Not full protocol runs (shown apart, not ranked)", False, ["short run"]),
    ]
    text = leaderboard.render(board, "table", "ant")
    assert "1  high" in text and "2  low" in text and "-  short run" in text


def test_markdown_lists_every_entry_and_cites_the_paper_tables():
    board = [submission("car", ["pushed-right"], "car | entry"), submission("ant", ["long-front"], "ant entry")]
    markdown = leaderboard.render(board, "markdown")
    assert "car \\| entry" in markdown and "| 1 | ant entry (Test Author) | hebbian | long-front |" in markdown
    assert "Tables 1 and 2" in markdown and "1545 ± 30" in markdown and "606 ± 186" in markdown
    assert "10 gen x 20 pop, 30,000 env steps" in markdown


def test_a_budget_without_generations_shows_its_env_steps_and_never_zero_generations_by_zero_population():
    from helpers import META, results_dict

    def entry(name, **budget):
        meta = dict(META, **budget)
        return leaderboard.make_submission([results_dict("ant", "long-front")], name=name,
                                           submitted="2026-11-28T05:00:00+00:00", **meta)

    board = [entry("ppo", generations=0, population=0, env_steps=2_007_040),
             entry("random", generations=0, population=0, env_steps=0),
             entry("es", generations=10, population=20, env_steps=30_000)]
    for fmt in leaderboard.FORMATS:
        shown = leaderboard.render(board, fmt, "ant")
        assert "0 gen x 0 pop" not in shown
        assert "2,007,040 env steps" in shown and "untrained (0 env steps)" in shown
        assert "10 gen x 20 pop, 30,000 env steps" in shown


SANDBOX_CASES = {"no bwrap": "none (bwrap not installed)", "before the field": None,
                 "contained": "pid-namespace+ro-fs+no-net"}


@pytest.fixture
def sandbox_board(tmp_path):
    """A board in ``tmp_path`` made by ``submit`` from results files whose ``agent.sandbox`` says
    bubblewrap was not installed, is absent (results from before the field), or says contained."""
    from helpers import META, results_dict

    from hebbbench.evaluation.results import integrity_hash

    for seed, (name, sandbox) in enumerate(SANDBOX_CASES.items()):
        results = results_dict("ant", "long-front", seed=seed)
        if sandbox is not None:
            results["agent"]["sandbox"] = sandbox
            results["integrity"] = integrity_hash(results)
        path = write_json(tmp_path / f"{seed}.json", results)
        leaderboard.submit([path], dict(META, name=name), directory=tmp_path, submitted="2026-11-28T05:00:00+00:00",
                           new_board=True)
    return tmp_path


SANDBOX_SHOWN = {"no bwrap": "not sandboxed (bwrap not installed)", "before the field": "not recorded",
                 "contained": "sandboxed"}


def test_the_text_table_shows_each_entrys_sandbox_not_sandboxed_with_its_reason_or_not_recorded(sandbox_board,
                                                                                                   capsys):
    from hebbbench.cli import main

    assert main(["leaderboard", "--leaderboard-dir", str(sandbox_board), "--task", "ant"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].endswith("  sandbox")
    for name, shown in SANDBOX_SHOWN.items():
        line = next(line for line in lines if f"  {name}  " in line)
        assert line.endswith(f"  {shown}"), line


def test_the_markdown_board_shows_each_entrys_sandbox_not_sandboxed_with_its_reason_or_not_recorded(sandbox_board):
    lines = (sandbox_board / "README.md").read_text(encoding="utf-8").splitlines()
    assert any(line.endswith("| sandbox |") for line in lines)
    for name, shown in SANDBOX_SHOWN.items():
        line = next(line for line in lines if line.startswith("| ") and f" {name} (Test Author) |" in line)
        escaped = shown.replace("(", "\\(").replace(")", "\\)")  # markdown-escaped: the reason is the entrant's
        assert line.endswith(f"| {escaped} |"), line


def test_the_html_board_shows_each_entrys_sandbox_not_sandboxed_with_its_reason_or_not_recorded(sandbox_board):
    import re

    page = (sandbox_board / "index.html").read_text(encoding="utf-8")
    assert "<th>sandbox</th></tr></thead>" in page
    for name, shown in SANDBOX_SHOWN.items():
        entry_id = "ant-" + name.replace(" ", "-")
        row = re.search(rf'<tr data-entry="{entry_id}">(.*?)</tr>', page).group(1)
        assert row.endswith(f'<td data-value="{shown}">{shown}</td>'), row


def test_an_entry_whose_folds_ran_differently_shows_the_sandbox_of_each_fold():
    from hebbbench.leaderboard.sections import sandbox_label

    entry = submission("ant", ["default", "long-front"], "mixed")
    assert sandbox_label(entry) == "not recorded"
    entry["results"][1]["agent"]["sandbox"] = "pid-namespace+ro-fs+no-net"
    assert sandbox_label(entry) == "default: not recorded; long-front: sandboxed"
    entry["results"][0]["agent"]["sandbox"] = "none (" + "why\n" * 100 + ")"
    shown = sandbox_label(entry).split("; ")[0]
    assert "\n" not in shown and shown.endswith("...)") and len(shown) < 200


def test_empty_board_says_so():
    for fmt in leaderboard.FORMATS:
        assert "No entries yet" in leaderboard.render([], fmt)


def test_load_board_refuses_an_edited_submission_file(tmp_path):
    entry = submission("ant", ["long-front"], "edited")
    entry["results"][0]["variations"][0]["returns"][0] += 1.0
    (tmp_path / "submissions").mkdir()
    write_json(tmp_path / "submissions" / f"{entry['id']}.json", entry)
    with pytest.raises(SubmissionError, match="integrity hash does not match"):
        leaderboard.load_board(tmp_path)


def test_committed_board_is_valid_and_its_rendered_files_are_current():
    directory = ROOT / "leaderboard"
    board = leaderboard.load_board(directory)
    rendered = leaderboard.render_files(board)
    for name, text in rendered.items():
        assert (directory / name).read_text(encoding="utf-8") == text, "run `hebbbench leaderboard --write`"
