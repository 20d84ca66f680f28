"""A span's rows as the pipeline sees them: the tf.Examples ingest writes,
split into train/eval as ExampleGen splits them with the region's hash
buckets, and TFDV statistics of each split (what
StatisticsGen computes: the schema, the configured quantile buckets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np

from driftgate.core.errors import DriftgateError
from pipelines import preflight


class BacktestError(DriftgateError, RuntimeError):
    """A backtest cannot go on; the message names the region and span."""


@dataclass
class SpanData:
    span: int
    train: List[bytes]
    eval: List[bytes]
    labels: np.ndarray  # of all rows, train then eval
    eval_labels: np.ndarray

    @property
    def all(self) -> List[bytes]:
        return self.train + self.eval

    @property
    def rows(self) -> int:
        return len(self.train) + len(self.eval)


def _span_files(cfg, data_dir: str, span: int):
    label = cfg.features.label
    try:
        sf = preflight.span_files(data_dir, cfg.data.span_pattern, span)
        return preflight.check_span(sf, list(cfg.features.all) + [label])
    except (preflight.PreflightError, preflight.DataBlocked) as exc:
        raise BacktestError(f"region {cfg.region} span {span}: {exc}") from None


def fingerprint(cfg, data_dir: str, span: int) -> list:
    """The span's files as (name, size, mtime): what a cache of it depends on."""
    import os

    sf = _span_files(cfg, data_dir, span)
    return [[os.path.basename(f), os.path.getsize(f), os.stat(f).st_mtime_ns] for f in sf.files]


def load_span(cfg, data_dir: str, span: int, schema) -> SpanData:
    """Reads span ``span`` of the region as the pipeline's ingest does: the
    same encoder (``components.ingest.fast.span_records``: the bytes
    ExampleGen writes, in the region's ``data.format``) and the same split
    (``components.ingest.encode.split_of``: TFX's partition of those bytes),
    so the backtest's eval rows are the pipeline's
    (``tests/backtest/test_data.py``). Rows without a label are left out.
    Raises BacktestError naming region and span."""
    from components.ingest import encode, fast, formats
    from components.ingest.records import label_values

    label = cfg.features.label
    sf = _span_files(cfg, data_dir, span)
    try:
        records = fast.span_records(cfg.data.format, sf.files)
    except formats.SpanDataError as exc:
        raise BacktestError(f"region {cfg.region} span {span}: {exc}") from None
    labels = label_values(records, label)
    keep = ~np.isnan(labels)
    records, labels = [r for r, k in zip(records, keep, strict=True) if k], labels[keep]
    if not records:
        raise BacktestError(f"region {cfg.region} span {span}: no row has a value in '{label}'")
    parts = encode.split_of(records, [cfg.data.train_buckets, cfg.data.eval_buckets])
    train = [r for r, p in zip(records, parts, strict=True) if p == 0]
    evals = [r for r, p in zip(records, parts, strict=True) if p == 1]
    if not train or not evals:
        raise BacktestError(f"region {cfg.region} span {span}: too few rows ({len(records)}) to split")
    return SpanData(
        span, train, evals, np.concatenate([labels[parts == 0], labels[parts == 1]]), labels[parts == 1]
    )


def statistics(sd: SpanData, schema, quantile_buckets: int):
    """TFDV statistics of the span, one dataset per split (as StatisticsGen)."""
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.statistics import stats_impl
    from tensorflow_metadata.proto.v0 import statistics_pb2
    from tfx_bsl.coders import example_coder

    decoder = example_coder.ExamplesToRecordBatchDecoder(schema.SerializeToString())
    options = tfdv.StatsOptions(schema=schema, num_quantiles_histogram_buckets=quantile_buckets)
    out = statistics_pb2.DatasetFeatureStatisticsList()
    for name, rows in (("train", sd.train), ("eval", sd.eval)):
        stats = stats_impl.generate_statistics_in_memory(decoder.DecodeBatch(rows), options)
        ds = out.datasets.add()
        ds.CopyFrom(stats.datasets[0])
        ds.name = name
    return out
