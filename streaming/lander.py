"""``driftgate land``: a region's topic into sealed spans, exactly once, on a
disk or a bucket.

The loop: consume, decode each record (``records``), put its row in the
buffer of (span by event time, partition); poison records go to the
dead-letter topic with their error; records of an already sealed span are
late (quarantined or dropped). A checkpoint every ``land.checkpoint_s``
seconds or ``land.checkpoint_records`` rows hands the buffers to the writer
(``streaming.sink.writer``: stage each as one file, then, after the
dead-letter producer is flushed, commit ``_land/checkpoint.json`` by
compare-and-swap, then publish); only after that are offsets committed to
Kafka (for lag dashboards; restart never reads them). A span whose end the
watermark passed is checkpointed, its files checked against its manifest's
sha256, and ``_SUCCESS`` written last. The loop wakes at least every second,
so spans seal with no traffic.

At start the lander reads the checkpoint, recovers (publishes what was
committed, deletes what was not) and claims the checkpoint with the next
epoch; a lander that loses it to another stops at its next commit
(``streaming.sink.commit.Fenced``). So every consumed offset lands in
exactly one published file, and no file is ever half written, across
``kill -9`` and a zombie lander alike.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from streaming import kafka, records
from streaming.sink.commit import Checkpoint
from streaming.sink.format import CsvFormat
from streaming.sink.partitioner import SpanPartitioner
from streaming.sink.writer import SpanWriter
from streaming.watermark import Watermark

ERROR_HEADER = "driftgate-error"
SOURCE_HEADER = "driftgate-source"


@dataclass
class Buffer:
    rows: List[Tuple[str, ...]] = field(default_factory=list)
    offsets: List[int] = field(default_factory=list)


class Lander:
    """One region's lander. ``consumer``/``producer``: confluent-kafka clients
    (the producer carries dead letters); ``clock``: wall clock in seconds."""

    def __init__(
        self,
        cfg,
        region_dir: str,
        consumer,
        producer,
        *,
        clock: Callable[[], float] = time.time,
        progress: Callable[[str], None] = lambda line: None,
        run: Optional[str] = None,
    ):
        self.cfg = cfg
        self.region_dir = region_dir
        self.consumer, self.producer = consumer, producer
        self.clock, self.progress = clock, progress
        self.topic = cfg.kafka.topic(cfg.region)
        self.columns = tuple(cfg.features.all) + (cfg.features.label,)
        self.partitioner = SpanPartitioner(cfg.land.span)
        self.checkpoint_file = Checkpoint(region_dir, cfg.region)
        state = self.checkpoint_file.read()
        self.writer = SpanWriter(
            region_dir,
            region=cfg.region,
            topic=self.topic,
            partitioner=self.partitioner,
            fmt=CsvFormat(self.columns),
            checkpoint=self.checkpoint_file,
            progress=progress,
        )
        self.next: Dict[int, int] = {int(p): int(o) for p, o in state.get("next", {}).items()}
        self.consumed = dict(self.next)
        # partitions whose first record of this run was checked against the checkpoint
        self.resumed: set = set()
        self.watermark = Watermark(
            cfg.land.allowed_lateness_s, cfg.land.idle_partition_s, state.get("watermark")
        )
        self.counts = Counter(state.get("counts", {}))
        self.buffers: Dict[Tuple[bool, int, int], Buffer] = {}
        self.dead_letters = 0
        self.lag: Dict[int, int] = {}  # records past the checkpoint, per partition (metrics)
        self.last_checkpoint = clock()
        self.checkpoint_seconds = 0.0
        self.sealed, self.open = self.writer.recover(state)  # open: spans with files, not sealed yet
        self.epoch = self.checkpoint_file.claim(self._state(clock()), run or f"land-{cfg.region}")

    # -- consuming ----------------------------------------------------------

    def start_offsets(self, partitions: List[int]) -> Dict[int, Optional[int]]:
        """Where each partition resumes (None: from its beginning); from now on
        the watermark waits for each of them (``Watermark.assign``)."""
        self.watermark.assign(partitions, self.clock())
        return {p: self.next.get(p) for p in partitions}

    def handle_batch(self, msgs, now: float) -> None:
        for m in msgs:
            self.handle(m, now)

    def busy(self) -> bool:
        """Rows buffered, not yet checkpointed (the loop does not stop idle then)."""
        return self.buffered() > 0

    def handle(self, msg, now: float) -> None:
        p, offset = msg.partition(), msg.offset()
        if offset < self.consumed.get(p, 0):
            return  # landed before the restart
        if p in self.next and p not in self.resumed:
            self.resumed.add(p)
            if offset > self.next[p]:  # e.g. deleted by the topic's retention before they were landed
                self.counts["skipped_offsets"] += offset - self.next[p]
                self.progress(
                    f"{self.cfg.region}: warning: {self.topic}/{p} resumes at offset {offset}, not at the "
                    f"checkpointed {self.next[p]}: {offset - self.next[p]:,} offset(s) were not delivered "
                    "(deleted by the topic's retention or compaction, or transaction markers); "
                    "keep retention.ms above the lander's longest downtime"
                )
        headers = {k: v for k, v in (msg.headers() or []) if v is not None}
        try:
            event_ms, row = records.decode(
                msg.value(),
                self.columns,
                event_field=self.cfg.kafka.event_time_field,
                record_ts_ms=records.record_timestamp(msg),
                schema_version=str(self.cfg.schema.version),
                headers=headers,
                schema_header=self.cfg.kafka.schema_header,
            )
        except records.Refused as exc:
            self.dead_letter(msg, str(exc))
        else:
            span = self.partitioner.span(event_ms)
            late = span in self.sealed
            self.counts["records"] += 1
            if late:
                self.counts["late"] += 1
            if not (late and self.cfg.land.late_policy == "drop"):
                buf = self.buffers.setdefault((late, span, p), Buffer())
                buf.rows.append(row)
                buf.offsets.append(offset)
            self.watermark.observe(p, event_ms, now)
        self.consumed[p] = offset + 1

    def dead_letter(self, msg, reason: str) -> None:
        self.counts["dead_letters"] += 1
        self.dead_letters += 1
        self.producer.produce(
            self.cfg.kafka.dlq(self.cfg.region),
            value=msg.value(),
            key=msg.key(),
            headers=[
                (ERROR_HEADER, reason.encode()),
                (SOURCE_HEADER, f"{msg.topic()}/{msg.partition()}/{msg.offset()}".encode()),
            ],
        )

    def buffered(self) -> int:
        return sum(len(b.rows) for b in self.buffers.values())

    # -- checkpoint and seal ------------------------------------------------

    def tick(self, now: float, behind=()) -> None:
        """Checkpoints when due and seals every span the watermark passed
        (``behind``: partitions with records waiting on the broker)."""
        moved = self.consumed != self.next
        due = now - self.last_checkpoint >= self.cfg.land.checkpoint_s
        if self.buffered() >= self.cfg.land.checkpoint_records or (moved and due):
            self.checkpoint(now)
        mark = self.watermark.advance(now, behind)
        if mark is None:
            return
        buffered = {s for (late, s, _) in self.buffers if not late}
        ready = sorted(s for s in self.open | buffered if self.partitioner.bounds(s)[1] <= mark)
        if ready:
            self.checkpoint(now)
            for s in ready:
                self.seal(s, mark)

    def _state(self, now: float) -> dict:
        return {
            "next": {str(p): o for p, o in self.consumed.items()},
            "watermark": self.watermark.to_json(),
            "counts": dict(self.counts),
            "written_at": now,
        }

    def checkpoint(self, now: float) -> None:
        began = time.perf_counter()
        written = 0
        for (late, span, p), buf in sorted(self.buffers.items()):
            if buf.rows:
                self.writer.stage(span, late, p, buf.offsets, buf.rows)
                written += 1
        if self.dead_letters:
            left = self.producer.flush(30)
            if left:
                raise RuntimeError(
                    f"{self.cfg.region}: {left} dead letter(s) not delivered to "
                    f"{self.cfg.kafka.dlq(self.cfg.region)}; nothing committed, they are retried on restart"
                )
            self.dead_letters = 0
        self.counts["files"] += written
        self.writer.commit(self._state(now))
        self.writer.publish()
        self.open |= {span for (late, span, _), buf in self.buffers.items() if buf.rows and not late}
        self.next = dict(self.consumed)
        self.buffers.clear()
        self.last_checkpoint = now
        self.checkpoint_seconds = time.perf_counter() - began
        self._commit_to_kafka()

    def _commit_to_kafka(self) -> None:
        kafka.commit(self.consumer, self.topic, self.next, lambda s: self.progress(f"{self.cfg.region}: {s}"))

    def seal(self, span: int, mark: int) -> None:
        manifest = self.writer.seal(span, mark)
        self.sealed.add(span)
        self.open.discard(span)
        self.counts["sealed"] += 1
        self.progress(
            f"{self.cfg.region}: sealed span {span}: {manifest['rows']:,} rows in {len(manifest['files'])} file(s)"
        )
