"""The fast ingest: a span's files -> the Examples artifact's splits, in
process, one record batch at a time.

What it writes is what TFX's ExampleGen writes: per split, gzipped TFRecords
of serialized tf.Examples (``Split-<name>/data_tfrecord-*.gz``), each row in
the split TFX's hash partition puts it (``encode.split_of``), in an order
that is random but the same on every run (rows sorted by the SHA-256 TFX's
partition hashes; the trainer reads the first rows of a split, so file
order must not be chronological). Beside the splits, ``_columns/<split>.arrow``
holds the same rows as Arrow record batches in the layout tfx_bsl's decoder
gives the examples (one list a feature, sorted by name): the statistics
executor reads them instead of decoding every example again
(``components.statistics``). Readers that glob ``Split-<name>/*`` see only
the TFRecords.

Memory stays bounded: a split's records are held for the sort only while
they fit in ``memory_bytes``; beyond, rows are first spread over bucket files
by their hash and each bucket is sorted on its own (the order is the same).
"""

from __future__ import annotations

import os
import struct
import tempfile
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Sequence, Tuple

import numpy as np
import pyarrow as pa

from components.ingest import encode, formats

TFRECORD_NAME = "data_tfrecord-00000-of-00001.gz"  # the stock WriteSplit's name, one shard
COLUMNS_DIR = "_columns"
MEMORY_BYTES = 1 << 30  # a split's records sorted in memory up to this size
GZIP_LEVEL = 1  # TFRecord readers take any level; 1 is ~3x faster than zlib's default to write
COLUMNS_COMPRESSION = "zstd"  # the columnar copy (_columns/<split>.arrow): Arrow IPC buffers compressed


@dataclass
class Written:
    rows: Dict[str, int] = field(default_factory=dict)  # split -> rows
    kinds: Dict[str, str] = field(default_factory=dict)  # column -> kind (empty for TFRecord spans)


def columns_file(examples_uri: str, split: str) -> str:
    return f"{examples_uri.rstrip('/')}/{COLUMNS_DIR}/{split}.arrow"


def column_batch(columns: formats.Columns) -> pa.RecordBatch:
    """``columns`` as tfx_bsl's ``ExamplesToRecordBatchDecoder`` decodes their
    examples: features sorted by name, each a large list of its values (an
    empty cell an empty list), a column with no value at all of null type."""
    names = sorted(columns)
    arrays = []
    for name in names:
        kind, values = columns[name]
        if kind == encode.NONE:
            arrays.append(pa.nulls(len(values)))
            continue
        present = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=np.int64)
        offsets = np.zeros(len(values) + 1, dtype=np.int64)
        np.cumsum(present, out=offsets[1:])
        flat = values.drop_null()
        if kind == encode.BYTES:
            flat = flat.cast(pa.large_binary())
        arrays.append(pa.LargeListArray.from_arrays(pa.array(offsets), flat))
    return pa.RecordBatch.from_arrays(arrays, names)


def _order_keys(digests: Sequence[bytes]) -> np.ndarray:
    """The first 8 bytes of each digest, as the number the rows are sorted by."""
    return np.frombuffer(b"".join(d[:8] for d in digests), dtype=">u8").astype(np.uint64)


SPILL_BUCKETS = 64  # by the top 6 bits of the sort key, so bucket order is sort order


class _SplitWriter:
    """One split's records, sorted by their hash when written out."""

    def __init__(self, uri: str, memory_bytes: int):
        self.uri, self.memory_bytes = uri, memory_bytes
        self.keys: List[np.ndarray] = []
        self.records: List[bytes] = []
        self.held_bytes = 0
        self.spill_dir = None
        self.spills: List = []
        self.rows = 0

    def add(self, digests: Sequence[bytes], records: List[bytes]) -> None:
        self.rows += len(records)
        keys = _order_keys(digests)
        if self.spill_dir is None:
            self.keys.append(keys)
            self.records.extend(records)
            self.held_bytes += sum(map(len, records)) + 100 * len(records)
            if self.held_bytes > self.memory_bytes:
                self._spill_start()
            return
        self._spill(keys, records)

    def _spill_start(self) -> None:
        self.spill_dir = tempfile.mkdtemp(prefix="driftgate-ingest-")
        self.spills = [open(os.path.join(self.spill_dir, f"{b:03d}"), "wb") for b in range(SPILL_BUCKETS)]
        keys, records = np.concatenate(self.keys), self.records
        self.keys, self.records = [], []
        self._spill(keys, records)

    def _spill(self, keys: np.ndarray, records: List[bytes]) -> None:
        for key, bucket, record in zip(keys.tolist(), (keys >> np.uint64(58)).tolist(), records, strict=True):
            self.spills[bucket].write(struct.pack("<IQ", len(record), key) + record)

    def _sorted_chunks(self) -> Iterator[List[bytes]]:
        if self.spill_dir is None:
            keys = np.concatenate(self.keys) if self.keys else np.zeros(0, np.uint64)
            records, self.records, self.keys = self.records, [], []
            yield [records[i] for i in np.argsort(keys, kind="stable")]
            return
        for fh in self.spills:
            fh.close()
        for fh in self.spills:
            with open(fh.name, "rb") as src:
                blob = src.read()
            os.unlink(fh.name)
            keys, records, i = [], [], 0
            while i < len(blob):
                n, key = struct.unpack_from("<IQ", blob, i)
                keys.append(key)
                records.append(blob[i + 12 : i + 12 + n])
                i += 12 + n
            del blob
            yield [records[i] for i in np.argsort(np.array(keys, dtype=np.uint64), kind="stable")]
        os.rmdir(self.spill_dir)

    def close(self) -> None:
        import tensorflow as tf

        tf.io.gfile.makedirs(self.uri)
        options = tf.io.TFRecordOptions(compression_type="GZIP", compression_level=GZIP_LEVEL)
        with tf.io.TFRecordWriter(f"{self.uri}/{TFRECORD_NAME}", options) as out:
            for chunk in self._sorted_chunks():
                for record in chunk:
                    out.write(record)


class _ColumnsWriter:
    def __init__(self, path: str):
        self.path, self.writer, self.sink = path, None, None

    def add(self, batch: pa.RecordBatch) -> None:
        import tensorflow as tf

        if self.writer is None:
            tf.io.gfile.makedirs(os.path.dirname(self.path))
            self.sink = formats.arrow_file(self.path, "wb")
            # zstd: 0.15x the size for +4% ingest time (benchmarks/bench_columns.py; kept with every span)
            options = pa.ipc.IpcWriteOptions(compression=COLUMNS_COMPRESSION)
            self.writer = pa.ipc.new_stream(self.sink, batch.schema, options=options)
        self.writer.write_batch(batch)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.sink.close()


def _batches(fmt: str, files: Sequence[str]) -> Iterator[Tuple[List[bytes], pa.RecordBatch, Dict[str, str]]]:
    """(records, columns as decoded, kinds) per record batch of the span."""
    if fmt == formats.TFRECORD:
        for records in formats.tfrecord_records(files):
            yield records, None, {}
        return
    if fmt == formats.CSV:
        layout = formats.csv_layout(files)
        kinds, stream = layout.kinds, formats.csv_columns(files, layout)
    else:
        kinds = formats.parquet_layout(files)
        stream = formats.parquet_columns(files, kinds)
    for columns in stream:
        yield encode.encode(columns).to_pylist(), column_batch(columns), kinds


def span_records(fmt: str, files: Sequence[str]) -> List[bytes]:
    """The span's rows as the serialized tf.Examples ingest writes for them
    (the bytes ExampleGen's partition hashes), in file order."""
    return [r for records, _, _ in _batches(fmt, files) for r in records]


def ingest(
    fmt: str,
    files: Sequence[str],
    splits: Sequence[Tuple[str, int]],
    examples_uri: str,
    memory_bytes: int = MEMORY_BYTES,
) -> Written:
    """Writes the span's ``files`` (``fmt``: csv, parquet or tfrecord) into
    ``splits`` ((name, hash buckets) in output order) of the Examples artifact at
    ``examples_uri``. Raises ``formats.SpanDataError`` naming the file."""
    names = [name for name, _ in splits]
    buckets = [b for _, b in splits]
    writers = [_SplitWriter(f"{examples_uri.rstrip('/')}/Split-{n}", memory_bytes) for n in names]
    column_writers = [_ColumnsWriter(columns_file(examples_uri, n)) for n in names]
    written = Written()
    for records, batch, kinds in _batches(fmt, files):
        written.kinds = kinds
        digests = encode.digests(records)
        which = encode.split_of_digests(digests, buckets)
        for i, (writer, cols) in enumerate(zip(writers, column_writers, strict=True)):
            picked = np.flatnonzero(which == i)
            writer.add([digests[j] for j in picked], [records[j] for j in picked])
            if batch is not None:
                cols.add(batch.take(pa.array(picked)))
    for writer, cols in zip(writers, column_writers, strict=True):
        writer.close()
        cols.close()
        written.rows[os.path.basename(writer.uri)[len("Split-") :]] = writer.rows
    if not sum(written.rows.values()):
        raise formats.SpanDataError(f"{', '.join(files)}: no rows (header only or empty files)")
    return written
