"""The bottleneck page (``hebbbench leaderboard --bottleneck``): the board's entries that
declare their number of rules, training and held-out means against it on the paper's folds;
the committed page must equal the command's output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import META, results_dict, write_json

from hebbbench import leaderboard
from hebbbench.cli import main
from hebbbench.leaderboard import load_board
from hebbbench.leaderboard.bottleneck import BEGIN, block, figures, points
from hebbbench.leaderboard.text import END

ROOT = Path(__file__).resolve().parents[1]
HEBBIAN = "ant-hebbian-hebbbench-baseline-recipe-142-generations.json"
SHARED = "ant-shared-rules-rho-128-trained-on-default-only-30-generations.json"
STATIC = "ant-static-hebbbench-baseline-recipe-122-generations.json"
EM = "ant-em-alternation-384-rules-final-generation-142-generations.json"


def test_the_committed_bottleneck_page_holds_the_block_the_board_renders_now():
    page = (ROOT / "docs" / "bottleneck.md").read_text(encoding="utf-8")
    rendered = block(load_board(ROOT / "leaderboard"), ROOT / "leaderboard", ("ant", "car"))
    assert page[page.index(BEGIN):page.index(END) + len(END)] + "\n" == rendered, \
        "docs/bottleneck.md is stale: run `hebbbench leaderboard --bottleneck --write`"


def _board(tmp_path, names):
    """A board holding copies of the committed entries ``names`` and their runs' config.json."""
    board = tmp_path / "leaderboard"
    (board / "submissions").mkdir(parents=True)
    for name in names:
        submission = json.loads((ROOT / "leaderboard" / "submissions" / name).read_text())
        shutil.copyfile(ROOT / "leaderboard" / "submissions" / name, board / "submissions" / name)
        agent = submission["results"][0]["agent"]["path"]
        (tmp_path / agent).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / agent / "config.json", tmp_path / agent / "config.json")
    return board


def test_only_entries_that_declare_rules_take_part_most_rules_first_with_the_board_statistics(tmp_path):
    board = _board(tmp_path, [SHARED, STATIC, HEBBIAN])
    found = points(load_board(board), board, "ant")
    assert [p.rules for p in found] == [12288, 96]  # the static entry declares none
    hebbian, shared = found
    assert not hebbian.default_only and shared.default_only
    heldout = next(v for v in hebbian.submission["results"][0]["variations"] if v["split"] == "test")
    assert hebbian.heldout.mean == pytest.approx(sum(heldout["returns"]) / 100)
    assert hebbian.heldout.mean_ci[0] < hebbian.heldout.mean < hebbian.heldout.mean_ci[1]
    assert hebbian.train.episodes == 400 and hebbian.train.mean > hebbian.heldout.mean
    rendered = block(load_board(board), board, ("ant", "car"))
    rows = [line for line in rendered.splitlines() if line.startswith("| ")][1:]  # under the header
    assert rows[0].startswith("| 12,288 | Hebbian") and "| 354.4 [" in rows[0] and "| 114.0 [" in rows[0]
    assert rows[1].startswith("| 96 | Shared rules") and "(trained on default only)" in rows[1]
    assert "### ant: long-front held out" in rendered and "### car" not in rendered  # the board has no car entry
    assert "trained with the nearest env steps, within 1.25x; runs trained on default only take no part: none on " \
           "the board yet." in rendered  # 96 rules trained on default only: compared with nothing


def test_a_verified_entry_shows_the_verifiers_own_held_out_episodes_beside_the_submitted_ones(tmp_path):
    from hebbbench.leaderboard import records

    board = _board(tmp_path, [HEBBIAN, EM])
    rendered = block(load_board(board), board, ("ant",))
    rows = {line.split(" | ")[1]: line for line in rendered.splitlines() if line.startswith("| 12,288 |")
            or line.startswith("| 384 |")}
    em = json.loads((ROOT / "leaderboard" / "submissions" / EM).read_text())
    measured = records.measured_returns(em)[0]["long-front"]
    cell = rows["EM alternation, 384 rules, final generation, 142 generations"].split(" | ")[6]
    ci, episodes = cell.rsplit(" ", 1)
    value, low, high = (float(x) for x in ci.replace("[", "").replace("]", "").replace(",", "").split())
    assert value == pytest.approx(sum(measured) / len(measured), abs=0.05) and low < value < high
    assert episodes == f"({len(measured)})"
    assert rows["Hebbian, hebbbench baseline recipe, 142 generations"].split(" | ")[6] == "-"  # legacy: not measured


def test_bottleneck_write_draws_a_figure_per_task_with_entries_beside_its_block(tmp_path, capsys):
    """(Replacing only the block, and refusing a page without one, is the same code as --paper's:
    tests/test_reproduction_page.py.)"""
    board = _board(tmp_path, [HEBBIAN, SHARED])
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "bottleneck.md").write_text(f"{BEGIN}\nold\n{END}\n", encoding="utf-8")
    assert main(["leaderboard", "--bottleneck", "--write", "--leaderboard-dir", str(board)]) == 0
    text = (tmp_path / "docs" / "bottleneck.md").read_text(encoding="utf-8")
    assert "old" not in text
    assert "![ant: training and held-out means against distinct rules](bottleneck-ant.png)" in text
    figure = tmp_path / "docs" / "bottleneck-ant.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not (tmp_path / "docs" / "bottleneck-car.png").exists()
    assert set(figures(load_board(board), board, ("ant", "car"))) == {Path("docs") / "bottleneck-ant.png"}
    with pytest.raises(SystemExit):
        main(["leaderboard", "--bottleneck", "--paper", "--leaderboard-dir", str(board)])
    assert "not allowed with argument" in capsys.readouterr().err


def _synthetic_board(tmp_path, entries):
    """A board of synthetic ant entries on the paper's fold: (name, rules, mean return, env steps) each."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    board = tmp_path / "leaderboard"
    for seed, (name, rules, loc, steps) in enumerate(entries):
        results = write_json(tmp_path / f"{seed}.json", results_dict("ant", "long-front", loc=loc, seed=seed))
        leaderboard.submit([results], dict(META, name=name, rules=rules, env_steps=steps), directory=board,
                           submitted="2026-12-03T00:00:00+00:00", new_board=True)
    return board


def _cell(row: str, column: int) -> list[float]:
    """The numbers of a markdown row's cell: a value and its CI."""
    cell = row.strip("|").split(" | ")[column]
    return [float(x) for x in cell.replace("[", "").replace("]", "").replace(",", "").split()]


def test_fewer_rules_are_compared_with_the_per_synapse_entry_of_the_same_budget_with_difference_cis(tmp_path):
    board = _synthetic_board(tmp_path, [("per-synapse", 12288, 100.0, 1_000_000), ("merged", 384, 90.0, 1_100_000),
                                        ("merged cheap", 96, 95.0, 300_000)])  # over 1.25x fewer env steps
    rendered = block(load_board(board), board, ("ant",))
    comparison = rendered.split("against the per-synapse entry (12,288 rules)")[1]
    rows = [line for line in comparison.splitlines() if line.startswith("| merged")]
    assert len(rows) == 1 and rows[0].startswith("| merged | per-synapse | ")
    found = {p.rules: p for p in points(load_board(board), board, "ant")}
    assert rows[0].split(" | ")[2] in ("89%", "90%", "91%")  # training means ~90 and ~100 (400 episodes, std 10)
    value, low, high = _cell(rows[0], 4)
    # held out 10 lower, 100 episodes of std 10 each: the CI excludes 0
    assert value == pytest.approx(found[384].heldout.mean - found[12288].heldout.mean, abs=0.05)
    assert low < value < high < 0 and -15 < low


def test_no_comparison_is_made_without_a_per_synapse_entry_and_no_ratio_against_a_mean_at_or_below_zero(tmp_path):
    board = _synthetic_board(tmp_path, [("shared many", 768, 100.0, 1_000_000), ("shared few", 96, 90.0, 1_000_000)])
    assert "none on the board yet." in block(load_board(board), board, ("ant",))  # 768 is not per-synapse
    board = _synthetic_board(tmp_path / "negative", [("per-synapse", 12288, -50.0, 1_000_000),
                                                     ("merged", 384, 10.0, 1_000_000)])
    row = next(line for line in block(load_board(board), board, ("ant",)).splitlines()
               if line.startswith("| merged | per-synapse"))
    assert row.split(" | ")[2] == "-" and 55 < _cell(row, 3)[0] < 65


def test_bottleneck_prints_its_block_and_refuses_one_task_when_writing(tmp_path, capsys):
    board = _synthetic_board(tmp_path, [("per-synapse", 12288, 100.0, 1_000_000)])
    assert main(["leaderboard", "--bottleneck", "--task", "ant", "--leaderboard-dir", str(board)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(BEGIN) and "| 12,288 | per-synapse | hebbian |" in printed
    assert main(["leaderboard", "--bottleneck", "--task", "ant", "--write", "--leaderboard-dir", str(board)]) == 2
    assert "rewrites the page for every task; leave out --task ant" in capsys.readouterr().err


def test_an_entry_of_five_folds_is_read_from_the_run_of_its_paper_fold(tmp_path):
    from hebbbench.envs import variations
    from hebbbench.evaluation.results import integrity_hash

    paths = []
    for seed, variation in enumerate(variations("ant")):
        results = results_dict("ant", variation.name, seed=seed)
        results["agent"]["path"] = f"agents/{variation.name}"
        results["integrity"] = integrity_hash(results)
        paths.append(write_json(tmp_path / f"{variation.name}.json", results))
        (tmp_path / "agents" / variation.name).mkdir(parents=True)
        trained = ["default"] if variation.name == "long-front" else [v.name for v in variations("ant")
                                                                      if v.name != variation.name]
        (tmp_path / "agents" / variation.name / "config.json").write_text(json.dumps({"variations": trained}))
    board = tmp_path / "leaderboard"
    leaderboard.submit(paths, dict(META, name="all folds", rules=12288), directory=board,
                       submitted="2026-12-03T00:00:00+00:00", new_board=True)
    (only,) = points(load_board(board), board, "ant")
    assert only.default_only  # the long-front fold's run trained on default; the default fold's did not
