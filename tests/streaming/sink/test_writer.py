"""The sink's stage / commit / publish protocol, without Kafka: two writers on
one region, on a local folder and on a bucket (fake-gcs-server, which
enforces ``ifGenerationMatch``; tests/conftest.py: gcs). What a reader can
see is what the manifests and span folders hold (``files.Listing``)."""

import uuid

import pytest

from driftgate.core import storage
from streaming import files
from streaming.sink.commit import Checkpoint, Fenced
from streaming.sink.format import CsvFormat
from streaming.sink.partitioner import SpanPartitioner
from streaming.sink.writer import SpanWriter
from tests.streaming.landed import landed

DAY = 86_400_000
COLUMNS = ("a", "b")


@pytest.fixture(params=["disk", "bucket"])
def region_dir(request, tmp_path):
    if request.param == "disk":
        return str(tmp_path / "EWR")
    bucket = request.getfixturevalue("gcs")
    return f"{bucket}/writer-{uuid.uuid4().hex[:8]}/EWR"


def _writer(region_dir):
    """A writer as a lander starts one: read, recover, claim."""
    cp = Checkpoint(region_dir, "EWR")
    state = cp.read()
    w = SpanWriter(
        region_dir,
        region="EWR",
        topic="t",
        partitioner=SpanPartitioner("daily"),
        fmt=CsvFormat(COLUMNS),
        checkpoint=cp,
    )
    sealed, open_ = w.recover(state)
    cp.claim({**{k: v for k, v in state.items() if k not in ("pending", "epoch", "holder")}}, "test")
    return w, sealed, open_


def _rows(offsets):
    return [(str(o), f"v{o}") for o in offsets]


def _stage(w, span, partition, offsets):
    w.stage(span, False, partition, list(offsets), _rows(offsets))


def test_create_and_copy_never_overwrite(region_dir):
    path = storage.join(region_dir, "x", "one.csv")
    assert storage.create(path, b"first")
    assert not storage.create(path, b"second")
    assert storage.read_bytes(path) == b"first"
    assert storage.copy(path, storage.join(region_dir, "y", "one.csv"))
    assert not storage.copy(storage.join(region_dir, "y", "one.csv"), path)
    assert storage.list_files(region_dir) == ["x/one.csv", "y/one.csv"]
    assert storage.delete(path) and not storage.delete(path)
    with pytest.raises(FileNotFoundError):
        storage.copy(path, storage.join(region_dir, "z", "one.csv"))


def test_a_writer_cut_off_and_replaced_is_fenced_and_nothing_of_it_is_seen(region_dir):
    a, _, _ = _writer(region_dir)
    _stage(a, 1, 0, range(0, 10))
    a.commit({"next": {"0": 10}})
    a.publish()
    _stage(a, 1, 0, range(10, 20))  # staged, then a is cut off before its commit
    b, _, open_ = _writer(region_dir)  # the replacement: recovers, claims epoch 2
    assert open_ == {1} and b.epoch == a.epoch + 1
    _stage(b, 1, 0, range(10, 25))
    b.commit({"next": {"0": 25}})
    b.publish()
    _stage(a, 1, 1, range(0, 5))  # the zombie wakes: stages more, then tries to commit
    with pytest.raises(Fenced, match=r"epoch 2 \(run test"):
        a.commit({"next": {"0": 20, "1": 5}})
    got = landed(region_dir, staged_ok=True)
    assert sorted(got) == [(0, o) for o in range(25)]  # the zombie's offsets 10-19 and 1/0-4: not seen
    b.seal(1, 2 * DAY)  # sealing removes the fenced writer's staged files
    assert sorted(landed(region_dir)) == [(0, o) for o in range(25)]
    assert files.is_sealed(files.span_dir(region_dir, 1))


def test_a_commit_not_yet_published_is_published_once_by_the_next_writer(region_dir):
    a, _, _ = _writer(region_dir)
    _stage(a, 2, 0, range(0, 7))
    _stage(a, 3, 1, range(0, 4))
    a.commit({"next": {"0": 7, "1": 4}})  # killed here, before publish
    b, _, open_ = _writer(region_dir)
    assert open_ == {2, 3}
    assert sorted(landed(region_dir)) == [(0, o) for o in range(7)] + [(1, o) for o in range(4)]
    a.publish()  # the old writer resumes its publish after all: a no-op, no error, no copy twice
    assert sorted(landed(region_dir)) == [(0, o) for o in range(7)] + [(1, o) for o in range(4)]


def test_recovery_deletes_exactly_the_staged_files_no_commit_named(region_dir):
    a, _, _ = _writer(region_dir)
    _stage(a, 4, 0, range(0, 3))
    a.commit({"next": {"0": 3}})
    a.publish()
    _stage(a, 4, 0, range(3, 9))  # never committed
    staged = storage.list_files(storage.join(region_dir, *files.PENDING.split("/")))
    assert len(staged) == 1
    _writer(region_dir)
    assert storage.list_files(storage.join(region_dir, *files.PENDING.split("/"))) == []
    assert sorted(landed(region_dir)) == [(0, o) for o in range(3)]


def test_a_publish_cut_short_leaves_a_span_being_landed_and_the_next_writer_completes_it(
    region_dir, monkeypatch
):
    """The manifest is merged before the files are copied: a publish that
    fails on its first copy leaves a folder with a manifest and no
    ``_SUCCESS``, which the ingest counts as not arrived (tests/components/
    ingest); the next writer publishes the rest."""
    from components.ingest.spans import arrived, discovery_globs

    a, _, _ = _writer(region_dir)
    _stage(a, 5, 0, range(0, 3))
    a.commit({"next": {"0": 3}})
    monkeypatch.setenv("DRIFTGATE_FAULT", "write:enospc:EWR/span-5/t+")
    with pytest.raises(OSError, match="injected"):
        a.publish()
    monkeypatch.delenv("DRIFTGATE_FAULT")
    folder = files.span_dir(region_dir, 5)
    assert storage.exists(storage.join(folder, files.MANIFEST))
    assert not [n for n in storage.listdir(folder) if n.endswith(".csv")]
    pattern = "span-{SPAN}/*.csv"
    listed = [p for p in storage.list_files(region_dir) if p.startswith("span-")]
    assert len(discovery_globs(pattern)) == 3 and arrived(listed, pattern) == []
    _writer(region_dir)
    assert sorted(landed(region_dir)) == [(0, o) for o in range(3)]
