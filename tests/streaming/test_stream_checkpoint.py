"""The stream watcher's checkpoint layout (no broker: consumed messages built
in memory, ``tests/streaming/simulated.py``; the broker path and a real
``kill -9`` are ``test_stream.py``). Two hours of event time at 20 records/s
over three partitions, default windows and panes, a temperature shift in
the second hour, a span (day) ending on the way:

- each checkpoint writes the panes judged since the one before plus a small
  commit file, a small share of the whole state once the 60-minute window is
  full, and the state on disk stays one window's worth;
- a run that dies after a checkpoint and restarts from it ends in the same
  panes, episodes, CUSUM, scores and span summary as an uninterrupted run;
- pane segments no committed checkpoint lists (a run that died between
  writing a segment and its commit; a temporary file) are deleted at start,
  and the state read back is the committed one;
- a checkpoint of the old layout (every pane in the one file) is read as it
  is, and the next checkpoint moves its closed panes into one segment;
- a segment that cannot be read is named, its panes (only those) are left
  out, and the next checkpoint no longer lists it.

What it does not prove: durability across a power loss (``storage.write_atomic``
fsyncs each file, not the folder), a bucket (the watcher keeps its state on a
local volume)."""

import json
import os
import zlib

import pytest

from driftgate.core import storage
from streaming.streamer import CHECKPOINT, PANES, read_state, span_summary_path
from tests.streaming import simulated
from tests.streaming.test_detector import rounded

HOUR = 3600
START = simulated.START + 23 * HOUR * 1000  # 23:00: the day's span ends after an hour
RATE = 20


@pytest.fixture(scope="module")
def region(stats_of):
    return simulated.Region(stats_of)


@pytest.fixture(scope="module")
def feed(region):
    return list(
        simulated.batches(region, 2 * HOUR, rate=RATE, start_ms=START, shift_every_s=2 * HOUR, shift_s=1800)
    )


class Writes:
    """Bytes written under the state folder, per kind, checkpoint by checkpoint."""

    def __init__(self, monkeypatch):
        self.commits, self.panes = [], 0
        write = storage.write_atomic

        def counting(path, data):
            if os.sep + "panes" + os.sep in path:
                self.panes += len(data)
            elif path.endswith(CHECKPOINT):
                self.commits.append(self.panes + len(data))
                self.panes = 0
            return write(path, data)

        monkeypatch.setattr(storage, "write_atomic", counting)


def _run(region, folder, feed, start=0, stop=None, streamer=None):
    s = streamer or region.streamer(folder, feed[start][1] - 5)
    committed = None
    for i in range(start, len(feed) if stop is None else stop):
        msgs, now = feed[i]
        s.handle_batch(msgs, now)
        before = s.last_checkpoint
        s.tick(now)
        if s.last_checkpoint != before:
            committed = i
    return s, committed


def _files(folder):
    panes = os.path.join(folder, PANES)
    return sorted(os.listdir(panes)) if os.path.isdir(panes) else []


def _same(a, b):
    for part in ("panes", "episodes", "cusum", "latest", "closed", "counts"):
        assert rounded(a["detector"][part]) == rounded(b["detector"][part]), part


def test_checkpoints_write_new_panes_and_a_restart_ends_where_an_uninterrupted_run_does(
    region, feed, tmp_path, monkeypatch
):
    writes = Writes(monkeypatch)
    whole, _ = _run(region, str(tmp_path / "whole"), feed)
    whole.checkpoint(feed[-1][1])
    ref = read_state(str(tmp_path / "whole"))
    assert whole.detector.counts["panes"] >= 2 * HOUR / 10 - 2
    assert any(t.kind == "open" and t.episode.feature == "temp" for t in whole.transitions)
    assert len(ref["detector"]["panes"]) == 361  # the 60-minute window and the pane being filled
    full = len(zlib.compress(json.dumps(whole.full_state(feed[-1][1])).encode(), 3))
    second_hour = writes.commits[len(writes.commits) // 2 :]
    assert max(second_hour) < full / 10, (max(second_hour), full)  # not the whole window each time
    on_disk = sum(
        os.path.getsize(os.path.join(tmp_path / "whole", PANES, n)) for n in _files(tmp_path / "whole")
    )
    assert on_disk < 1.5 * full
    assert len(_files(tmp_path / "whole")) <= 360 / 3 + 2  # segments leave with their panes

    # the same records, the run lost after a checkpoint (before the day's span
    # ended and before the shift) and the records after it read again
    folder = str(tmp_path / "killed")
    stop = int(len(feed) * 0.45)
    lost, at = _run(region, folder, feed, stop=stop)
    _, later = _run(region, folder, feed, start=stop, stop=at + 5, streamer=lost)  # 20 s past it
    assert later is None
    restarted = region.streamer(folder, feed[at][1])
    assert restarted.next == lost.next and restarted.detector.closed < lost.detector.closed
    _run(region, folder, feed, start=at + 1, streamer=restarted)
    restarted.checkpoint(feed[-1][1])
    again = read_state(folder)
    _same(again, ref)
    assert again["next"] == ref["next"]
    day = (START // 1000 + 1800) // 86400
    with (
        open(span_summary_path(str(tmp_path / "whole"), day)) as a,
        open(span_summary_path(folder, day)) as b,
    ):
        assert rounded(json.load(a)["features"]) == rounded(json.load(b)["features"])


def test_segments_a_commit_does_not_list_are_deleted_and_the_committed_state_is_read(
    region, feed, tmp_path, monkeypatch
):
    folder = str(tmp_path)
    s, _ = _run(region, folder, feed, stop=len(feed) // 2)
    s.checkpoint(feed[len(feed) // 2 - 1][1])
    committed = read_state(folder)
    listed = _files(folder)
    assert listed == sorted(g[0] for g in committed["segments"])
    # the run dies between writing a segment and the commit that would list it
    _run(region, folder, feed, start=len(feed) // 2, stop=len(feed) // 2 + 5, streamer=s)
    write = storage.write_atomic

    def dies_at_commit(path, data):
        if path.endswith(CHECKPOINT):
            raise OSError("killed")
        return write(path, data)

    monkeypatch.setattr(storage, "write_atomic", dies_at_commit)
    with pytest.raises(OSError):
        s.checkpoint(feed[len(feed) // 2 + 4][1])
    monkeypatch.setattr(storage, "write_atomic", write)
    orphans = sorted(set(_files(folder)) - set(listed))
    assert len(orphans) == 1
    with open(os.path.join(folder, PANES, ".tmp-0123-x.json.z.part"), "wb") as fh:
        fh.write(b"half")
    restarted = region.streamer(folder, feed[len(feed) // 2][1])
    assert _files(folder) == listed
    _same(restarted.full_state(0), committed)


def test_an_old_layout_checkpoint_is_read_and_its_closed_panes_move_to_one_segment(region, feed, tmp_path):
    folder = str(tmp_path)
    s, _ = _run(region, str(tmp_path / "source"), feed, stop=len(feed) // 2)
    old = s.full_state(feed[len(feed) // 2 - 1][1])  # layout 1: every pane in the file
    assert "segments" not in old and len(old["detector"]["panes"]) > 300
    storage.write_atomic(os.path.join(folder, CHECKPOINT), zlib.compress(json.dumps(old).encode(), 3))
    restarted = region.streamer(folder, feed[len(feed) // 2][1])
    _same(restarted.full_state(0), old)
    assert _files(folder) == []
    restarted.checkpoint(feed[len(feed) // 2][1])
    (segment,) = _files(folder)
    state = read_state(folder)
    assert state["layout"] == 2 and [g[0] for g in state["segments"]] == [segment]
    _same(state, old)


def test_a_segment_that_cannot_be_read_is_named_and_its_panes_left_out(region, feed, tmp_path):
    folder = str(tmp_path)
    s, _ = _run(region, folder, feed, stop=len(feed) // 2)
    s.checkpoint(feed[len(feed) // 2 - 1][1])
    committed = read_state(folder)
    name, first, last = committed["segments"][-1]
    with open(os.path.join(folder, PANES, name), "wb") as fh:
        fh.write(b"not zlib")
    lines = []
    restarted = region.streamer(folder, feed[len(feed) // 2][1], progress=lines.append)
    assert any(name in line and "cannot be read" in line for line in lines), lines
    kept = restarted.full_state(0)["detector"]["panes"]
    assert set(committed["detector"]["panes"]) - set(kept) == {str(p) for p in range(first, last + 1)}
    assert name not in _files(folder)
    restarted.checkpoint(feed[len(feed) // 2][1])
    assert name not in [g[0] for g in read_state(folder)["segments"]]
