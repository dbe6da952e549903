"""Results files: format, integrity hash, atomic writes, validation."""

import dataclasses
import json
import math

import pytest

from hebbbench.evaluation import stats
from hebbbench.evaluation.results import SCHEMA, Results, VariationResult, integrity_hash, load_results, write_results


def make_results(returns=(12.5, -3.0, 7.25)) -> Results:
    variations = tuple(
        VariationResult(name, f"Ant{name.title()}-v0", "test" if name == "b" else "train",
                        (1_000_000, 1_000_001, 1_000_002), tuple(returns), (960, 202, 960))
        for name in ("a", "b")
    )
    return Results("hebbbench-protocol/1", "0.1.0", "2026-11-28T05:00:00+00:00", "ant", "b",
                   "agent.py", "0" * 64, 3, False, 2, 1.5, variations)


def test_to_dict_follows_the_documented_format():
    obj = make_results().to_dict()
    assert obj["schema"] == SCHEMA and obj["agent"] == {"path": "agent.py", "sha256": "0" * 64}
    variation = obj["variations"][0]
    assert variation["returns"] == [12.5, -3.0, 7.25] and variation["lengths"] == [960, 202, 960]
    summary = variation["summary"]
    assert summary["mean"] == stats.mean([12.5, -3.0, 7.25]) and summary["std"] == stats.std([12.5, -3.0, 7.25])
    assert summary["ci95"] == list(stats.bootstrap_ci([12.5, -3.0, 7.25], resamples=2000, seed=0))
    assert obj["integrity"] == integrity_hash(obj)


def test_write_then_load_round_trips(tmp_path):
    path = write_results(make_results(), tmp_path / "results.json")
    assert load_results(path) == make_results()
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temp file left


def test_an_edited_file_fails_the_integrity_check(tmp_path):
    path = write_results(make_results(), tmp_path / "results.json")
    obj = json.loads(path.read_text())
    edited = obj["variations"][1]
    edited["returns"][0] = 1000.0  # and the summary redone to match: only the hash can tell
    edited["summary"] = VariationResult(edited["name"], edited["env_id"], edited["split"], tuple(edited["seeds"]),
                                        tuple(edited["returns"]), tuple(edited["lengths"])).summary()
    path.write_text(json.dumps(obj))
    with pytest.raises(ValueError, match="integrity"):
        load_results(path)


def test_a_summary_that_disagrees_with_its_returns_is_refused(tmp_path):
    obj = make_results().to_dict()
    obj["variations"][0]["summary"]["std"] = -5.0
    obj["integrity"] = integrity_hash(obj)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(obj))
    with pytest.raises(ValueError, match=r"variation 'a': summary disagrees with the per-episode returns: std -5.0"):
        load_results(path)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = write_results(make_results(), tmp_path / "results.json")
    before = path.read_bytes()
    with pytest.raises(ValueError):  # JSON has no NaN: refused before any file is touched
        write_results(make_results(returns=(1.0, math.nan, 2.0)), path)

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("hebbbench.system.files.os.replace", disk_full)  # the temp file is written, the rename fails
    with pytest.raises(OSError, match="No space left"):
        write_results(make_results(returns=(1.0, 2.0, 3.0)), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_load_names_the_first_problem(tmp_path):
    obj = make_results().to_dict()
    obj["variations"][0]["lengths"] = [960]
    obj["integrity"] = integrity_hash(obj)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(obj))
    with pytest.raises(ValueError, match="variation 'a': 1 lengths for episodes_per_variation=3"):
        load_results(path)


def test_written_files_get_the_usual_permissions_not_the_temp_files_private_ones(tmp_path, monkeypatch):
    for umask, mode in ((0o022, 0o644), (0o027, 0o640)):
        monkeypatch.setattr("hebbbench.system.files._UMASK", umask)  # the umask read at import
        path = write_results(make_results(), tmp_path / f"results-{umask:o}.json")
        assert path.stat().st_mode & 0o777 == mode


def test_the_agents_arithmetic_round_trips_and_an_unknown_one_is_refused(tmp_path):
    portable = dataclasses.replace(make_results(), agent_arithmetic="portable")
    assert load_results(write_results(portable, tmp_path / "portable.json")).agent_arithmetic == "portable"
    obj = portable.to_dict()
    obj["agent"]["arithmetic"] = "fast"
    obj["integrity"] = integrity_hash(obj)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(obj))
    with pytest.raises(ValueError, match=r"agent.arithmetic must be one of \['portable', 'native'\], got 'fast'"):
        load_results(path)
    obj["agent"]["arithmetic"] = "portable"
    obj["agent"]["cpu"] = "mine"
    obj["integrity"] = integrity_hash(obj)
    path.write_text(json.dumps(obj))
    with pytest.raises(ValueError, match=r"agent has unknown fields \['cpu'\]"):
        load_results(path)
