"""Release labels on a bucket root and under concurrent writers.

- ``gs://`` through the real Cloud Storage client library against
  fake-gcs-server on loopback (``driftgate.local.gcs``), which enforces
  generation preconditions: push (smoke test on a downloaded copy), promote,
  roll back; the three configs are objects that parse as ``ModelServerConfig``
  with a ``gs://`` base path. A stale write is refused by the server (412,
  ``storage.Conflict``) and leaves the object as it was; two writers that read
  ``release.json`` at one generation race through ``release.promote``: the
  server refuses the second write, exactly one promotion lands, the loser stops
  naming ``release.json`` and the other writer, and every config on the bucket
  is a whole ``ModelServerConfig`` of the winner's revision.
- Local root: processes racing through ``release.transact`` without the region
  lock lose no update; an older config never replaces a newer one.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from driftgate.core import storage
from serving import release

MODEL = "flights_late"
BUCKET = "driftgate-test"


def _upload_tree(local: Path, uri: str) -> None:
    for path in local.rglob("*"):
        if path.is_file():
            storage.write_atomic(storage.join(uri, str(path.relative_to(local))), path.read_bytes())


def _labels_at(uri: str, name: str = release.CONFIG_FILE):
    (model,) = release.parse_config(storage.read_text(storage.join(uri, name))).model_config_list.config
    return model.base_path, dict(model.version_labels)


def test_push_promote_rollback_on_a_bucket_root(gcs, saved_models):
    serving_dir = f"{gcs}/runs/serving/EWR"
    for v, name in ((1, "good"), (2, "good"), (3, "worse")):
        _upload_tree(saved_models[name], f"{serving_dir}/{MODEL}/{v}")
    assert storage.listdir(f"{serving_dir}/{MODEL}") == ["1", "2", "3"]

    st = release.push(serving_dir, MODEL, 1, saved_models["sample"])
    assert (st.stable, st.canary, st.revision) == (1, None, 1)
    st = release.push(serving_dir, MODEL, 2, saved_models["sample"])
    assert (st.stable, st.canary) == (1, 2)
    base, labels = _labels_at(serving_dir)
    assert base == f"{serving_dir}/{MODEL}" and labels == {"stable": 1, "canary": 2}
    assert _labels_at(serving_dir, "stable.config")[1] == {"stable": 1}
    assert _labels_at(serving_dir, "canary.config")[1] == {"canary": 2}

    st = release.promote(serving_dir, MODEL, reason="canary analysis on span 3: all checks passed")
    assert (st.stable, st.canary, st.previous_stables) == (2, None, [1])
    assert _labels_at(serving_dir)[1] == {"stable": 2}
    st = release.rollback(serving_dir, MODEL)
    assert (st.stable, 2 in st.rejected) == (1, True)
    saved = json.loads(storage.read_text(f"{serving_dir}/release.json"))
    assert saved["revision"] == 4 and [h["action"] for h in saved["history"]] == [
        "stable",
        "canary",
        "promote",
        "rollback",
    ]
    with pytest.raises(release.ReleaseError, match="nothing to roll back"):
        release.rollback(serving_dir, MODEL)
    assert json.loads(storage.read_text(f"{serving_dir}/release.json"))["revision"] == 4  # refused: unchanged


def test_a_broken_model_on_a_bucket_is_rejected_and_labels_stay(gcs, saved_models, tmp_path):
    serving_dir = f"{gcs}/runs/serving/JFK"
    _upload_tree(saved_models["good"], f"{serving_dir}/{MODEL}/1")
    release.push(serving_dir, MODEL, 1, saved_models["sample"])
    storage.write_atomic(f"{serving_dir}/{MODEL}/2/saved_model.pb", b"not a SavedModel")
    before = storage.read_bytes(f"{serving_dir}/{release.CONFIG_FILE}")
    with pytest.raises(release.ReleaseError, match="smoke test"):
        release.push(serving_dir, MODEL, 2, saved_models["sample"])
    assert storage.read_bytes(f"{serving_dir}/{release.CONFIG_FILE}") == before
    assert release.load_state(serving_dir, MODEL).rejected == [2]


def test_writes_carry_the_generation_precondition_and_a_stale_one_is_refused(gcs, upload_preconditions):
    """What reaches the server: ``ifGenerationMatch`` with the generation read
    (0 for "must not exist"); a stale one is answered 412, which ``storage``
    turns into Conflict, and the object keeps its content and generation."""
    seen = upload_preconditions
    path = f"{gcs}/cas/state.json"
    data, token = storage.read_versioned(path)
    assert (data, token) == (None, 0)
    storage.write_if_unchanged(path, b"one", token)
    data, first = storage.read_versioned(path)
    assert data == b"one" and first != 0  # token: the generation the server reported for it
    storage.write_if_unchanged(path, b"two", first)
    assert seen == [0, first]
    data, second = storage.read_versioned(path)
    assert data == b"two" and second != first
    for stale in (0, first):  # "must not exist", then the generation "one" had
        with pytest.raises(storage.Conflict, match=r"cas/state\.json was changed by another writer"):
            storage.write_if_unchanged(path, b"stale", stale)
    assert seen == [0, first, 0, first]  # both reached the server, which refused them
    assert storage.read_versioned(path) == (b"two", second)


def _promote_race(gcs, monkeypatch, serving_dir):
    """Two threads promote the canary of one state: each reads ``release.json``
    (the same generation) and waits for the other before writing, so both
    writes reach the server with that generation. Returns (outcomes by writer,
    the writes of release.json as (writer, refused))."""
    import threading

    barrier, local, writes = threading.Barrier(2, timeout=30), threading.local(), []
    read, write = storage.read_versioned, storage.write_if_unchanged
    state_file = release.state_path(serving_dir)

    def read_then_wait(path):
        got = read(path)
        if path == state_file and not getattr(local, "waited", False):
            local.waited = True
            barrier.wait()  # both have read before either writes
        return got

    def write_and_record(path, data, token):
        try:
            write(path, data, token)
            refused = False
        except storage.Conflict:
            refused = True
            raise
        finally:
            if path == state_file:
                writes.append((threading.current_thread().name, refused))

    monkeypatch.setattr(storage, "read_versioned", read_then_wait)
    monkeypatch.setattr(storage, "write_if_unchanged", write_and_record)
    outcomes = {}

    def writer(name):
        try:
            outcomes[name] = release.promote(serving_dir, MODEL, reason=f"promoted by {name}")
        except release.ReleaseError as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=writer, args=(n,), name=n) for n in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes, writes


def test_two_writers_promoting_from_one_revision_one_wins_the_bucket_refuses_the_other(gcs, monkeypatch):
    serving_dir = f"{gcs}/race/serving/EWR"

    def labelled(state):
        state.stable, state.canary = 1, 2
        return state

    release.transact(serving_dir, MODEL, labelled)  # revision 1: stable 1, canary 2
    outcomes, writes = _promote_race(gcs, monkeypatch, serving_dir)

    won = {n: o for n, o in outcomes.items() if isinstance(o, release.ReleaseState)}
    lost = {n: o for n, o in outcomes.items() if isinstance(o, release.ReleaseError)}
    assert len(won) == 1 and len(lost) == 1, outcomes
    (winner, state), (loser, error) = won.popitem(), lost.popitem()
    assert (state.stable, state.canary, state.previous_stables, state.revision) == (2, None, [1], 2)
    # the server refused the loser's write (412): its only refused write, and the winner's none
    assert sorted(writes) == sorted([(winner, False), (loser, True)])
    assert str(error) == (
        f"{serving_dir}/release.json was changed by another writer (revision 1 -> 2) after it was read; "
        f"{serving_dir}: no canary to promote (stable is 2)"
    )
    saved = json.loads(storage.read_text(f"{serving_dir}/release.json"))
    assert saved["revision"] == 2 and [
        h.get("reason") for h in saved["history"] if h["action"] == "promote"
    ] == [f"promoted by {winner}"]
    for name, labels in ((release.CONFIG_FILE, {"stable": 2}), ("stable.config", {"stable": 2})):
        text = storage.read_text(f"{serving_dir}/{name}")  # whole, loadable, the winner's
        assert text == release._config_text(state, labels)
        assert text.startswith("# driftgate release revision 2\n")
        assert _labels_at(serving_dir, name) == (f"{serving_dir}/{MODEL}", labels)
    assert _labels_at(serving_dir, "canary.config")[1] == {"canary": 2}  # no canary: the stable


_RACE = """
import sys
from serving import release
d, me, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def change(state):
    state.history.append({"action": "note", "version": None, "by": me})
    return state
for _ in range(n):
    release.transact(d, "flights_late", change)
"""


def test_racing_writers_lose_no_update_through_compare_and_swap(tmp_path):
    """Four processes, 15 changes each, through ``transact`` alone (no region
    lock): every change lands once, the revision counts them, and the configs
    are those of the last revision."""
    d = tmp_path / "serving" / "EWR"
    procs = [
        subprocess.Popen([sys.executable, "-c", _RACE, str(d), f"w{i}", "15"], env=dict(os.environ))
        for i in range(4)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    st = release.load_state(str(d), MODEL)
    assert st.revision == 60 and len(st.history) == 60
    assert sorted({h["by"] for h in st.history}) == ["w0", "w1", "w2", "w3"]
    assert (d / release.CONFIG_FILE).read_text().startswith("# driftgate release revision ")
    release.parse_config((d / release.CONFIG_FILE).read_text())


def test_a_stale_token_is_a_conflict_and_an_older_config_never_wins(tmp_path):
    path = str(tmp_path / "state.json")
    _, token = storage.read_versioned(path)
    storage.write_if_unchanged(path, b"first", token)
    with pytest.raises(storage.Conflict):
        storage.write_if_unchanged(path, b"second", token)  # read before "first" was written
    assert storage.read_bytes(path) == b"first"

    st = release.ReleaseState(
        model_name=MODEL, base_path="/srv/EWR/flights_late", stable=1, canary=2, revision=5
    )
    config = str(tmp_path / release.CONFIG_FILE)
    release._write_config(config, release._config_text(st, {"stable": 1, "canary": 2}), 5)
    old = release.ReleaseState(model_name=MODEL, base_path="/srv/EWR/flights_late", stable=1, revision=3)
    release._write_config(config, release._config_text(old, {"stable": 1}), 3)  # a slow writer
    (model,) = release.parse_config(Path(config).read_text()).model_config_list.config
    assert dict(model.version_labels) == {"stable": 1, "canary": 2}
