"""`hebbbench submit`: what it accepts, every rejection, and a refused board left byte-for-byte alone."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import META, results_dict, snapshot, write_json

from hebbbench import leaderboard
from hebbbench.envs import variations
from hebbbench.evaluation.results import integrity_hash
from hebbbench.leaderboard.submission import SubmissionError, validate_submission

NOW = "2026-11-28T06:00:00+00:00"


@pytest.fixture
def board(tmp_path):
    """A board folder already holding one entry, and the folder for new results files."""
    directory = tmp_path / "board"
    first = write_json(tmp_path / "first.json", results_dict("ant", "long-front", seed=1))
    leaderboard.submit([first], dict(META, name="first"), directory=directory, submitted=NOW, new_board=True)
    return directory


def test_a_folder_that_is_not_a_board_is_refused_unless_a_new_board_is_asked_for(tmp_path):
    results = write_json(tmp_path / "r.json", results_dict("ant", "long-front", seed=2))
    elsewhere = tmp_path / "not-a-board"
    with pytest.raises(ValueError, match="is not a leaderboard folder"):
        leaderboard.submit([results], dict(META, name="x"), directory=elsewhere, submitted=NOW)
    assert not elsewhere.exists()
    with pytest.raises(ValueError, match="is not a leaderboard folder"):
        leaderboard.load_board(elsewhere)
    with pytest.raises(ValueError, match="is not a leaderboard folder"):
        leaderboard.write_board(elsewhere)
    assert not elsewhere.exists()
    listed = subprocess.run([sys.executable, "-m", "hebbbench.cli", "leaderboard", "--leaderboard-dir",
                             str(elsewhere)], capture_output=True, text=True)
    assert listed.returncode == 2 and "is not a leaderboard folder" in listed.stderr
    leaderboard.submit([results], dict(META, name="x"), directory=elsewhere, submitted=NOW, new_board=True)
    assert (elsewhere / "submissions" / "ant-x.json").is_file()


def rehashed(results: dict) -> dict:
    """``results`` with its integrity hash recomputed, so only the deliberate problem remains."""
    results["integrity"] = integrity_hash(results)
    return results


def test_a_valid_entry_is_stored_and_rendered(board, tmp_path):
    paths = [write_json(tmp_path / f"{v.name}.json", results_dict("car", v.name, seed=i))
             for i, v in enumerate(variations("car"))]
    path = leaderboard.submit(paths[::-1], dict(META, name="Car: all folds!", link="https://example.org/x"),
                              directory=board, submitted=NOW)
    assert path == board / "submissions" / "car-car-all-folds.json"
    stored = json.loads(path.read_text())
    assert validate_submission(stored) == []
    assert stored["folds"] == [v.name for v in variations("car")] and stored["full_protocol"] is True
    assert stored["entry"]["budget"] == {"generations": 10, "population": 20, "env_steps": 30000}
    for name in ("README.md", "index.html"):
        text = (board / name).read_text()
        assert "Car: all folds!" in text and "first" in text
    assert not list(board.rglob("*.tmp"))


def _bad_schema(r):
    r["schema"] = "hebbbench.results/0"
    return rehashed(r)


def _wrong_protocol(r):
    r["protocol_version"] = "hebbbench-protocol/0"
    return rehashed(r)


def _missing_variation(r):
    r["variations"] = [v for v in r["variations"] if v["name"] != "damage-left"]
    return rehashed(r)


def _altered_returns(r):
    r["variations"][4]["returns"][17] += 250.0
    return r


def _altered_returns_rehashed(r):
    r["variations"][4]["returns"][17] += 250.0
    return rehashed(r)


def _not_protocol_seeds(r):
    for v in r["variations"]:
        v["seeds"] = list(range(100))
    return rehashed(r)


def _claims_full_protocol(r):
    for v in r["variations"]:
        v["seeds"], v["returns"], v["lengths"] = v["seeds"][:50], v["returns"][:50], v["lengths"][:50]
    r["episodes_per_variation"] = 50
    return r


def _nan_return(r):
    r["variations"][0]["returns"][0] = float("nan")
    return r


def _huge_return(r):
    r["variations"][0]["returns"][0] = 10**400  # valid JSON, no float can hold it
    return r


REJECTIONS = {
    "bad schema": (_bad_schema, "schema is 'hebbbench.results/0'; expected 'hebbbench.results/1'"),
    "wrong protocol version": (_wrong_protocol, "protocol_version is 'hebbbench-protocol/0'"),
    "missing variation": (_missing_variation, "variation 'damage-left' of task 'ant' is missing"),
    "altered returns": (_altered_returns, "integrity hash does not match the contents"),
    "altered returns, hash redone": (_altered_returns_rehashed, "summary disagrees with the per-episode returns"),
    "seeds not the protocol's": (_not_protocol_seeds, "seeds are not the protocol's seeds"),
    "wrong episode count": (_claims_full_protocol, "full_protocol is true but episodes_per_variation is 50"),
    "NaN return": (_nan_return, "returns must be a list of finite numbers"),
    "return too large for a float": (_huge_return, "returns must be a list of finite numbers"),
}


@pytest.mark.parametrize("case", REJECTIONS)
def test_each_rejection_names_the_problem_and_leaves_the_board_unchanged(board, tmp_path, case):
    edit, message = REJECTIONS[case]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(edit(results_dict("ant", "long-front", seed=2))))
    before = snapshot(board)
    with pytest.raises(SubmissionError) as refused:
        leaderboard.submit([path], dict(META, name="new"), directory=board, submitted=NOW)
    assert any(message in problem for problem in refused.value.problems), refused.value.problems
    assert all(problem.startswith(str(path)) for problem in refused.value.problems)
    assert snapshot(board) == before


def test_duplicates_are_refused_by_name_and_by_results(board, tmp_path):
    again = write_json(tmp_path / "again.json", results_dict("ant", "long-front", seed=1))  # = first.json
    other = write_json(tmp_path / "other.json", results_dict("ant", "long-front", seed=3))
    before = snapshot(board)
    with pytest.raises(SubmissionError, match="an entry named 'first' for task 'ant' is already on the board"):
        leaderboard.submit([other], dict(META, name="First"), directory=board, submitted=NOW)
    with pytest.raises(SubmissionError, match="these returns are already on the board \\(entry 'ant-first'"):
        leaderboard.submit([again], dict(META, name="renamed"), directory=board, submitted=NOW)
    assert snapshot(board) == before


@pytest.mark.parametrize("field, value", [("wall_time_s", 4321.5), ("created", "2026-12-01T09:30:00+00:00")])
def test_a_duplicate_differing_only_in_wall_time_s_or_created_is_refused_by_its_returns(board, tmp_path, field, value):
    copy = results_dict("ant", "long-front", seed=1)  # the returns of first.json
    copy[field] = value
    path = write_json(tmp_path / "copy.json", rehashed(copy))
    before = snapshot(board)
    with pytest.raises(SubmissionError) as refused:
        leaderboard.submit([path], dict(META, name="a copy"), directory=board, submitted=NOW)
    assert refused.value.problems == [f"{path}: these returns are already on the board (entry 'ant-first', fold "
                                      "'long-front'): the same episodes, whatever other fields (created, "
                                      "wall_time_s, ...) say; an entry is submitted once"]
    assert snapshot(board) == before


@pytest.mark.parametrize("field, value, message", [
    ("created", "yesterday", "created is 'yesterday'; expected an ISO 8601 time with its UTC offset"),
    ("created", "2026-11-28T05:00:00", "created is '2026-11-28T05:00:00'; expected an ISO 8601 time with its UTC"),
    ("created", "2019-01-01T00:00:00+00:00", "in [2026-01-01T00:00:00+00:00, "),
    ("created", "2999-01-01T00:00:00+00:00", "created is '2999-01-01T00:00:00+00:00'"),
    ("workers", 0, "workers is 0; expected an integer in [1, 4096]"),
    ("workers", 10**6, "workers is 1000000; expected an integer in [1, 4096]"),
    ("workers", 2.0, "workers is 2.0; expected an integer in [1, 4096]"),
    ("wall_time_s", -1.0, "wall_time_s is -1.0; expected a number of seconds in (0, 2,592,000] (30 days)"),
    ("wall_time_s", 0, "wall_time_s is 0; expected a number of seconds in (0, 2,592,000]"),
    ("wall_time_s", 1e9, "wall_time_s is 1000000000.0; expected a number of seconds in (0, 2,592,000]"),
])
def test_how_a_run_says_it_ran_is_checked_naming_the_field_its_value_and_the_allowed_range(
        board, tmp_path, field, value, message):
    results = results_dict("ant", "long-front", seed=5)
    results[field] = value
    path = write_json(tmp_path / "r.json", rehashed(results))
    with pytest.raises(SubmissionError) as refused:
        leaderboard.submit([path], dict(META, name="odd run"), directory=board, submitted=NOW)
    assert any(message in problem for problem in refused.value.problems), refused.value.problems


@pytest.mark.parametrize("budget, message", [
    ({"generations": -1}, "training budget generations is -1; expected an integer in [0, 10,000,000]"),
    ({"population": 10**9}, "training budget population is 1000000000; expected an integer in [0, 10,000,000]"),
    ({"env_steps": 10**14}, "training budget env_steps is 100000000000000; expected an integer in [0, "),
    ({"generations": 100, "population": 100, "env_steps": 50},
     "training budget env_steps is 50; 100 generations of 100 individuals take at least one step each, so it "
     "must be in [10,000, 10,000,000,000,000]"),
])
def test_budgets_are_checked_naming_the_value_and_the_allowed_range(board, tmp_path, budget, message):
    path = write_json(tmp_path / "r.json", results_dict("ant", "long-front", seed=6))
    with pytest.raises(SubmissionError) as refused:
        leaderboard.submit([path], dict(META, name="budget", **budget), directory=board, submitted=NOW)
    assert any(message in problem for problem in refused.value.problems), refused.value.problems


def test_every_problem_is_listed_at_once(board, tmp_path):
    car = write_json(tmp_path / "car.json", results_dict("car", "pushed-right"))
    ant = write_json(tmp_path / "ant.json", _wrong_protocol(results_dict("ant", "long-front", seed=4)))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    before = snapshot(board)
    metadata = dict(META, name="first", authors=[], link="javascript:alert(1)", agent_family="",
                    generations=-1, population=1.5)
    with pytest.raises(SubmissionError) as refused:
        leaderboard.submit([ant, car], metadata, directory=board, submitted=NOW)
    problems = "\n".join(refused.value.problems)
    for expected in ("authors must be a non-empty list", "link 'javascript:alert(1)' must be an http",
                     "agent family '' must be", "generations is -1", "population is 1.5",
                     "results files are for different tasks (ant, car)", f"{ant}: protocol_version",
                     "an entry named 'first'"):
        assert expected in problems
    with pytest.raises(SubmissionError, match="not valid JSON"):
        leaderboard.submit([broken, tmp_path / "absent.json"], dict(META, name="x"), directory=board, submitted=NOW)
    assert snapshot(board) == before


def test_two_results_files_for_one_fold_are_refused(board, tmp_path):
    one = write_json(tmp_path / "one.json", results_dict("ant", "default", seed=5))
    two = write_json(tmp_path / "two.json", results_dict("ant", "default", seed=6))
    with pytest.raises(SubmissionError, match="fold 'default' is covered by more than one results file"):
        leaderboard.submit([one, two], dict(META, name="twice"), directory=board, submitted=NOW)


def test_cli_refuses_with_exit_2_and_a_list_then_accepts(board, tmp_path):
    bad = write_json(tmp_path / "bad.json", _missing_variation(results_dict("ant", "long-front", seed=7)))
    good = write_json(tmp_path / "good.json", results_dict("ant", "long-front", seed=7, episodes=10))
    args = [sys.executable, "-m", "hebbbench.cli", "submit", "--name", "cli entry", "--authors", "A, B",
            "--family", "static", "--generations", "0", "--population", "0", "--env-steps", "0",
            "--leaderboard-dir", str(board)]
    before = snapshot(board)
    refused = subprocess.run(args + [str(bad)], capture_output=True, text=True)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "1 problem found, nothing was written:" in refused.stderr and "'damage-left'" in refused.stderr
    assert snapshot(board) == before
    accepted = subprocess.run(args + [str(good)], capture_output=True, text=True)
    assert accepted.returncode == 0, accepted.stderr
    stored = json.loads((board / "submissions" / "ant-cli-entry.json").read_text())
    assert stored["entry"]["authors"] == ["A", "B"] and stored["full_protocol"] is False
    listed = subprocess.run([sys.executable, "-m", "hebbbench.cli", "leaderboard", "--task", "ant",
                             "--leaderboard-dir", str(board)], capture_output=True, text=True, check=True)
    assert "Not full protocol runs (shown apart, not ranked)" in listed.stdout and "cli entry" in listed.stdout
    page = (board / "index.html").read_text()
    (board / "index.html").unlink()
    subprocess.run([sys.executable, "-m", "hebbbench.cli", "leaderboard", "--write", "--leaderboard-dir", str(board)],
                   check=True, capture_output=True)
    assert (board / "index.html").read_text() == page


def test_a_submit_waits_while_another_command_holds_the_board(board, tmp_path):
    """Concurrent submits are serialised: check and write happen under the board's lock."""
    import threading

    second = write_json(tmp_path / "second.json", results_dict("ant", "long-front", seed=2))
    submitted = []

    def submit_second():
        submitted.append(leaderboard.submit([second], dict(META, name="second"), directory=board, submitted=NOW))

    with leaderboard.board_lock(board):
        thread = threading.Thread(target=submit_second)
        thread.start()
        thread.join(timeout=1.0)  # without the lock it finishes well within this
        assert thread.is_alive() and submitted == [] and len(list((board / "submissions").glob("*.json"))) == 1
    thread.join(timeout=60)
    assert not thread.is_alive() and len(submitted) == 1 and submitted[0].exists()
    assert "second" in (board / "README.md").read_text() and "first" in (board / "README.md").read_text()


def test_entry_text_cannot_inject_markdown_or_html_into_the_board(board, tmp_path):
    results = write_json(tmp_path / "second.json", results_dict("ant", "long-front", seed=2))
    sneaky = "Best [verified](https://evil.example) <img src=x onerror=alert(1)> | x"
    with pytest.raises(SubmissionError, match="must be an http"):
        leaderboard.submit([results], dict(META, name="ok", link="https://ok.example/a)|x|y"),
                           directory=board, submitted=NOW)
    leaderboard.submit([results], dict(META, name=sneaky, authors=["<b>A</b> [x](y)"]), directory=board,
                       submitted=NOW)
    import re

    lines = (board / "README.md").read_text().splitlines()
    row = next(line for line in lines if "evil.example" in line)
    header = lines[lines.index(row) - 2]  # the table's header, above the |---| line
    cells = re.split(r"(?<!\\)\|", row)  # split on unescaped pipes only
    assert len(cells) == len(header.split("|"))  # the name's "|" did not add a column
    name, authors = cells[2].strip().removesuffix(")").rsplit(" (", 1)  # "NAME (AUTHORS)"
    for text in (name, authors):  # no link, image or HTML markup survives
        assert not re.search(r"(?<!\\)[\[\]()<>]", text), text
    assert "evil.example" in name and "onerror" in name and "A" in authors  # the text is kept, escaped
    html = (board / "index.html").read_text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def _many_episodes(r):
    for v in r["variations"]:
        v["seeds"] = list(range(1_000_000, 1_000_000 + 5000))
        v["returns"], v["lengths"] = [1.0] * 5000, [100] * 5000
        v["summary"] = {"mean": 1.0, "std": 0.0, "ci95": [1.0, 1.0]}
    r["episodes_per_variation"] = 5000
    r["full_protocol"] = False
    return rehashed(r)


def _extra_field(r):
    r["notes"] = "x" * 1000
    return rehashed(r)


@pytest.mark.parametrize("edit, message", [
    (_many_episodes, "the board takes at most the protocol's 100"),
    (_extra_field, "unknown fields ['notes']"),
])
def test_the_board_stores_only_protocol_sized_results_of_the_known_format(board, tmp_path, edit, message):
    path = write_json(tmp_path / "r.json", edit(results_dict("ant", "long-front", seed=4)))
    before = snapshot(board)
    with pytest.raises(SubmissionError) as refused:
        leaderboard.submit([path], dict(META, name="capped"), directory=board, submitted=NOW)
    assert any(message in problem for problem in refused.value.problems), refused.value.problems
    assert snapshot(board) == before


def test_huge_deeply_nested_and_look_alike_inputs_are_refused_cleanly(board, tmp_path):
    huge = tmp_path / "huge.json"
    huge.write_text('{"notes": "' + "x" * 3_000_000 + '"}')
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SubmissionError) as refused:
        leaderboard.submit([huge, deep], dict(META, name="big"), directory=board, submitted=NOW)
    assert any("far more than a results file" in p for p in refused.value.problems)
    assert any("nested far too deeply" in p for p in refused.value.problems)
    good = write_json(tmp_path / "good.json", results_dict("ant", "long-front", seed=6))
    with pytest.raises(SubmissionError, match="printable ASCII"):
        leaderboard.submit([good], dict(META, name="fir\u0455t"), directory=board, submitted=NOW)  # Cyrillic s


def test_a_page_that_cannot_be_written_leaves_no_entry_behind(board, tmp_path, monkeypatch):
    """A full disk while re-rendering: the new entry's file is taken back, so a re-run works."""
    from hebbbench.leaderboard import board as board_module

    good = write_json(tmp_path / "good.json", results_dict("ant", "long-front", seed=8))
    before = snapshot(board)

    def full_disk(directory, rendered):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(board_module, "_write_rendered", full_disk)
    with pytest.raises(OSError, match="No space left"):
        leaderboard.submit([good], dict(META, name="later"), directory=board, submitted=NOW)
    assert snapshot(board) == before
    monkeypatch.undo()
    leaderboard.submit([good], dict(META, name="later"), directory=board, submitted=NOW)
    assert (board / "submissions" / "ant-later.json").is_file()


def test_a_gradient_rl_entry_submits_with_env_steps_alone_and_shows_no_es_budget(board, tmp_path, capsys):
    from hebbbench.cli import main

    results = write_json(tmp_path / "ppo.json", results_dict("ant", "long-front", seed=8))
    assert main(["submit", str(results), "--name", "ppo entry", "--authors", "A", "--family", "ppo",
                 "--env-steps", "2007040", "--leaderboard-dir", str(board)]) == 0, capsys.readouterr().err
    stored = json.loads((board / "submissions" / "ant-ppo-entry.json").read_text())
    assert stored["entry"]["budget"] == {"generations": 0, "population": 0, "env_steps": 2007040}
    for page in ("README.md", "index.html"):
        text = (board / page).read_text()
        assert "2,007,040 env steps" in text and "0 gen x 0 pop" not in text


def test_an_entry_without_agent_files_says_why_where_the_board_shows_verification(board, tmp_path, capsys):
    from hebbbench.cli import main

    results = write_json(tmp_path / "big.json", results_dict("ant", "long-front", seed=9))
    reason = "best.pt (604 MB) kept outside the repository, sha256 0123abcd | not published"
    assert main(["submit", str(results), "--name", "big state", "--authors", "A", "--family", "shared",
                 "--generations", "2", "--population", "4", "--env-steps", "4000", "--unverifiable", reason,
                 "--leaderboard-dir", str(board)]) == 0, capsys.readouterr().err
    stored = json.loads((board / "submissions" / "ant-big-state.json").read_text())
    assert stored["entry"]["unverifiable"] == reason and validate_submission(stored) == []
    readme = (board / "README.md").read_text()
    row = next(line for line in readme.splitlines() if "big state" in line)
    assert ("no: unverifiable, best.pt \\(604 MB\\) kept outside the repository, sha256 0123abcd "
            "\\| not published") in row
    first = next(line for line in readme.splitlines() if "| first" in line)
    assert "| no |" in first  # an entry that gives no reason is plainly unverified
    assert "no: unverifiable, best.pt (604 MB)" in (board / "index.html").read_text()


@pytest.mark.parametrize("reason", ["", "   ", "x" * 301, "état caché"])
def test_an_unverifiable_reason_that_is_empty_too_long_or_not_ascii_is_refused(board, tmp_path, reason):
    results = write_json(tmp_path / "r.json", results_dict("ant", "long-front", seed=10))
    before = snapshot(board)
    with pytest.raises(SubmissionError, match="unverifiable must say why in 1 to 300 printable ASCII"):
        leaderboard.submit([results], dict(META, name="r", unverifiable=reason), directory=board, submitted=NOW)
    assert snapshot(board) == before


def test_an_entry_declares_its_number_of_rules_and_the_submission_keeps_it(board, tmp_path, capsys):
    from hebbbench.cli import main

    results = write_json(tmp_path / "merged.json", results_dict("ant", "long-front", seed=11))
    assert main(["submit", str(results), "--name", "merged 384 rules", "--authors", "A", "--family", "evolve-merge",
                 "--generations", "2", "--population", "4", "--env-steps", "4000", "--rules", "384",
                 "--leaderboard-dir", str(board)]) == 0, capsys.readouterr().err
    stored = json.loads((board / "submissions" / "ant-merged-384-rules.json").read_text())
    assert stored["entry"]["rules"] == 384 and validate_submission(stored) == []
    first = json.loads((board / "submissions" / "ant-first.json").read_text())
    assert "rules" not in first["entry"]  # declared only when given


@pytest.mark.parametrize("rules", [0, -3, 1.5, "384", True, 10**9 + 1])
def test_a_number_of_rules_that_is_not_a_positive_integer_is_refused(board, tmp_path, rules):
    results = write_json(tmp_path / "r.json", results_dict("ant", "long-front", seed=12))
    before = snapshot(board)
    with pytest.raises(SubmissionError, match=r"rules is .*; expected the number of distinct learning rules, an "
                                              r"integer in \[1, 1,000,000,000\]"):
        leaderboard.submit([results], dict(META, name="r", rules=rules), directory=board, submitted=NOW)
    assert snapshot(board) == before
