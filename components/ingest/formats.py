"""Reading a span's files as columns of one value a cell, in record batches
(pure: pyarrow, no TensorFlow, no Beam).

``data.format`` says what the files are:

- ``csv``: a header row, then rows. The columns get the types TFX's
  CsvExampleGen infers over the whole span (``tfx_bsl``'s ``_InferValueType``:
  every non-empty cell an int64 -> INT, else every one a float -> FLOAT, else
  BYTES; no value at all -> NONE), so the examples are the ones the stock
  executor writes. A first pass reads the span once to infer them (pyarrow's
  own inference, checked against TFX's rule on the distinct values of any
  text column), a second encodes: never more than one block in memory.
  A UTF-8 byte-order mark before the header is not part of the first name.
- ``parquet``: integer and boolean columns are INT, floating FLOAT, text and
  binary BYTES, timestamps, dates and decimals their text (BYTES); a null or
  an empty text is an empty cell, as in a CSV. Lists and structs are refused.
- ``tfrecord``: serialized tf.Examples (gzipped or not), taken as they are.

Every problem is a :class:`SpanDataError` naming the file and the column; a
file with NUL bytes (not text) is refused, naming its line
(``components.ingest.errors``).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from typing import Dict, Iterator, List, Sequence, Tuple

import pyarrow as pa
import pyarrow.compute as pc

from components.ingest.encode import BYTES, FLOAT, INT, NONE
from components.ingest.errors import UTF16_BOMS, SpanDataError, binary_file, csv_error, not_text, nul_line

CSV, PARQUET, TFRECORD = "csv", "parquet", "tfrecord"
FORMATS = (CSV, PARQUET, TFRECORD)
BLOCK_BYTES = 16 << 20  # CSV bytes per record batch
PARQUET_ROWS = 131072  # Parquet rows per record batch
_RANK = {NONE: 0, INT: 1, FLOAT: 2, BYTES: 3}
_BOM = "\ufeff"

Columns = Dict[str, Tuple[str, pa.Array]]  # name -> (kind, values), as components.ingest.encode takes


def cell_kind(text: str) -> str:
    """TFX's type of one CSV cell (``tfx_bsl.coders.csv_decoder._InferValueType``)."""
    if not text:
        return NONE
    try:
        return INT if -(1 << 63) <= int(text) < (1 << 63) else BYTES
    except ValueError:
        try:
            float(text)
        except ValueError:
            return BYTES
        return FLOAT


def csv_header(path: str) -> List[str]:
    """The column names of a CSV file's first row (a byte-order mark dropped)."""
    try:
        with binary_file(path) as fh:
            raw = fh.readline()
    except OSError as exc:
        raise SpanDataError(f"{path}: cannot read as CSV: {exc}") from None
    if b"\x00" in raw or raw.startswith(UTF16_BOMS):
        raise not_text(path, 1, raw)
    try:
        row = next(csv.reader([raw.decode("utf-8").lstrip(_BOM)]), None)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise csv_error(path, exc, 1) from None
    if not row:
        raise SpanDataError(f"{path}: empty file (no header row)")
    return row


class _GFile(io.RawIOBase):
    """A ``tf.io.gfile.GFile`` as the file object pyarrow wraps (it asks for
    ``closed``, which GFile lacks)."""

    def __init__(self, path: str, mode: str):
        import tensorflow as tf

        super().__init__()
        self._fh, self._mode = tf.io.gfile.GFile(path, mode), mode

    def readable(self):
        return "r" in self._mode

    def writable(self):
        return "w" in self._mode

    def seekable(self):
        return "r" in self._mode

    def seek(self, offset, whence=io.SEEK_SET):
        self._fh.seek(offset, whence)
        return self._fh.tell()

    def tell(self):
        return self._fh.tell()

    def readinto(self, buffer):
        data = self._fh.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def write(self, data):
        self._fh.write(bytes(data))
        return len(data)

    def close(self):
        if not self.closed:
            self._fh.close()
        super().close()


def arrow_file(path: str, mode: str = "rb"):
    """A file pyarrow reads or writes: a local path through pyarrow's own
    file, a bucket URI through ``tf.io.gfile``."""
    if "://" not in path:
        return pa.OSFile(path, mode[0])
    return pa.PythonFile(_GFile(path, mode), mode=mode[0])


def _open(path: str):
    """What pyarrow's readers take: a local path as is, a bucket URI as a file."""
    return path if "://" not in path else arrow_file(path)


def _csv_reader(path: str, names: Sequence[str], types: Dict[str, pa.DataType]):
    from pyarrow import csv as pcsv

    return pcsv.open_csv(
        _open(path),
        read_options=pcsv.ReadOptions(column_names=list(names), skip_rows=1, block_size=BLOCK_BYTES),
        parse_options=pcsv.ParseOptions(newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            column_types=types, null_values=[""], strings_can_be_null=True, true_values=[], false_values=[]
        ),
    )


_BAD_COLUMN = re.compile(r"column #(\d+)")


def _batches(path: str, names: Sequence[str], types: Dict[str, pa.DataType]) -> Iterator[pa.RecordBatch]:
    """The file's record batches; an unreadable file is a SpanDataError, a
    value the given types cannot hold a ``(_Widen, column)``."""
    try:
        reader = _csv_reader(path, names, types)
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            if _holds_nul(batch):  # TFX's decoder stops at a NUL, pandas cuts the cell there
                raise not_text(path, nul_line(path))
            yield batch
    except pa.ArrowInvalid as exc:
        found = _BAD_COLUMN.search(str(exc))
        if found and "conversion error" in str(exc):
            raise _Widen(names[int(found.group(1))]) from None
        raise SpanDataError(f"{path}: cannot read as CSV: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpanDataError(f"{path}: cannot read as CSV: {exc}") from None


def _holds_nul(batch: pa.RecordBatch) -> bool:
    strings = [c for c in batch.columns if pa.types.is_string(c.type)]
    return any(pc.any(pc.match_substring(c, "\x00")).as_py() for c in strings)


class _Widen(Exception):
    """A column pyarrow typed from the first block does not hold a later value."""

    def __init__(self, column: str):
        super().__init__(column)
        self.column = column


def _arrow_kind(typ: pa.DataType) -> str:
    if pa.types.is_null(typ):
        return NONE
    if pa.types.is_int64(typ):
        return INT
    if pa.types.is_float64(typ):
        return FLOAT
    return BYTES


class CsvLayout:
    """What the first pass found: the column names, each column's kind (TFX's
    inference) and the type the second pass reads it as."""

    def __init__(self, names: List[str], kinds: Dict[str, str], read_as: Dict[str, pa.DataType]):
        self.names, self.kinds, self.read_as = names, kinds, read_as


def csv_layout(paths: Sequence[str]) -> CsvLayout:
    """The span's column names and the kind TFX would infer for each (first pass)."""
    names = csv_header(paths[0])
    for path in paths[1:]:
        if csv_header(path) != names:
            raise SpanDataError(
                f"{path}: header differs from {paths[0]}'s; the files of a span share one header"
            )
    forced: Dict[str, pa.DataType] = {}  # columns read as text after pyarrow's guess failed
    while True:
        text_kind: Dict[str, str] = {}
        arrow: Dict[str, pa.DataType] = {}
        try:
            for path in paths:
                for batch in _batches(path, names, forced):
                    for name, col in zip(names, batch.columns, strict=False):
                        _observe(name, col, arrow, text_kind)
            break
        except _Widen as widen:
            if forced.get(widen.column) == pa.string():
                raise SpanDataError(f"{paths[0]}: column {widen.column} cannot be read as text") from None
            forced[widen.column] = pa.string()
    kinds, read_as = {}, {}
    for n in names:
        text = n in text_kind or pa.types.is_string(arrow.get(n, pa.null()))
        kinds[n] = text_kind.get(n, NONE) if text else _arrow_kind(arrow[n])
        read_as[n] = pa.string() if text else arrow[n]
    return CsvLayout(names, kinds, read_as)


def _observe(name: str, col: pa.Array, arrow: dict, text_kind: dict) -> None:
    typ = col.type
    if pa.types.is_string(typ):
        if text_kind.get(name) != BYTES:  # text: TFX's rule on its distinct values
            kinds = [text_kind.get(name, NONE)] + [
                cell_kind(v) for v in pc.unique(col.drop_null()).to_pylist()
            ]
            text_kind[name] = max(kinds, key=_RANK.get)
    elif not (pa.types.is_null(typ) or pa.types.is_int64(typ) or pa.types.is_float64(typ)):
        raise _Widen(name)  # bool, time stamp...: TFX sees the text
    elif name in arrow and arrow[name] != typ:
        raise _Widen(name)  # e.g. null in one file, int64 in the next
    arrow[name] = typ


def _as_kind(col: pa.Array, kind: str) -> pa.Array:
    """Values of ``kind`` from a column as the second pass read it."""
    if kind == NONE:
        return pa.nulls(len(col))
    if kind == BYTES:
        text = (
            col
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
            else col.cast(pa.string())
        )
        return pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text).cast(pa.binary())
    if pa.types.is_string(col.type):  # a number TFX's rule reads and pyarrow's does not (" 5", "1_000")
        coded = pc.dictionary_encode(col)
        parse, typ = (int, pa.int64()) if kind == INT else (float, pa.float64())
        col = pa.array([parse(v) for v in coded.dictionary.to_pylist()], typ).take(coded.indices)
    return col.cast(pa.float32(), safe=False) if kind == FLOAT else col.cast(pa.int64())


def csv_columns(paths: Sequence[str], layout: CsvLayout) -> Iterator[Columns]:
    """The span's rows as columns, one record batch at a time (second pass)."""
    for path in paths:
        try:
            for batch in _batches(path, layout.names, layout.read_as):
                yield {
                    n: (layout.kinds[n], _as_kind(c, layout.kinds[n]))
                    for n, c in zip(layout.names, batch.columns, strict=False)
                }
        except _Widen as widen:  # the first pass read the same bytes with the same types
            raise SpanDataError(f"{path}: column {widen.column} changed while the span was read") from None


def _parquet_kind(typ: pa.DataType):
    """(kind, how to read) of a Parquet column type; None when refused."""
    if pa.types.is_dictionary(typ):
        return _parquet_kind(typ.value_type)
    if pa.types.is_boolean(typ) or pa.types.is_integer(typ):
        return INT
    if pa.types.is_floating(typ):
        return FLOAT
    if pa.types.is_null(typ):
        return NONE
    if (
        pa.types.is_string(typ)
        or pa.types.is_large_string(typ)
        or pa.types.is_binary(typ)
        or pa.types.is_large_binary(typ)
        or pa.types.is_temporal(typ)
        or pa.types.is_decimal(typ)
    ):
        return BYTES
    return None


def parquet_file(path: str):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(_open(path))
    except (pa.ArrowException, OSError) as exc:
        raise SpanDataError(f"{path}: cannot read as Parquet: {exc}") from None


def parquet_layout(paths: Sequence[str]) -> Dict[str, str]:
    """Each column's kind, the same in every file of the span."""
    kinds: Dict[str, str] = {}
    first = {}
    for path in paths:
        schema = parquet_file(path).schema_arrow
        for field in schema:
            kind = _parquet_kind(field.type)
            if kind is None:
                raise SpanDataError(
                    f"{path}: column {field.name} is {field.type}; a span holds one number or text a cell "
                    "(flatten it upstream or drop the column)"
                )
            if field.name in kinds and kinds[field.name] != kind and NONE not in (kinds[field.name], kind):
                raise SpanDataError(
                    f"{path}: column {field.name} is {field.type} but {kinds[field.name]} in {first[field.name]}"
                )
            if kinds.get(field.name, NONE) == NONE:
                kinds[field.name], first[field.name] = kind, path
    return kinds


def _parquet_values(col: pa.Array, kind: str) -> pa.Array:
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if kind == INT and pa.types.is_boolean(col.type):
        col = col.cast(pa.int8())
    if kind == BYTES and not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = col.cast(pa.string()) if not pa.types.is_binary(col.type) else col
    return _as_kind(col, kind) if kind != BYTES or not pa.types.is_binary(col.type) else _empty_is_null(col)


def _empty_is_null(col: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(pc.binary_length(col), 0), pa.scalar(None, col.type), col).cast(pa.binary())


def parquet_batch_columns(batch, kinds: Dict[str, str]) -> Columns:
    """A Parquet record batch (or table) as columns of ``kinds``; a column the
    file lacks is empty."""
    have = dict(zip(batch.schema.names, batch.columns, strict=True))
    out = {}
    for name, kind in kinds.items():
        col = have.get(name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        out[name] = (kind, pa.nulls(batch.num_rows) if col is None else _parquet_values(col, kind))
    return out


def parquet_columns(paths: Sequence[str], kinds: Dict[str, str]) -> Iterator[Columns]:
    """The span's rows, one record batch at a time."""
    for path in paths:
        try:
            for batch in parquet_file(path).iter_batches(batch_size=PARQUET_ROWS):
                yield parquet_batch_columns(batch, kinds)
        except pa.ArrowException as exc:
            raise SpanDataError(f"{path}: cannot read as Parquet: {exc}") from None


def tfrecord_records(paths: Sequence[str], batch: int = 65536) -> Iterator[List[bytes]]:
    """The serialized records of TFRecord files (gzipped or not, told by their
    first bytes), ``batch`` at a time; the framing's checksums are not checked."""
    import struct

    for path in paths:
        with binary_file(path) as raw:
            head = raw.read(2)
        with binary_file(path) as raw:
            fh = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
            out: List[bytes] = []
            try:
                while True:
                    frame = fh.read(12)
                    if not frame:
                        break
                    if len(frame) < 12:
                        raise SpanDataError(f"{path}: truncated TFRecord (a record header is cut short)")
                    (length,) = struct.unpack("<Q", frame[:8])
                    record = fh.read(length + 4)
                    if len(record) < length + 4:
                        raise SpanDataError(f"{path}: truncated TFRecord (a record is cut short)")
                    out.append(record[:length])
                    if len(out) >= batch:
                        yield out
                        out = []
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                raise SpanDataError(f"{path}: cannot read as TFRecord: {exc}") from None
            if out:
                yield out
