"""TF Serving base path: integer versions, atomic publish, partial folders ignored."""

import pytest

from serving import layout


def _fake_saved_model(path):
    path.mkdir(parents=True)
    (path / "saved_model.pb").write_bytes(b"x")
    (path / "variables").mkdir()
    (path / "variables" / "variables.index").write_bytes(b"y")
    return path


def test_empty_or_missing_base_has_no_version(tmp_path):
    assert layout.list_versions(str(tmp_path / "nope")) == []
    assert layout.serving_version(str(tmp_path)) is None
    assert layout.next_version(str(tmp_path)) == 1


def test_publish_writes_consecutive_versions(tmp_path):
    src = _fake_saved_model(tmp_path / "model")
    base = tmp_path / "serving" / "EWR" / "m"
    assert layout.publish_version(str(src), str(base)) == 1
    assert layout.publish_version(str(src), str(base)) == 2
    assert layout.list_versions(str(base)) == [1, 2]
    assert (base / "2" / "variables" / "variables.index").read_bytes() == b"y"
    assert not [p for p in base.iterdir() if p.name.startswith(layout.TMP_PREFIX)]


def test_incomplete_version_is_not_served_but_its_number_is_not_reused(tmp_path):
    base = tmp_path / "m"
    _fake_saved_model(base / "1")
    (base / "2").mkdir()  # a crashed copy without saved_model.pb
    (base / ".tmp-3").mkdir()
    assert layout.serving_version(str(base)) == 1
    assert layout.next_version(str(base)) == 3


def test_publish_refuses_non_saved_model(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="not a SavedModel"):
        layout.publish_version(str(tmp_path / "empty"), str(tmp_path / "base"))
    assert not (tmp_path / "base" / "1").exists()
