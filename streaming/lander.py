"""``driftgate land``: a region's topic into sealed spans, exactly once.

The loop: consume, decode each record (``records``), put its row in the
buffer of (span by event time, partition); poison records go to the
dead-letter topic with their error; records of an already sealed span are
late (quarantined or dropped). A checkpoint every ``land.checkpoint_s``
seconds or ``land.checkpoint_records`` rows writes each buffer as one file,
updates the span manifests, flushes the dead-letter producer and then, as
its commit point, writes ``_land/checkpoint.json`` (next offset per
partition, watermark state); only after that are offsets committed to Kafka
(for lag dashboards; restart never reads them). A span whose end the
watermark passed is checkpointed, its manifest completed with every file's
sha256, and ``_SUCCESS`` written last. The loop wakes at least every second,
so spans seal with no traffic.

Recovery after any crash (``kill -9`` included): files at or past their
partition's checkpointed offset, and their manifest entries, are deleted;
unfinished temporary files too; consumption resumes at the checkpointed offsets.
So every consumed offset lands in exactly one file, and no file is ever half
written.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from driftgate.core import storage
from streaming import files, kafka, records, spans
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
    ):
        self.cfg = cfg
        self.region_dir = region_dir
        self.consumer, self.producer = consumer, producer
        self.clock, self.progress = clock, progress
        self.topic = cfg.kafka.topic(cfg.region)
        self.columns = tuple(cfg.features.all) + (cfg.features.label,)
        self.grain = cfg.land.span
        state = files.read_json(os.path.join(region_dir, files.CHECKPOINT)) or {}
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
        self.recover()
        landed = files.span_folders(region_dir)
        self.sealed = {s for s, folder in landed if files.is_sealed(folder)}
        self.open = {s for s, _ in landed} - self.sealed  # spans with files, not sealed yet

    # -- recovery -----------------------------------------------------------

    def recover(self) -> None:
        """Deletes what an uncommitted checkpoint wrote (see module docstring)."""
        removed = 0
        for late in (False, True):
            for _, folder in files.span_folders(self.region_dir, late):
                for name in os.listdir(folder):
                    parsed = files.parse_name(name)
                    orphan = parsed is not None and parsed[2] >= self.next.get(parsed[1], 0)
                    if orphan or files.is_temporary(name):
                        os.unlink(os.path.join(folder, name))
                        removed += 1
                path = os.path.join(folder, files.MANIFEST)
                manifest = files.read_json(path)
                if manifest is not None:
                    kept = {
                        n: f for n, f in manifest["files"].items() if os.path.exists(os.path.join(folder, n))
                    }
                    if kept != manifest["files"]:
                        manifest["files"] = kept
                        files.write_manifest(folder, manifest)
        if removed:
            self.progress(f"{self.cfg.region}: recovered: removed {removed} uncommitted file(s)")

    # -- consuming ----------------------------------------------------------

    def start_offsets(self, partitions: List[int]) -> Dict[int, Optional[int]]:
        """Where each partition resumes (None: from its beginning); from now on
        the watermark waits for each of them (``Watermark.assign``)."""
        self.watermark.assign(partitions, self.clock())
        return {p: self.next.get(p) for p in partitions}

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
        ts_type, ts = msg.timestamp()
        headers = {k: v for k, v in (msg.headers() or []) if v is not None}
        try:
            event_ms, row = records.decode(
                msg.value(),
                self.columns,
                event_field=self.cfg.kafka.event_time_field,
                record_ts_ms=ts if ts_type != 0 else None,
                schema_version=str(self.cfg.schema.version),
                headers=headers,
                schema_header=self.cfg.kafka.schema_header,
            )
        except records.Refused as exc:
            self.dead_letter(msg, str(exc))
        else:
            span = spans.span_of(event_ms, self.grain)
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
        ready = sorted(s for s in self.open | buffered if spans.bounds(s, self.grain)[1] <= mark)
        if ready:
            self.checkpoint(now)
            for s in ready:
                self.seal(s, mark)

    def checkpoint(self, now: float) -> None:
        began = time.perf_counter()
        written = 0
        by_span: Dict[Tuple[bool, int], List[Tuple[int, Buffer]]] = {}
        for (late, span, p), buf in sorted(self.buffers.items()):
            if buf.rows:
                by_span.setdefault((late, span), []).append((p, buf))
        for (late, span), parts in by_span.items():
            folder = files.span_dir(self.region_dir, span, late)
            manifest = self._manifest(folder, span)  # written before the folder's first file: "being landed"
            for p, buf in parts:
                name = files.file_name(self.topic, p, buf.offsets[0])
                data = files.csv_bytes(self.columns, buf.rows)
                storage.write_atomic(os.path.join(folder, name), data)
                manifest["files"][name] = {
                    "partition": p,
                    "first_offset": buf.offsets[0],
                    "last_offset": buf.offsets[-1],
                    "offsets": files.ranges(buf.offsets),
                    "rows": len(buf.rows),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
                written += 1
            files.write_manifest(folder, manifest)
            if not late:
                self.open.add(span)
        if self.dead_letters:
            left = self.producer.flush(30)
            if left:
                raise RuntimeError(
                    f"{self.cfg.region}: {left} dead letter(s) not delivered to "
                    f"{self.cfg.kafka.dlq(self.cfg.region)}; nothing committed, they are retried on restart"
                )
            self.dead_letters = 0
        self.counts["files"] += written
        files.write_json(
            os.path.join(self.region_dir, files.CHECKPOINT),
            {
                "next": {str(p): o for p, o in self.consumed.items()},
                "watermark": self.watermark.to_json(),
                "counts": dict(self.counts),
                "written_at": now,
            },
        )
        self.next = dict(self.consumed)
        self.buffers.clear()
        self.last_checkpoint = now
        self.checkpoint_seconds = time.perf_counter() - began
        self._commit_to_kafka()

    def _manifest(self, folder: str, span: int) -> dict:
        """The folder's manifest, created (and written) when it has none."""
        manifest = files.read_json(os.path.join(folder, files.MANIFEST))
        if manifest is None:
            start, end = spans.bounds(span, self.grain)
            manifest = {
                "region": self.cfg.region,
                "topic": self.topic,
                "span": span,
                "grain": self.grain,
                "start_ms": start,
                "end_ms": end,
                "files": {},
                "sealed": False,
            }
            files.write_manifest(folder, manifest)
        return manifest

    def _commit_to_kafka(self) -> None:
        kafka.commit(self.consumer, self.topic, self.next, lambda s: self.progress(f"{self.cfg.region}: {s}"))

    def seal(self, span: int, mark: int) -> None:
        folder = files.span_dir(self.region_dir, span)
        path = os.path.join(folder, files.MANIFEST)
        manifest = files.read_json(path)
        for name, entry in manifest["files"].items():
            actual = files.sha256(os.path.join(folder, name))
            if actual != entry["sha256"]:
                raise RuntimeError(
                    f"{folder}/{name}: sha256 {actual} differs from the manifest's; not sealing"
                )
        manifest.update(sealed=True, watermark_ms=mark)
        files.write_manifest(folder, manifest)
        storage.write_atomic(os.path.join(folder, files.SUCCESS), b"")
        self.sealed.add(span)
        self.open.discard(span)
        self.counts["sealed"] += 1
        self.progress(
            f"{self.cfg.region}: sealed span {span}: {manifest['rows']:,} rows in {len(manifest['files'])} file(s)"
        )
