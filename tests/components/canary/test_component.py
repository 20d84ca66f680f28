"""When a span may judge the canary (``hold_reason``): never on a span read
again, on the canary's own training span or an older one, or on a span the
gate will block. Scoring itself is tested in tests/serving/test_canary*.py and
in the pipeline runs (tests/e2e)."""

import pytest

from components.canary.component import hold_reason
from components.gate.decision import Finding
from components.ingest import spans


def _finding(blocking: bool) -> Finding:
    return Finding("train", "distance", ("ENUM_TYPE_UNEXPECTED_STRING_VALUES",), "ERROR", "text", blocking)


def test_a_new_clean_span_after_the_canary_training_span_judges_it():
    assert hold_reason(3, spans.NEXT, 2, []) is None
    assert hold_reason(3, spans.NEXT, 2, [_finding(blocking=False)]) is None  # warnings do not hold


def test_spans_that_must_not_judge_say_why():
    assert "no new span" in hold_reason(3, spans.NO_NEW_SPAN, 2, [])
    assert "not newer than the canary's training span 3" in hold_reason(3, spans.REQUESTED, 3, [])
    assert "not newer" in hold_reason(2, spans.REQUESTED, 3, [])  # a backfill of an older span
    assert "1 blocking data anomalies" in hold_reason(4, spans.NEXT, 3, [_finding(blocking=True)])


@pytest.mark.parametrize("data_format", ["csv", "parquet"])
def test_a_delayed_span_is_read_from_the_data_files_with_its_labels(tmp_path, flights_frame, data_format):
    """``labels.delay_spans``: the serving model is judged on an older span,
    read from the region's files in its ``data.format`` and encoded as
    ingest encodes them, so ExampleGen's partition splits them alike."""
    import numpy as np
    import tensorflow as tf

    from components.ingest import fast
    from components.quality.span import delayed_span_rows
    from driftgate.core.config import load_region_config

    cfg = load_region_config("EWR")
    rows = flights_frame[(flights_frame.origin == "EWR") & (flights_frame.month == 1)].head(300)
    rows = rows.drop(columns=["origin", "month"])
    rows.loc[rows.index[:10], "late"] = np.nan  # not labelled yet: left out
    (tmp_path / "span-4").mkdir()
    if data_format == "csv":
        rows.to_csv(tmp_path / "span-4" / "data.csv", index=False)
    else:
        rows.to_parquet(tmp_path / "span-4" / "data.parquet", index=False)
    pattern = "span-{SPAN}/*"
    records, labels, is_eval = delayed_span_rows(str(tmp_path), pattern, 4, data_format, "late", (3, 1))
    assert len(records) == len(labels) == len(is_eval) == 290
    assert list(labels) == [float(v) for v in rows["late"].iloc[10:]]
    # the bytes ingest writes for the span (what the pipeline judged when the span came in)
    written = fast.span_records(data_format, [str(p) for p in (tmp_path / "span-4").iterdir()])
    assert records == written[10:]
    # split as TFX's ExampleGen splits it: its own partition function decides
    from tfx.components.example_gen.base_example_gen_executor import _PartitionFn
    from tfx.proto import example_gen_pb2

    tfx_split = [_PartitionFn(r, 2, [3, 4], example_gen_pb2.SplitConfig()) for r in records]
    assert list(is_eval) == [p == 1 for p in tfx_split] and 0 < is_eval.sum() < 290
    first = tf.train.Example.FromString(records[0]).features.feature
    assert first["carrier"].bytes_list.value and first["distance"].WhichOneof("kind")
    missing = delayed_span_rows(str(tmp_path), cfg.data.span_pattern, 9, data_format, "late", (3, 1))
    assert missing[0] == [] and len(missing[1]) == 0 and len(missing[2]) == 0
