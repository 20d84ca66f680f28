"""Columns of one value a cell -> serialized tf.Examples, vectorized (pure:
numpy and pyarrow, no TensorFlow).

The bytes are exactly ``tf.train.Example.SerializeToString(deterministic=True)``
of the example TFX's CsvExampleGen builds from the same row (features sorted
by name; an empty cell an empty list of the column's kind; a column with no
value at all a ``Feature`` of no kind), which is also the key TFX's
``_PartitionFn`` hashes to split a span (``split_of``). So the record that is
written is the record that is hashed, and a row lands in the split it lands in
under the stock executor. ``tests/components/ingest/test_encode.py`` checks
the bytes against the protobuf library's own serialization.

Why not tfx_bsl's ``RecordBatchToExamplesEncoder``: it writes the features in
its own order, so its bytes are not the partition key, and it takes ~5 us a
row; this takes well under 1 (``benchmarks/bench_scale.py``).

Kinds (``INT``, ``FLOAT``, ``BYTES``, ``NONE``) are the column types TFX infers
(``components.ingest.formats``); a column's values come as an Arrow array of
int64, float32 or binary, null where the cell is empty.
"""

from __future__ import annotations

import hashlib
from typing import Dict, List, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

INT, FLOAT, BYTES, NONE = "int", "float", "bytes", "none"
# tag of the Feature oneof field holding each kind's list (bytes_list=1, float_list=2, int64_list=3)
_LIST_TAG = {BYTES: 0x0A, FLOAT: 0x12, INT: 0x1A}
_SEP = pa.scalar(b"", pa.large_binary())  # binary_join_element_wise's separator: none


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varints(values: np.ndarray) -> pa.BinaryArray:
    """Protobuf varints of non-negative (uint64) ``values``, one string a value."""
    v = np.asarray(values, dtype=np.uint64)
    n = len(v)
    lengths = np.ones(n, dtype=np.int64)
    for k in range(1, 10):
        lengths += v >= np.uint64(1 << (7 * k))
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    buf = np.zeros(int(offsets[-1]), dtype=np.uint8)
    for k in range(int(lengths.max()) if n else 0):
        has = lengths > k
        byte = (v[has] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = lengths[has] > k + 1
        buf[offsets[:-1][has] + k] = (byte | (more.astype(np.uint64) << np.uint64(7))).astype(np.uint8)
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf)]
    )


def _prefixed(data: pa.Array, tag: int) -> pa.Array:
    """``tag varint(len) data`` per element: a length-delimited protobuf field."""
    lengths = pc.binary_length(data).to_numpy(zero_copy_only=False).astype(np.uint64)
    tag_ = pa.scalar(bytes([tag]), pa.large_binary())
    return pc.binary_join_element_wise(tag_, varints(lengths), data.cast(pa.large_binary()), _SEP)


def _field(tag: int, data: bytes) -> bytes:
    return bytes([tag]) + _varint(len(data)) + data


def entry_bytes(name: str, kind: str, value) -> bytes:
    """One cell's ``features`` map entry, as a length-delimited field of
    ``Features`` (the reference the vectorized paths are built from). ``value``
    None: an empty cell (an empty list of ``kind``; no list at all for NONE)."""
    if kind == NONE:
        feature = b""
    elif value is None:
        feature = bytes([_LIST_TAG[kind], 0])
    elif kind == FLOAT:
        feature = _field(_LIST_TAG[kind], _field(0x0A, np.float32(value).astype("<f4").tobytes()))
    elif kind == INT:
        feature = _field(_LIST_TAG[kind], _field(0x0A, _varint(int(value) & 0xFFFFFFFFFFFFFFFF)))
    else:
        feature = _field(_LIST_TAG[kind], _field(0x0A, bytes(value)))
    return _field(0x0A, _field(0x0A, name.encode("utf-8")) + _field(0x12, feature))


def _binary(n: int, width: int, data: np.ndarray) -> pa.Array:
    offsets = np.arange(0, width * n + 1, width, dtype=np.int64)
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))]
    )


DICTIONARY_LIMIT = 1 << 16  # more distinct values than this: ints take the vectorized path


def _entries(name: str, kind: str, values: pa.Array) -> pa.Array:
    """Every row's map entry for column ``name``."""
    n = len(values)
    if kind == NONE:
        return pa.array([entry_bytes(name, NONE, None)], pa.large_binary()).take(np.zeros(n, dtype=np.int64))
    present = pc.is_valid(values)
    empty = pa.scalar(entry_bytes(name, kind, None), pa.large_binary())
    if kind == FLOAT:
        prefix = np.frombuffer(entry_bytes(name, FLOAT, 0.0)[:-4], dtype=np.uint8)
        rows = np.empty((n, len(prefix) + 4), dtype=np.uint8)
        rows[:, : len(prefix)] = prefix
        floats = np.asarray(values.fill_null(0).to_numpy(zero_copy_only=False), dtype="<f4")
        rows[:, len(prefix) :] = floats.view(np.uint8).reshape(n, 4)
        return pc.if_else(present, _binary(n, rows.shape[1], rows), empty)
    coded = pc.dictionary_encode(values)
    if kind == BYTES or len(coded.dictionary) <= DICTIONARY_LIMIT:
        found = [entry_bytes(name, kind, v) for v in coded.dictionary.to_pylist()]
        table = pa.array(found + [empty.as_py()], pa.large_binary())
        return table.take(coded.indices.fill_null(len(found)))
    ints = np.asarray(values.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64).view(np.uint64)
    codes = varints(ints)
    widths = pc.binary_length(codes).to_numpy(zero_copy_only=False)
    heads = pa.array(
        [entry_bytes(name, INT, 1 << (7 * m))[: -(m + 1)] for m in range(10)], pa.large_binary()
    ).take(widths - 1)
    return pc.if_else(present, pc.binary_join_element_wise(heads, codes, _SEP), empty)


def encode(columns: Dict[str, Tuple[str, pa.Array]]) -> pa.Array:
    """Serialized tf.Examples of the rows of ``columns`` (name -> (kind,
    values), all of one length), as a binary Arrow array."""
    names = sorted(columns)
    if not names:
        raise ValueError("no columns to encode")
    parts = [_entries(n, *columns[n]) for n in names]
    features = pc.binary_join_element_wise(*parts, _SEP) if len(parts) > 1 else parts[0]
    return _prefixed(features, 0x0A)  # Example.features (field 1)


def digests(records: Sequence[bytes]) -> List[bytes]:
    """The SHA-256 of each record: what TFX's ``_PartitionFn`` hashes."""
    sha = hashlib.sha256
    return [sha(r).digest() for r in records]


def split_of_digests(digests_: Sequence[bytes], hash_buckets: Sequence[int]) -> np.ndarray:
    """Index of the split each record goes to, as TFX splits: the digest as a
    big number modulo the total of the splits' ``hash_buckets`` (output order;
    train 3, eval 1: the first 3 of 4 buckets train)."""
    bounds = np.cumsum(hash_buckets)
    total = int(bounds[-1])
    buckets = np.fromiter((int.from_bytes(d, "big") % total for d in digests_), np.int64, len(digests_))
    return np.searchsorted(bounds, buckets, side="right")


def split_of(records: Sequence[bytes], hash_buckets: Sequence[int]) -> np.ndarray:
    """``split_of_digests`` of the records."""
    return split_of_digests(digests(records), hash_buckets)
