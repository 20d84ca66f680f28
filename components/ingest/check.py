"""Checks of a span's files before a local run reads them (pure apart from
reading headers): the columns the region config needs are there. A failure
is a ``SpanDataError`` naming the file, the column and the span. The ingest
node itself does not refuse such a span: like TFX's ExampleGen it ingests
what is there, and the gate blocks it on the schema's anomalies (a missing
column, text in a numeric one), so both executors decide alike."""

from __future__ import annotations

from typing import List, Sequence

from components.ingest import formats

# what decides a file's columns without reading its rows


def columns_of(fmt: str, path: str) -> List[str]:
    """The columns (features) a span file has: a CSV's header, a Parquet
    file's schema, the features of a TFRecord file's first example."""
    if fmt == formats.CSV:
        return formats.csv_header(path)
    if fmt == formats.PARQUET:
        return list(formats.parquet_file(path).schema_arrow.names)
    for records in formats.tfrecord_records([path], batch=1):
        from tensorflow.core.example import example_pb2  # the proto only, not TensorFlow's runtime

        try:
            return list(example_pb2.Example.FromString(records[0]).features.feature)
        except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends
            raise formats.SpanDataError(f"{path}: the first record is not a tf.Example: {exc}") from None
    return []


def required_columns(fmt: str, files: Sequence[str], required: Sequence[str], span: int) -> None:
    """Every file has every column in ``required`` (the model's inputs and label)."""
    if fmt not in formats.FORMATS:
        raise formats.SpanDataError(f"data.format '{fmt}': expected one of {', '.join(formats.FORMATS)}")
    if not files:
        raise formats.SpanDataError(f"span {span}: no files")
    for path in files:
        try:
            have = set(columns_of(fmt, path))
        except formats.SpanDataError as exc:
            raise formats.SpanDataError(f"{exc}; span {span} blocked") from None
        missing = [c for c in required if c not in have]
        if missing and (have or fmt != formats.TFRECORD):
            raise formats.SpanDataError(
                f"{path}: missing column(s) {', '.join(missing)} (required by the region config); span {span} blocked"
            )
