"""Stage, commit, publish: how the lander's buffers become span files that
are each written exactly once, on a disk or a bucket alike.

1. **stage**: each buffer (one span folder, one partition) is encoded
   (``format``) and created whole under ``_land/pending/e<epoch>/<folder>/``,
   named by partition and first offset (``storage.create``: refused when the
   name exists, so nothing is ever overwritten);
2. **commit**: the checkpoint (``commit``) records the next offsets and the
   staged files as ``pending``, by compare-and-swap: the commit point, and
   the fence (a lander cut off and replaced stops here, nothing of it visible);
3. **publish**: per span folder, the manifest is merged first (by
   compare-and-swap; a folder with a manifest and no ``_SUCCESS`` is "being
   landed", which the ingest does not read), then each pending file is copied
   to its folder (create-if-absent: a copy repeated after a crash is a no-op;
   from the bytes in memory, read back only by a recovering lander) and its
   staged object deleted.

**seal** checks every file of the span against its manifest's sha256, marks
the manifest sealed and writes ``_SUCCESS`` last.

**recover** (at start, before the lander claims the checkpoint): publishes
the checkpoint's pending files (committed, perhaps not yet published),
deletes staged files no checkpoint committed (a crash between stage and
commit, or a fenced lander's), and deletes span files at or past their
partition's checkpointed offset (left by a lander older than this protocol,
which wrote span files before its commit).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from typing import Callable, Dict, List, Set, Tuple

from driftgate.core import storage
from streaming import files
from streaming.sink.commit import Checkpoint
from streaming.sink.format import CsvFormat
from streaming.sink.partitioner import SpanPartitioner


class SpanWriter:
    def __init__(
        self,
        region_dir: str,
        *,
        region: str,
        topic: str,
        partitioner: SpanPartitioner,
        fmt: CsvFormat,
        checkpoint: Checkpoint,
        progress: Callable[[str], None] = lambda line: None,
    ):
        self.region_dir, self.region, self.topic = region_dir, region, topic
        self.partitioner, self.fmt, self.checkpoint = partitioner, fmt, checkpoint
        self.progress = progress
        self.pending: Dict[str, dict] = {}  # relative final path -> manifest entry + "staged"
        self.staged_bytes: Dict[str, bytes] = {}  # what this writer staged, published without reading it back

    @property
    def epoch(self) -> int:
        """The epoch this writer stages under: its checkpoint's, once claimed."""
        return self.checkpoint.epoch

    def _path(self, rel: str) -> str:
        return storage.join(self.region_dir, *rel.split("/"))

    # -- stage, commit, publish ----------------------------------------------

    def stage(self, span: int, late: bool, partition: int, offsets: List[int], rows) -> None:
        folder = self.partitioner.folder(span, late)
        name = files.file_name(self.topic, partition, offsets[0])
        staged = f"{files.PENDING}/e{self.epoch}/{folder}/{name}"
        data = self.fmt.encode(rows)
        if not storage.create(self._path(staged), data):
            raise RuntimeError(
                f"{self.region}: {self._path(staged)} exists already: two checkpoints of epoch {self.epoch} "
                "staged the same offsets; nothing committed (restart the lander: recovery removes it)"
            )
        self.staged_bytes[staged] = data
        self.pending[f"{folder}/{name}"] = {
            "partition": partition,
            "first_offset": offsets[0],
            "last_offset": offsets[-1],
            "offsets": files.ranges(offsets),
            "rows": len(offsets),
            "sha256": hashlib.sha256(data).hexdigest(),
            "staged": staged,
        }

    def commit(self, state: dict) -> None:
        """The commit point (Fenced when another lander took over)."""
        self.checkpoint.commit({**state, "pending": self.pending})

    def publish(self) -> int:
        """Manifests first, then the files; returns how many were published."""
        by_folder: Dict[str, Dict[str, dict]] = defaultdict(dict)
        for rel, entry in self.pending.items():
            folder, _, name = rel.rpartition("/")
            by_folder[folder][name] = {k: v for k, v in entry.items() if k != "staged"}
        for folder, entries in sorted(by_folder.items()):
            self._merge_manifest(folder, entries)
        for rel, entry in sorted(self.pending.items()):
            try:
                storage.copy(
                    self._path(entry["staged"]), self._path(rel), self.staged_bytes.get(entry["staged"])
                )
            except FileNotFoundError:
                if not storage.exists(self._path(rel)):
                    raise RuntimeError(
                        f"{self.region}: committed file {rel} is neither staged nor published; "
                        f"its offsets {entry['offsets']} of partition {entry['partition']} are lost"
                    ) from None
        for entry in self.pending.values():
            storage.delete(self._path(entry["staged"]))
        published = len(self.pending)
        self.pending, self.staged_bytes = {}, {}
        return published

    def _merge_manifest(self, folder: str, entries: Dict[str, dict]) -> None:
        span, late = files.parse_folder(folder)

        def change(data):
            manifest = json.loads(data) if data else self._new_manifest(span)
            if all(manifest["files"].get(n) == e for n, e in entries.items()):
                return None
            manifest["files"].update(entries)
            return json.dumps(files.with_rows(manifest), indent=1, sort_keys=True)

        storage.update(self._path(f"{folder}/{files.MANIFEST}"), change)

    def _new_manifest(self, span: int) -> dict:
        start, end = self.partitioner.bounds(span)
        return {
            "region": self.region,
            "topic": self.topic,
            "span": span,
            "grain": self.partitioner.grain,
            "start_ms": start,
            "end_ms": end,
            "files": {},
            "sealed": False,
            "rows": 0,
        }

    # -- seal --------------------------------------------------------------------

    def seal(self, span: int, mark: int) -> dict:
        """Checks the span's files and seals it; returns its manifest."""
        folder = self._path(self.partitioner.folder(span))
        manifest = files.read_json(storage.join(folder, files.MANIFEST))
        for name, entry in manifest["files"].items():
            actual = files.sha256(storage.join(folder, name))
            if actual != entry["sha256"]:
                raise RuntimeError(
                    f"{folder}/{name}: sha256 {actual} differs from the manifest's; not sealing"
                )

        written = {}

        def change(data):
            doc = json.loads(data)
            doc.update(sealed=True, watermark_ms=mark)
            written["doc"] = files.with_rows(doc)
            return json.dumps(written["doc"], indent=1, sort_keys=True)

        storage.update(storage.join(folder, files.MANIFEST), change)
        storage.write_atomic(storage.join(folder, files.SUCCESS), b"")
        self._remove_foreign_staged()
        return written["doc"]

    def _remove_foreign_staged(self) -> None:
        """Staged files of other epochs (a fenced lander's) are never published: removed."""
        mine = f"e{self.epoch}/"
        for rel in storage.list_files(self._path(files.PENDING)):
            if not rel.replace("\\", "/").startswith(mine):
                storage.delete(self._path(f"{files.PENDING}/{rel}"))

    # -- recovery ----------------------------------------------------------------

    def recover(self, state: dict) -> Tuple[Set[int], Set[int]]:
        """Brings the region's objects to what ``state`` (the checkpoint just
        read) committed; returns (sealed spans, open spans)."""
        listing = files.Listing(self.region_dir)
        nxt = {int(p): int(o) for p, o in state.get("next", {}).items()}
        self.pending = dict(state.get("pending") or {})
        removed, emptied = 0, set()
        for folder, names in sorted(listing.folders.items()):
            late = files.parse_folder(folder)[1]
            if listing.sealed(folder) and not late:
                continue
            gone = set()
            for name in names:
                parsed = files.parse_name(name)
                past = parsed is not None and parsed[2] >= nxt.get(parsed[1], 0)
                if (past and f"{folder}/{name}" not in self.pending) or files.is_temporary(name):
                    storage.delete(self._path(f"{folder}/{name}"))
                    gone.add(name)
            if gone == set(names):
                emptied.add(folder)  # nothing left in it: not a landed span
            if gone:
                removed += len(gone)
                self._drop_from_manifest(folder, gone)
        published_folders = {rel.rpartition("/")[0] for rel in self.pending}
        published = self.publish()
        staged_committed = {e["staged"] for e in (state.get("pending") or {}).values()}
        for rel in listing.pending:
            if rel not in staged_committed:
                storage.delete(self._path(rel))
                removed += 1
        if removed or published:
            self.progress(
                f"{self.region}: recovered: published {published} committed file(s), "
                f"removed {removed} uncommitted file(s)"
            )
        sealed = {s for s, f in listing.spans() if listing.sealed(f)}
        folders = (set(listing.folders) - emptied) | published_folders  # recovery never seals a folder
        landed = {span for span, late in map(files.parse_folder, folders) if not late}
        return sealed, landed - sealed

    def _drop_from_manifest(self, folder: str, gone: Set[str]) -> None:
        def change(data):
            if not data:
                return None
            manifest = json.loads(data)
            kept = {n: e for n, e in manifest["files"].items() if n not in gone}
            if kept == manifest["files"]:
                return None
            manifest["files"] = kept
            return json.dumps(files.with_rows(manifest), indent=1, sort_keys=True)

        storage.update(self._path(f"{folder}/{files.MANIFEST}"), change)
