"""``driftgate stream``: a region's topic watched for drift, window by window.

The loop: consume, read each record's event time (as the lander does: the
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

Checkpoint (every ``stream.checkpoint_s``): the detector's state (panes
still inside the longest window, episodes, CUSUM), the watermark and the
next offset per partition in one file written atomically, the commit point.
A restart seeks to those offsets and re-judges exactly what the lost run
had judged after its last checkpoint: the same records give the same
scores. An alert is recorded in ``_stream/alerts.json`` the moment it is
sent, keyed by its episode, so a re-judged episode is never alerted twice.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from typing import Callable, Dict, List, Optional

from driftgate.core import storage
from streaming import files, spans
from streaming.baseline import Baseline
from streaming.detector import Detector, Transition
from streaming.panes import Counts
from streaming.spans import EventTimeError, parse_event_time
from streaming.watermark import Watermark

STATE_DIR = "_stream"
CHECKPOINT = os.path.join(STATE_DIR, "checkpoint.json.z")
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
        state = read_state(region_dir) or {}
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
        s = cfg.stream
        self.watermark = Watermark(s.allowed_lateness_s, s.idle_partition_s, state.get("watermark"))
        self.detector = Detector(baseline, s, thresholds, tier, state.get("detector"))
        self.counts: Dict[str, int] = dict(state.get("counts") or {})
        self.span_counts: Dict[int, Counts] = {
            int(k): Counts.from_json(baseline, v) for k, v in state.get("spans", {}).items()
        }
        self.span_offsets: Dict[int, Dict[str, List[int]]] = {
            int(k): v for k, v in state.get("span_offsets", {}).items()
        }
        self.pending: Dict[int, list] = {}  # pane -> records not yet counted
        self.last_checkpoint = time.time()
        self.transitions: List[Transition] = []
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
            ts = None
            if doc.__class__ is dict:
                raw = doc.get(field)
                if raw.__class__ is int:
                    ts = raw
                else:
                    try:
                        ts = parse_event_time(raw)
                    except EventTimeError:
                        doc = None
                if ts is None and doc is not None:
                    ts_type, ts = m.timestamp()
                    if ts_type == 0 or ts is None or ts < 0:
                        ts = None
            if doc.__class__ is not dict or ts is None:
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

    def tick(self, now: float, behind=()) -> List[Transition]:
        """Judges the panes the watermark closed (``behind``: partitions with
        records waiting on the broker, which it does not count idle)."""
        self.flush()
        before = self.detector.closed
        out = self.detector.advance(self.watermark.advance(now, behind))
        if self.detector.closed is not None and self.detector.closed != before:
            self._spans(before)
        if out:
            self.sink(out)
            self.transitions += out
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

    def write_span(self, span: int, counts: Counts) -> None:
        from streaming.summary import span_summary

        doc = span_summary(self.cfg, span, counts, self.baseline, self.span_offsets.pop(span, {}))
        storage.write_atomic(span_summary_path(self.region_dir, span), json.dumps(doc, indent=1).encode())
        self.progress(f"{self.cfg.region}: stream summary of span {span}: {counts.rows:,} records")

    def checkpoint(self, now: float) -> None:
        self.flush()
        state = {
            "baseline": self.baseline.fingerprint,
            "next": {str(p): o for p, o in self.consumed.items()},
            "watermark": self.watermark.to_json(),
            "detector": self.detector.to_json(),
            "counts": self.counts,
            "spans": {str(k): v.to_json() for k, v in self.span_counts.items()},
            "span_offsets": {str(k): v for k, v in self.span_offsets.items()},
            "written_at": now,
        }
        storage.write_atomic(
            os.path.join(self.region_dir, CHECKPOINT), zlib.compress(json.dumps(state).encode(), 3)
        )
        self.next = dict(self.consumed)
        self.last_checkpoint = now
        self.commit(self.next)  # Kafka's copy, for lag dashboards; a restart reads the checkpoint


def read_state(region_dir: str) -> Optional[dict]:
    path = os.path.join(region_dir, CHECKPOINT)
    if not os.path.exists(path):
        return None
    with open(path, "rb") as fh:
        return json.loads(zlib.decompress(fh.read()))


def sent_alerts(region_dir: str) -> dict:
    return files.read_json(os.path.join(region_dir, SENT)) or {}
