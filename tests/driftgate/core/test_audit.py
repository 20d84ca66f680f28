"""The audit trail: append-only records by new names, read back in order, with
what triggered each; release changes recorded and checked against the state."""

import json

import pytest

from driftgate.core import audit, logs


def test_records_are_new_objects_read_back_in_time_order_with_their_trigger(tmp_path):
    root = str(tmp_path / "EWR")
    with logs.context(run_id="run-7", node="run_recorder", config_hash="abc123"):
        first = audit.record(root, "span_decision", "retrain", "EWR span 1: retrain", span=1, version=1)
    second = audit.record(root, "release", "promote", "promote v2", version=2)
    files = sorted((tmp_path / "EWR" / "audit").iterdir())
    assert len(files) == 2 and all(f.suffix == ".jsonl" for f in files)
    assert [json.loads(f.read_text()) for f in files] == [first, second]
    assert first["trigger"] == {
        "by": "pipeline",
        "run_id": "run-7",
        "node": "run_recorder",
        "runner": "local",
    }
    assert first["config_hash"] == "abc123" and first["code_version"] and first["region"] == "EWR"
    assert second["trigger"]["by"] == "person" and second["trigger"]["user"]
    assert audit.read(root) == [first, second]
    assert audit.read(root, since=second["ts"]) == [second]
    assert audit.read(root, until=second["ts"]) == [first]


def test_an_interrupted_write_never_touches_earlier_records(tmp_path):
    root = str(tmp_path / "EWR")
    kept = audit.record(root, "release", "stable", "stable v1", version=1)
    folder = tmp_path / "EWR" / "audit"
    (folder / ".tmp-interrupted").write_text('{"kind": "rel')  # a write stopped before its rename
    (folder / "20990101T000000.000000Z-dead.jsonl").write_text("")  # an empty object
    records = audit.read(root)
    assert records[0] == kept and records[1] == {
        "unreadable": "20990101T000000.000000Z-dead.jsonl",
        "ts": records[1]["ts"],
    }


def test_an_unknown_kind_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown audit kind"):
        audit.record(str(tmp_path), "deploy", "x", "y")


def test_every_release_change_is_recorded_and_explains_the_state(region, saved_models):
    from serving import audit as release_audit
    from serving import release

    serving = region  # <root>/serving/EWR with SavedModels 1..3
    release.push(str(serving), "flights_late", 1, saved_models["sample"])
    release.push(str(serving), "flights_late", 2, saved_models["sample"])
    release.promote(str(serving), "flights_late", reason="by hand")
    records = audit.read(str(region.parent.parent / "EWR"))
    assert [(r["action"], r["version"]) for r in records] == [("stable", 1), ("canary", 2), ("promote", 2)]
    assert records[2]["evidence"]["reason"] == "by hand" and records[2]["evidence"]["stable"] == 2
    state = release.load_state(str(serving), "flights_late")
    assert release_audit.unexplained(state, records) == []
    # v1 (kept for rollback) then has neither its push nor any record naming it
    assert [e["action"] for e in release_audit.unexplained(state, records[1:])] == ["stable", "labelled"]
