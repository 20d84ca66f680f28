"""Push as canary, promote, roll back: on real SavedModels, with the TF Serving
config proto checked after every step, crashes and concurrent commands."""

import json
import os
import subprocess
import sys

import pytest
from google.protobuf import text_format

from serving import release
from tests.serving.configs import config_of, labels_of

MODEL = "flights_late"


def test_config_proto_round_trips_through_text():
    cfg = release.build_config(MODEL, "/srv/EWR/flights_late", {"stable": 4, "canary": 7})
    again = release.parse_config(text_format.MessageToString(cfg))
    assert again == cfg
    (model,) = again.model_config_list.config
    assert model.name == MODEL and model.model_platform == "tensorflow"
    assert list(model.model_version_policy.specific.versions) == [4, 7]
    assert dict(model.version_labels) == {"stable": 4, "canary": 7}


def test_first_push_is_stable_then_canary(region, saved_models):
    st = release.push(str(region), MODEL, 1, saved_models["sample"])
    assert (st.stable, st.canary) == (1, None)
    assert labels_of(region) == ({"stable": 1}, [1])
    st = release.push(str(region), MODEL, 2, saved_models["sample"])
    assert (st.stable, st.canary) == (1, 2)
    assert labels_of(region) == ({"stable": 1, "canary": 2}, [1, 2])
    assert labels_of(region, "stable.config") == ({"stable": 1}, [1])
    assert labels_of(region, "canary.config") == ({"canary": 2}, [2])
    (model,) = config_of(region).model_config_list.config
    assert model.base_path == str(region / MODEL)


def test_corrupted_saved_model_never_gets_a_label(region, saved_models):
    release.push(str(region), MODEL, 1, saved_models["sample"])
    bad = region / MODEL / "4"
    bad.mkdir()
    (bad / "saved_model.pb").write_bytes(b"not a saved model")
    before = (region / release.CONFIG_FILE).read_text()
    with pytest.raises(release.ReleaseError, match="smoke test"):
        release.push(str(region), MODEL, 4, saved_models["sample"])
    assert (region / release.CONFIG_FILE).read_text() == before
    st = release.load_state(str(region), MODEL)
    assert st.stable == 1 and st.canary is None and 4 in st.rejected


def test_promote_keeps_old_stable_and_rollback_returns_in_one_step(region, saved_models):
    for v in (1, 2):
        release.push(str(region), MODEL, v, saved_models["sample"])
    st = release.promote(str(region), MODEL)
    assert (st.stable, st.canary, st.previous_stables) == (2, None, [1])
    assert labels_of(region) == ({"stable": 2}, [2])
    st = release.rollback(str(region), MODEL)
    assert (st.stable, st.canary) == (1, None) and 2 in st.rejected
    assert (region / MODEL / "2" / "saved_model.pb").exists()  # kept on disk
    with pytest.raises(release.ReleaseError, match="nothing to roll back"):
        release.rollback(str(region), MODEL)


def test_crash_between_write_and_rename_leaves_a_valid_config(region, saved_models, monkeypatch):
    release.push(str(region), MODEL, 1, saved_models["sample"])
    release.push(str(region), MODEL, 2, saved_models["sample"])
    before = (region / release.CONFIG_FILE).read_text()

    def crash(src, dst):
        raise OSError("killed between write and rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        release.promote(str(region), MODEL)
    monkeypatch.undo()
    assert (region / release.CONFIG_FILE).read_text() == before
    assert labels_of(region) == ({"stable": 1, "canary": 2}, [1, 2])
    assert not [p for p in os.listdir(region) if ".tmp-" in p]


def test_concurrent_commands_leave_a_valid_config(region, saved_models, tmp_path):
    import shutil

    for v in range(10, 16):
        shutil.copytree(saved_models["good"], region / MODEL / str(v))
    release.push(str(region), MODEL, 1, saved_models["sample"])
    sample = tmp_path / "sample.json"
    sample.write_text(json.dumps([s.hex() for s in saved_models["sample"][:8]]))
    script = (
        "import json, sys\n"
        "from serving import release\n"
        "d, versions, sample = sys.argv[1], [int(v) for v in sys.argv[2].split(',')], sys.argv[3]\n"
        "ex = [bytes.fromhex(h) for h in json.load(open(sample))]\n"
        "for v in versions:\n"
        "    release.push(d, 'flights_late', v, ex)\n"
        "    try:\n"
        "        release.promote(d, 'flights_late')\n"
        "    except release.ReleaseError:\n"
        "        pass\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(region), vs, str(sample)], env=dict(os.environ))
        for vs in ("10,12,14", "11,13,15")
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    st = release.load_state(str(region), MODEL)
    labels, versions = labels_of(region)
    assert labels.get("stable") == st.stable and labels.get("canary") == st.canary
    assert st.stable in range(10, 16)
    pushes = [e for e in st.history if e["action"] in ("canary", "stable")]
    assert len(pushes) == 7  # every push recorded: none lost to a race


def test_stable_label_is_what_serves(region, saved_models):
    from serving import layout

    base = str(region / MODEL)
    assert layout.serving_version(base) == 3  # no release state: newest version
    release.push(str(region), MODEL, 1, saved_models["sample"])
    release.push(str(region), MODEL, 2, saved_models["sample"])
    assert layout.serving_version(base) == 1  # the stable label, not the newest canary


def test_a_held_lock_times_out_naming_its_holder(tmp_path):
    import fcntl

    region = tmp_path / "EWR"
    region.mkdir()
    with open(region / release.LOCK_FILE, "a+") as other:  # another process's open file description
        fcntl.flock(other, fcntl.LOCK_EX)
        other.write("host batch-7 pid 4242 since 2026-11-24T06:00:00Z")
        other.flush()
        with pytest.raises(
            release.ReleaseError, match="held by host batch-7 pid 4242 since 2026-11-24T06:00:00Z"
        ):
            with release.locked(str(region), timeout=0.3):
                pass
        fcntl.flock(other, fcntl.LOCK_UN)
    with release.locked(str(region), timeout=0.3):  # free again
        assert f"pid {os.getpid()}" in (region / release.LOCK_FILE).read_text()


def test_a_hand_promote_keeps_the_configured_serving_base_path(region, saved_models, tmp_path):
    """`driftgate serving promote` writes the configs as the pipeline does:
    with ``serving.base_path`` when the region sets one."""
    from driftgate.cli.main import main

    served = "/models/EWR/flights_late"
    release.push(str(region), MODEL, 1, saved_models["sample"], served=served)
    release.push(str(region), MODEL, 2, saved_models["sample"], served=served)
    regions = tmp_path / "regions"
    regions.mkdir()
    (regions / "EWR.yaml").write_text(
        "region: EWR\nschema: {version: 1}\nserving:\n  base_path: /models/{region}/{model_name}\n"
    )
    root = region.parent.parent
    assert (
        main(["serving", "promote", "--region", "EWR", "--root", str(root), "--config-dir", str(regions)])
        == 0
    )
    (model,) = config_of(region).model_config_list.config
    assert model.base_path == served and dict(model.version_labels) == {"stable": 2}
