"""serving.repair: what an interrupted run or a moved root leaves, put right."""

import json

import pytest
from google.protobuf import text_format

from serving import release, repair
from tests.serving.configs import config_of, labels_of

MODEL = "flights_late"


def test_reconcile_records_an_unlabelled_version_as_rejected_with_why(region, saved_models):
    release.push(str(region), MODEL, 1, saved_models["sample"])  # 2 and 3 on disk: a killed run's pushes
    done = repair.reconcile(str(region), MODEL)
    assert done == [f"version(s) 2, 3 {repair.UNLABELLED}: recorded as rejected"]
    st = release.load_state(str(region), MODEL)
    assert st.rejected == [2, 3] and st.stable == 1
    assert [e["reason"] for e in st.history if e["action"] == "rejected"] == [repair.UNLABELLED] * 2
    assert repair.reconcile(str(region), MODEL) == []  # nothing left to repair


def test_reconcile_rewrites_configs_behind_release_json_but_not_after_a_rejection(region, saved_models):
    release.push(str(region), MODEL, 1, saved_models["sample"])
    release.push(str(region), MODEL, 2, saved_models["sample"])
    (region / MODEL / "3").rename(region / MODEL / "x3")  # only versions 1 and 2 on disk
    assert repair.reconcile(str(region), MODEL) == []
    old = release.build_config(MODEL, str(region / MODEL), {"stable": 1})  # as a run killed mid-write left it
    (region / release.CONFIG_FILE).write_text(
        f"# driftgate release revision 1\n{text_format.MessageToString(old)}"
    )
    revision = release.load_state(str(region), MODEL).revision
    assert repair.reconcile(str(region), MODEL) == [
        f"TF Serving configs were behind release.json (revision {revision}): rewritten"
    ]
    assert labels_of(region) == ({"stable": 1, "canary": 2}, [1, 2])
    # a rejected push leaves the configs' revision behind on purpose (same labels): no repair
    bad = region / MODEL / "4"
    bad.mkdir()
    (bad / "saved_model.pb").write_bytes(b"not a saved model")
    with pytest.raises(release.ReleaseError):
        release.push(str(region), MODEL, 4, saved_models["sample"])
    assert repair.reconcile(str(region), MODEL) == []


def test_moved_root_is_relocated_and_keeps_labelling(region, saved_models, tmp_path):
    import shutil

    release.push(str(region), MODEL, 1, saved_models["sample"])
    moved = tmp_path / "elsewhere" / "serving" / "EWR"
    shutil.copytree(region, moved)
    shutil.rmtree(region)
    assert repair.relocate(str(moved), MODEL) == str(region / MODEL)
    (model,) = config_of(moved).model_config_list.config
    assert model.base_path == str(moved / MODEL)
    st = release.push(str(moved), MODEL, 2, saved_models["sample"])  # smoke test reads the new place
    assert (st.stable, st.canary) == (1, 2)
    assert repair.relocate(str(moved), MODEL) is None
    assert [e["action"] for e in st.history] == ["stable", "relocated", "canary"]


def test_served_base_path_goes_into_the_configs_while_models_are_read_from_the_root(region, saved_models):
    served = "/models/EWR/flights_late"
    release.push(str(region), MODEL, 1, saved_models["sample"], served=served)
    release.push(str(region), MODEL, 2, saved_models["sample"], served=served)
    for name in (release.CONFIG_FILE, "stable.config", "canary.config"):
        (model,) = config_of(region, name).model_config_list.config
        assert model.base_path == served
    assert json.loads((region / release.STATE_FILE).read_text())["base_path"] == served
    assert repair.relocate(str(region), MODEL, served) is None
    assert repair.relocate(str(region), MODEL) == served  # the mapping removed from the config


def test_the_repair_step_relocates_then_reconciles_and_says_what_it_did(region, saved_models, tmp_path):
    import shutil

    release.push(str(region), MODEL, 1, saved_models["sample"])
    moved = tmp_path / "elsewhere" / "serving" / "EWR"
    shutil.copytree(region, moved)
    done = repair.repair(str(moved), MODEL)  # versions 2 and 3 are on disk, never labelled
    assert done.relocated_from == str(region / MODEL)
    assert done.lines() == [
        f"serving configs named {region / MODEL}; rewritten for where the root is now",
        f"version(s) 2, 3 {repair.UNLABELLED}: recorded as rejected",
    ]
    assert repair.repair(str(moved), MODEL).lines() == []  # nothing left
