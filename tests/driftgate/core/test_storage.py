"""Storage: atomic writes and path handling for local paths and bucket URIs."""

import os

import pytest

from driftgate.core import local_copies, storage


def test_write_atomic_replaces_whole_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "deep" / "doc.json"
    storage.write_atomic(str(path), b"old")
    storage.write_atomic(str(path), b"new content")
    assert path.read_bytes() == b"new content"
    assert os.listdir(path.parent) == ["doc.json"]


def test_failed_write_keeps_previous_content(tmp_path, monkeypatch):
    path = tmp_path / "doc.json"
    storage.write_atomic(str(path), b"good")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    try:
        storage.write_atomic(str(path), b"half")
    except OSError:
        pass
    assert path.read_bytes() == b"good"
    assert os.listdir(tmp_path) == ["doc.json"]


def test_two_writers_never_share_a_temporary_file(tmp_path, monkeypatch):
    seen = []
    real_open = open

    def spy(path, *a, **k):
        seen.append(os.path.basename(str(path)))
        return real_open(path, *a, **k)

    monkeypatch.setattr("builtins.open", spy)
    storage.write_atomic(str(tmp_path / "a.json"), "1")
    storage.write_atomic(str(tmp_path / "a.json"), "2")
    temps = [n for n in seen if n.startswith(storage.TMP_PREFIX)]
    assert len(temps) == 2 and temps[0] != temps[1]


def test_uris_join_with_slashes_and_local_paths_with_the_os():
    assert storage.is_remote("gs://b/runs") and not storage.is_remote("/data/runs")
    assert storage.join("gs://b/runs", "EWR", "state") == "gs://b/runs/EWR/state"
    assert storage.dirname("gs://b/runs/EWR/x.json") == "gs://b/runs/EWR"
    assert storage.join("/r", "EWR") == os.path.join("/r", "EWR")


def test_missing_folder_lists_nothing(tmp_path):
    assert storage.listdir(str(tmp_path / "nope")) == []
    storage.write_atomic(str(tmp_path / "f" / "x.txt"), "text")
    assert storage.listdir(str(tmp_path / "f")) == ["x.txt"]
    assert storage.read_text(str(tmp_path / "f" / "x.txt")) == "text"


def test_relative_names_a_path_under_a_folder_or_none():
    assert storage.relative("/r/EWR/pipeline/x/1", "/r/EWR") == "pipeline/x/1"
    assert storage.relative("gs://b/runs/EWR/p", "gs://b/runs/") == "EWR/p"
    assert storage.relative("/r/EWRX/p", "/r/EWR") is None  # a sibling sharing the prefix is not under it
    assert storage.relative("/r/EWR", "/r/EWR") is None


def test_local_file_of_a_local_path_is_the_path_with_its_folder_made(tmp_path):
    path = str(tmp_path / "EWR" / "metadata.sqlite")
    with local_copies.local_file(path) as local:
        assert local == path and os.path.isdir(tmp_path / "EWR")


def test_local_file_of_a_bucket_object_is_a_copy_written_back_by_compare_and_swap(gcs):
    path = f"{gcs}/files/EWR/metadata.sqlite"
    with local_copies.local_file(path) as local:  # absent: nothing to download
        assert not os.path.exists(local) and not local.startswith("gs:")
        with open(local, "wb") as fh:
            fh.write(b"first run")
    assert storage.read_bytes(path) == b"first run"
    with local_copies.local_file(path) as local:
        assert open(local, "rb").read() == b"first run"
        with open(local, "ab") as fh:
            fh.write(b", second run")
    assert storage.read_bytes(path) == b"first run, second run"
    with pytest.raises(storage.Conflict, match="was changed by another writer"):
        with local_copies.local_file(path) as local:
            storage.write_atomic(path, b"replaced meanwhile")
            with open(local, "ab") as fh:
                fh.write(b", lost")
    assert storage.read_bytes(path) == b"replaced meanwhile"


def test_local_copy_of_a_bucket_folder_skips_folder_markers(gcs):
    """``tf.io.gfile.makedirs`` on a bucket writes ``<folder>/`` objects: a copy
    makes them folders (they once failed as files named like the folder)."""
    base = f"{gcs}/copy/model/1"
    for name in ("", "variables/"):
        storage._gcs(f"{base}/{name}")[0].blob(f"copy/model/1/{name}").upload_from_string(b"")
    storage.write_atomic(f"{base}/saved_model.pb", b"pb")
    storage.write_atomic(f"{base}/variables/variables.index", b"ix")
    with local_copies.local_copy(base) as local:
        found = sorted(os.path.relpath(os.path.join(d, f), local) for d, _, fs in os.walk(local) for f in fs)
    assert found == ["saved_model.pb", "variables/variables.index"]
