"""Checks before a local run: is the span there, readable and shaped right?

Cheap (reads CSV headers or Parquet schemas and counts rows; no TensorFlow) and gives messages
that name the file and column, before any TFX component starts. The pipeline's
own ExampleValidator + data gate still judge the values; this only catches
what would otherwise end as a stack trace deep in ExampleGen.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from google.protobuf import text_format

from components.ingest import check, errors, formats, spans
from driftgate.core import storage
from driftgate.core.errors import DriftgateError
from driftgate.core.vocabulary import LANDING_MANIFEST, SEALED_MARKER


class PreflightError(DriftgateError):
    """The run cannot start (exit 1): missing span, unreadable schema..."""


class DataBlocked(Exception):
    """The span's data is unfit to train on (exit 2); nothing was changed."""


@dataclass(frozen=True)
class SpanFiles:
    span: int
    files: Tuple[str, ...]
    rows: int


def available_spans(data_dir: str, span_pattern: str) -> List[int]:
    """Span numbers arrived under ``data_dir``: with files matching
    ``span_pattern``, and sealed if landed from Kafka (the same rule as the
    ingestion component: ``components.ingest.spans.arrived``)."""
    if not _is_dir(data_dir):
        return []
    found = [p for g in spans.discovery_globs(span_pattern) for p in storage.glob(storage.join(data_dir, g))]
    return spans.arrived([storage.relative(p, data_dir) for p in found], span_pattern)


def _is_dir(path: str) -> bool:
    return storage.exists(path) if storage.is_remote(path) else os.path.isdir(path)


def span_files(data_dir: str, span_pattern: str, span: Optional[int]) -> SpanFiles:
    """Resolves the span to ingest (newest when ``span`` is None) and its files."""
    if not _is_dir(data_dir):
        raise PreflightError(
            f"data folder {data_dir} does not exist: prepare data first "
            f"(driftgate data flights --out DIR) or pass --data DIR"
        )
    spans = available_spans(data_dir, span_pattern)
    if not spans:
        raise PreflightError(f"{data_dir}: no span matches '{span_pattern}'")
    if span is None:
        span = spans[-1]
    elif span not in spans:
        folder = storage.dirname(storage.join(data_dir, span_pattern.replace("{SPAN}", str(span))))
        if storage.exists(storage.join(folder, LANDING_MANIFEST)):
            raise PreflightError(
                f"{folder}: span {span} is still being landed from Kafka (no {SEALED_MARKER} yet); "
                "it seals once the watermark passes its end (driftgate land)"
            )
        raise PreflightError(
            f"{data_dir}: span {span} not found (pattern '{span_pattern}'); "
            f"spans present: {', '.join(map(str, spans))}"
        )
    files = sorted(storage.glob(storage.join(data_dir, span_pattern.replace("{SPAN}", str(span)))))
    return SpanFiles(span=span, files=tuple(files), rows=0)


def check_span(sf: SpanFiles, required: Sequence[str], fmt: str = "csv") -> SpanFiles:
    """Every file has every ``required`` column (a CSV header, a Parquet
    schema, a TFRecord's first example) and the span has rows."""
    try:
        check.required_columns(fmt, sf.files, required, sf.span)
        rows = sum(_rows(fmt, path) for path in sf.files)
    except formats.SpanDataError as exc:
        raise DataBlocked(str(exc)) from None
    if rows == 0:
        raise DataBlocked(f"span {sf.span}: header only, no rows in {', '.join(sf.files)}")
    return SpanFiles(span=sf.span, files=sf.files, rows=rows)


def _rows(fmt: str, path: str) -> int:
    if fmt == formats.PARQUET:
        return formats.parquet_file(path).metadata.num_rows
    if fmt == formats.TFRECORD:
        return sum(len(b) for b in formats.tfrecord_records([path]))
    reader = None
    try:
        with _text(path) as fh:
            reader = csv.reader(fh)
            next(reader, None)
            return sum(1 for row in reader if row)
    except csv.Error as exc:  # "line contains NUL": said with the file, the line and what to do
        raise DataBlocked(str(errors.csv_error(path, exc, reader.line_num if reader else None))) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataBlocked(f"{path}: cannot read as CSV: {exc}") from exc


def _text(path: str):
    if storage.is_remote(path):
        return io.TextIOWrapper(io.BytesIO(storage.read_bytes(path)), encoding="utf-8-sig", newline="")
    return open(path, newline="", encoding="utf-8-sig")


def check_schema_file(path: str, required: Sequence[str]) -> None:
    """The schema parses and declares every required feature."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    if not os.path.isfile(path):
        raise PreflightError(
            f"schema file {path} not found: pin an existing version in the region config "
            f"(schema.version) or add schemas/<REGION>/v<N>/schema.pbtxt"
        )
    try:
        with open(path) as fh:
            schema = text_format.Parse(fh.read(), schema_pb2.Schema())
    except text_format.ParseError as exc:
        raise PreflightError(f"{path}: schema does not parse: {exc}") from exc
    names = {f.name for f in schema.feature}
    missing = [c for c in required if c not in names]
    if missing:
        raise PreflightError(f"{path}: schema lacks configured feature(s) {', '.join(missing)}")
