"""``driftgate stream``: a region's topic watched for drift, window by window.

The loop (``streaming.loop``, the lander's too): consume, read each
record's event time (``records.event_time``, as the lander reads it: the
event-time field, else the record's timestamp) and put it in its pane
(``streaming.detector``); a record that is not a JSON object with an event
time is counted as refused (the lander sends it to the dead-letter topic).
Every tick advances the event-time watermark (``streaming.watermark``, the
stream's own lateness and idleness), judges the panes it passed, and hands
the episodes' transitions to the alert sink. A pane of a span that has
ended adds to that span's summary, written to ``_stream/span-<N>.json``
(per feature: rows, missing, mean, std, value counts, and the scores against
the baseline) when a pane of a later span is judged; it joins the batch
verdict on the same span by span number and offsets.

Checkpoint (every ``stream.checkpoint_s``): a pane never changes once judged
(late records are counted, not added), so each closed pane is written once,
in a segment ``_stream/panes/<first>-<last>.<id>.json.z`` holding the panes
judged since the checkpoint before, and the segment is deleted when its
newest pane has left the longest window. The rest (the open panes, episodes,
CUSUM, newest scores, span summaries in progress, the watermark and the next
offset per partition) and the list of segments in use go into
``_stream/checkpoint.json.z``, written atomically after the segments: the
commit point. A segment it does not list (written by a run that died before
its commit, or no longer needed) is deleted at start and after every commit.
So a checkpoint writes a few panes and a small file, not the whole window.
A restart reads the file and its segments, seeks to its offsets and re-judges
exactly what the lost run had judged after its last checkpoint: the same
records give the same scores. A checkpoint of the old layout (every pane in
the one file) is read as it is; the first checkpoint after it writes its
closed panes into one segment. An alert is recorded in ``_stream/alerts.json``
the moment it is sent, keyed by its episode, so a re-judged episode is never
alerted twice.

Nothing here grows with the time it runs: the detector's state is bounded
(``streaming.detector``), the transitions handed to the sink are kept for
the result only up to ``stream.keep_transitions`` (the newest; the others
counted in ``transitions_dropped``, they went to the sink first), and a
span's counts and offsets are dropped once its summary is written (offsets
of late records of a span already written, too).
"""

from __future__ import annotations

import json
import os
import time
import uuid
import zlib
from collections import deque
from typing import Callable, Deque, Dict, List, Optional

from driftgate.core import storage
from streaming import files, records, spans
from streaming.baseline import Baseline
from streaming.detector import Detector, Transition
from streaming.panes import Counts
from streaming.watermark import Watermark

STATE_DIR = "_stream"
CHECKPOINT = os.path.join(STATE_DIR, "checkpoint.json.z")
PANES = os.path.join(STATE_DIR, "panes")  # closed panes, each written once (segments)
LAYOUT = 2  # 1 (no "layout" key): every pane in the checkpoint file
SENT = os.path.join(STATE_DIR, "alerts.json")


def span_summary_path(region_dir: str, span: int) -> str:
    return os.path.join(region_dir, STATE_DIR, f"span-{span}.json")


class Streamer:
    """One region's stream watcher. ``sink(transitions)``: dispatches alerts."""

    def __init__(
        self,
        cfg,
        region_dir: str,
        baseline: Baseline,
        thresholds,
        tier,
        *,
        sink: Callable[[List[Transition]], None] = lambda ts: None,
        progress: Callable[[str], None] = lambda line: None,
        commit: Callable[[Dict[int, int]], None] = lambda offsets: None,
    ):
        self.cfg, self.region_dir, self.baseline = cfg, region_dir, baseline
        self.sink, self.progress, self.commit = sink, progress, commit
        self.event_field = cfg.kafka.event_time_field
        s = cfg.stream
        state = read_state(region_dir, lambda line: progress(f"{cfg.region}: {line}")) or {}
        prune_segments(region_dir, state.get("segments", []))  # none a committed checkpoint lists
        if state and state.get("baseline") != baseline.fingerprint:
            progress(
                f"{cfg.region}: the serving model's baseline changed since the checkpoint: "
                "windows, episodes and CUSUM start afresh from the checkpointed offsets"
            )
            state = {
                "next": state.get("next", {}),
                "watermark": state.get("watermark"),
                "counts": state.get("counts"),
            }
        self.next: Dict[int, int] = {int(p): int(o) for p, o in state.get("next", {}).items()}
        self.consumed = dict(self.next)
        self.watermark = Watermark(s.allowed_lateness_s, s.idle_partition_s, state.get("watermark"))
        self.detector = Detector(baseline, s, thresholds, tier, state.get("detector"), keep_judged=True)
        # the segments the committed checkpoint lists ([name, first pane, last pane]), and
        # the last pane they hold: panes judged after it are written at the next checkpoint
        self.segments: List[list] = [list(g) for g in state.get("segments", [])]
        self.saved_to: Optional[int] = self.detector.closed if "segments" in state else None
        self.counts: Dict[str, int] = dict(state.get("counts") or {})
        self.span_counts: Dict[int, Counts] = {
            int(k): Counts.from_json(baseline, v) for k, v in state.get("spans", {}).items()
        }
        self.span_offsets: Dict[int, Dict[str, List[int]]] = {
            int(k): v for k, v in state.get("span_offsets", {}).items()
        }
        self.pending: Dict[int, list] = {}  # pane -> records not yet counted
        self.last_checkpoint = time.time()
        self.transitions: Deque[Transition] = deque(maxlen=s.keep_transitions)  # the newest, for the result
        self.transitions_dropped = 0  # handed to the sink, then dropped from ``transitions`` (this process)
        self.lag: Dict[int, int] = {}  # records on the broker past the checkpoint, per partition (metrics)

    # -- consuming ----------------------------------------------------------

    def start_offsets(self, partitions, now: float) -> Dict[int, Optional[int]]:
        self.watermark.assign(partitions, now)
        return {p: self.next.get(p) for p in partitions}

    def handle_batch(self, msgs, now: float) -> None:
        """Reads a consumed batch: one JSON parse for the batch (record by record
        when one of them is not JSON), then each record into its pane."""
        fresh = []
        for m in msgs:
            p, offset = m.partition(), m.offset()
            if offset < self.consumed.get(p, 0):
                continue
            self.consumed[p] = offset + 1
            fresh.append(m)
        if not fresh:
            return
        values = [m.value() or b"null" for m in fresh]
        try:
            docs = json.loads(b"[" + b",".join(values) + b"]")
            if len(docs) != len(fresh):
                raise ValueError("a record held more than one value")
        except (ValueError, UnicodeDecodeError):
            docs = []
            for v in values:
                try:
                    docs.append(json.loads(v))
                except (ValueError, UnicodeDecodeError):
                    docs.append(None)
        field, grain = self.event_field, self.cfg.land.span
        pane_ms = self.detector.pane_ms
        newest: Dict[int, int] = {}
        spans_seen: Dict[tuple, List[int]] = {}
        span_of_pane: Dict[int, int] = {}
        for m, doc in zip(fresh, docs, strict=True):
            try:
                if doc.__class__ is not dict:
                    raise records.Refused("not a JSON object")
                ts = records.event_time(doc, field, msg=m)
            except records.Refused:
                self.counts["refused"] = self.counts.get("refused", 0) + 1
                continue
            pane = ts // pane_ms
            self.pending.setdefault(pane, []).append(doc)
            p = m.partition()
            if ts > newest.get(p, -1):
                newest[p] = ts
            span = span_of_pane.get(pane)
            if span is None:
                span = span_of_pane[pane] = spans.span_of(pane * pane_ms, grain)  # panes never straddle spans
            key = (span, p)
            rng = spans_seen.setdefault(key, [m.offset(), m.offset()])
            rng[0], rng[1] = min(rng[0], m.offset()), max(rng[1], m.offset())
        for (span, p), (lo, hi) in spans_seen.items():
            rng = self.span_offsets.setdefault(span, {}).setdefault(str(p), [lo, hi])
            rng[0], rng[1] = min(rng[0], lo), max(rng[1], hi)
        for p, ts in newest.items():
            self.watermark.observe(p, ts, now)

    def flush(self) -> None:
        for pane, docs in sorted(self.pending.items()):
            self.detector.add(pane, docs)
        self.pending.clear()

    # -- judging and checkpoints ----------------------------------------------

    def busy(self) -> bool:
        return False  # nothing is held between ticks that an idle exit would lose: it checkpoints on exit

    def tick(self, now: float, behind=()) -> List[Transition]:
        """Judges the panes the watermark closed (``behind``: partitions with
        records waiting on the broker, which it does not count idle)."""
        self.flush()
        before = self.detector.closed
        out = self.detector.advance(self.watermark.advance(now, behind))
        if self.detector.closed is not None and self.detector.closed != before:
            self._spans(before)
        if out:
            self.sink(out)  # every alert is handed over before any transition is dropped
            self.transitions_dropped += max(0, len(self.transitions) + len(out) - self.transitions.maxlen)
            self.transitions.extend(out)
        if now - self.last_checkpoint >= self.cfg.stream.checkpoint_s and self.consumed != self.next:
            self.checkpoint(now)
        return out

    def _spans(self, before: Optional[int]) -> None:
        """Adds the newly judged panes to their spans; writes the spans that ended."""
        grain = self.cfg.land.span
        pane_ms = self.detector.pane_ms
        for t, counts in self.detector.judged:
            span = spans.span_of(t * pane_ms, grain)
            self.span_counts.setdefault(span, Counts(self.baseline)).merge(counts)
        self.detector.judged.clear()
        last = spans.span_of((self.detector.closed + 1) * pane_ms, grain)
        for span in sorted(s for s in self.span_counts if s < last):
            self.write_span(span, self.span_counts.pop(span))
        for span in [s for s in self.span_offsets if s < last]:
            del self.span_offsets[span]  # ended with nothing judged, or offsets of late records

    def write_span(self, span: int, counts: Counts) -> None:
        from streaming.summary import span_summary

        doc = span_summary(self.cfg, span, counts, self.baseline, self.span_offsets.pop(span, {}))
        storage.write_atomic(span_summary_path(self.region_dir, span), json.dumps(doc, indent=1).encode())
        self.progress(f"{self.cfg.region}: stream summary of span {span}: {counts.rows:,} records")

    def full_state(self, now: float) -> dict:
        """The whole state as one document, every pane in it: what the
        checkpoint file held before pane segments (layout 1), and what
        ``read_state`` assembles from a checkpoint and its segments."""
        self.flush()
        return self._state(now, None)

    def _state(self, now: float, panes) -> dict:
        return {
            "baseline": self.baseline.fingerprint,
            "next": {str(p): o for p, o in self.consumed.items()},
            "watermark": self.watermark.to_json(),
            "detector": self.detector.to_json(panes),
            "counts": self.counts,
            "spans": {str(k): v.to_json() for k, v in self.span_counts.items()},
            "span_offsets": {str(k): v for k, v in self.span_offsets.items()},
            "written_at": now,
        }

    def checkpoint(self, now: float) -> None:
        """Writes the panes judged since the last checkpoint as one segment,
        then the checkpoint file listing the segments in use (the commit
        point), then deletes the segments it no longer lists."""
        self.flush()
        det = self.detector
        closed = det.closed
        segments = list(self.segments)
        if closed is not None:
            new = sorted(p for p in det.panes if p <= closed and (self.saved_to is None or p > self.saved_to))
            if new:
                name = f"{new[0]}-{new[-1]}.{uuid.uuid4().hex[:8]}.json.z"
                doc = {"panes": {str(p): det.panes[p].to_json() for p in new}}
                storage.write_atomic(
                    os.path.join(self.region_dir, PANES, name), zlib.compress(json.dumps(doc).encode(), 3)
                )
                segments.append([name, new[0], new[-1]])
            segments = [g for g in segments if g[2] > closed - det.keep]  # a pane still in a window
        state = self._state(now, [p for p in det.panes if closed is None or p > closed])
        state.update(layout=LAYOUT, segments=segments, keep=det.keep)
        storage.write_atomic(
            os.path.join(self.region_dir, CHECKPOINT), zlib.compress(json.dumps(state).encode(), 3)
        )
        self.segments, self.saved_to = segments, closed
        prune_segments(self.region_dir, segments)
        self.next = dict(self.consumed)
        self.last_checkpoint = now
        self.commit(self.next)  # Kafka's copy, for lag dashboards; a restart reads the checkpoint


def read_state(region_dir: str, progress: Callable[[str], None] = lambda line: None) -> Optional[dict]:
    """The committed state as one document (``Streamer.full_state``'s
    shape): the checkpoint file with the closed panes of its segments put
    back (those its run still held: inside the longest window, ``keep``
    panes, of the last one judged), and the segments it lists that could be
    read. A segment that cannot be read is named through ``progress`` and
    left out (the watcher deletes it at start): its panes are missing from
    the windows until they would have left them. None without a checkpoint."""
    path = os.path.join(region_dir, CHECKPOINT)
    if not os.path.exists(path):
        return None
    with open(path, "rb") as fh:
        state = json.loads(zlib.decompress(fh.read()))
    if "segments" not in state:
        return state  # layout 1: every pane in the file
    det = state.setdefault("detector", {})
    closed, keep = det.get("closed"), state.get("keep")
    panes = det.setdefault("panes", {})
    lost, found = [], []
    for g in state["segments"]:
        try:
            with open(os.path.join(region_dir, PANES, g[0]), "rb") as fh:
                doc = json.loads(zlib.decompress(fh.read()))
        except (OSError, ValueError, zlib.error) as exc:
            lost.append(f"{g[0]} ({exc.__class__.__name__})")
            continue
        found.append(g)
        for k, v in doc["panes"].items():
            p = int(k)
            if closed is not None and p <= closed and (keep is None or p > closed - keep):
                panes[k] = v
    if lost:
        progress(
            f"the checkpoint's pane segments {', '.join(lost)} cannot be read: their panes are left out "
            "of the windows until they would have left them"
        )
    state["detector"]["panes"] = {k: panes[k] for k in sorted(panes, key=int)}
    state["segments"] = found
    return state


def prune_segments(region_dir: str, segments) -> None:
    """Deletes every file under ``_stream/panes/`` but the ``segments`` listed."""
    folder = os.path.join(region_dir, PANES)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    keep = {g[0] for g in segments}
    for name in names:
        if name not in keep:
            try:
                os.unlink(os.path.join(folder, name))
            except FileNotFoundError:
                pass


def sent_alerts(region_dir: str) -> dict:
    return files.read_json(os.path.join(region_dir, SENT)) or {}
