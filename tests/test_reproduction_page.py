"""The reproduction page's tables are rendered from the board (``hebbbench leaderboard
--paper``): the committed page must equal the command's output, and the rendering must put
each entry beside the paper's row of its family."""

from __future__ import annotations

from pathlib import Path

import pytest

from hebbbench.cli import main
from hebbbench.leaderboard import load_board
from hebbbench.leaderboard.reproduction import BEGIN
from hebbbench.leaderboard.reproduction import block as paper_page
from hebbbench.leaderboard.text import END, replace_block

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_reproduction_page_holds_the_tables_the_board_renders_now():
    page = (ROOT / "docs" / "reproduction.md").read_text(encoding="utf-8")
    block = paper_page(load_board(ROOT / "leaderboard"), ROOT / "leaderboard", ("ant", "car"))
    assert page[page.index(BEGIN):page.index(END) + len(END)] + "\n" == block, \
        "docs/reproduction.md is stale: run `hebbbench leaderboard --paper --write`"


def test_entries_stand_under_the_paper_row_of_their_family_and_others_come_last():
    block = paper_page(load_board(ROOT / "leaderboard"), ROOT / "leaderboard", ("ant",))
    table_one = block.split("post-hoc shared-rule runs")[0]
    lines = [line for line in table_one.splitlines() if line.startswith("| ")]
    names = [line.split(" | ")[0] for line in lines]
    shared = names.index("| paper: Shared (ρ = 128)")
    under = names[shared + 1:names.index("| paper: Shared (ρ = 256)")]
    assert under and all(name.startswith("| hebbbench: ") and "rho = 128" in name for name in under)
    static = names.index("| paper: Static")
    assert all(name.startswith("| hebbbench: Static") for name in names[static + 1:names.index("| paper: LSTM")])
    last_paper_row = max(i for i, name in enumerate(names) if name.startswith("| paper:"))
    trailing = names[last_paper_row + 1:]
    others = trailing[next(i for i, name in enumerate(trailing) if "not in the paper" in name):]
    assert all(name.endswith("not in the paper)") for name in others)
    assert any("PPO" in name for name in others) and any("Random" in name for name in others)
    assert any("rho = 16" in name for name in others)  # a rho the paper did not run


def test_paper_write_replaces_only_the_block_and_refuses_a_page_without_one(tmp_path, capsys):
    board = tmp_path / "leaderboard"
    (board / "submissions").mkdir(parents=True)
    for source in sorted((ROOT / "leaderboard" / "submissions").glob("ant-random*.json")):
        (board / "submissions" / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "reproduction.md"
    page.write_text(f"intro\n\n{BEGIN}\nold\n{END}\n\nprose\n", encoding="utf-8")
    assert main(["leaderboard", "--paper", "--write", "--leaderboard-dir", str(board)]) == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith("intro\n\n" + BEGIN) and text.endswith(END + "\n\nprose\n") and "old" not in text
    assert "Random actions (not in the paper)" in text
    page.write_text("no block here\n", encoding="utf-8")
    assert main(["leaderboard", "--paper", "--write", "--leaderboard-dir", str(board)]) == 2
    assert "has no generated block" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no generated block"):
        replace_block("text", "block", BEGIN)


def _board_with_the_shared_entry(tmp_path, **config_changes):
    """A board holding the committed rho = 128 shared entry, its run's config changed as given."""
    import json
    import shutil

    name = "ant-shared-rules-rho-128-hebbbench-baseline-recipe-32-generation.json"
    board = tmp_path / "leaderboard"
    (board / "submissions").mkdir(parents=True)
    shutil.copyfile(ROOT / "leaderboard" / "submissions" / name, board / "submissions" / name)
    agent = board / "agents" / "ant-shared-baseline-gen32"
    agent.mkdir(parents=True)
    shutil.copyfile(ROOT / "leaderboard" / "agents" / agent.name / "log.jsonl", agent / "log.jsonl")
    config = json.loads((ROOT / "leaderboard" / "agents" / agent.name / "config.json").read_text())
    for key, value in config_changes.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    (agent / "config.json").write_text(json.dumps(config))
    return board


def test_a_posthoc_run_stands_in_the_posthoc_table_with_its_mixture_diagnostics_not_under_the_recipe_row(tmp_path):
    board = _board_with_the_shared_entry(tmp_path, es={"optimizer": "adam", "lr": 1.0, "lr_decay": 0.9931})
    block = paper_page(load_board(board), board, ("ant",))
    main_table, posthoc = block.split("post-hoc shared-rule runs")
    assert "hebbbench: Shared rules" not in main_table
    lines = posthoc.splitlines()
    adam = next(i for i, line in enumerate(lines) if line.startswith("| paper: Adam"))
    assert "555 ± 89" in lines[adam]
    entry = lines[adam + 1]
    assert entry.startswith("| hebbbench: Shared rules \\(rho = 128\\)")
    assert "| 3.1 ± 11.1 [1.1, 5.4] |" in entry  # the entry's default-variation episodes
    assert "4.564 -> 4.564" in entry  # SGD left lambda uniform (log 96 = 4.564)
    assert "| 23x |" in entry  # mean |grad mu| / |grad lambda| over its 32 logged generations


def test_the_recipe_run_stays_under_its_rho_row_and_a_default_only_run_says_so(tmp_path):
    block = paper_page(load_board(_board_with_the_shared_entry(tmp_path)), tmp_path / "leaderboard", ("ant",))
    assert block.split("post-hoc")[1].count("hebbbench:") == 0
    board = _board_with_the_shared_entry(tmp_path / "second", variations=["default"])
    line = next(line for line in paper_page(load_board(board), board, ("ant",)).splitlines()
                if line.startswith("| hebbbench: Shared"))
    assert "(trained on default only)" in line
