"""The fast ingest and statistics executors against TFX's own, on the same
files, in the same process: the same rows in the same splits, the same
examples, the same statistics (within the quantile sketch's error).

Runs TFX's CsvExampleGen and ImportExampleGen executors and StatisticsGen's
Beam executor (DirectRunner) as a pipeline would; what it does not prove is
a distributed Beam runner.
"""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.components.ingest.test_executor import _props

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

HEADER = "carrier,n,f,flag,ts,spaced,quoted,empty,late"


def _rows(n=400, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        carrier = ["UA", "B6", "ÉV", ""][i % 4]
        num = "" if i % 7 == 0 else str(int(rng.integers(-(2**40), 2**40)))
        flt = "" if i % 5 == 0 else ("1e3" if i % 11 == 0 else f"{rng.normal():.6f}")
        flag = ["true", "false"][i % 2]
        ts = f"2013-01-{1 + i % 28:02d} {i % 24:02d}:00:00"
        spaced = f" {i % 9}"  # TFX reads it as an int (int(" 5") == 5); pyarrow as text
        quoted = '"a,b"' if i % 3 == 0 else "c"
        out.append(f"{carrier},{num},{flt},{flag},{ts},{spaced},{quoted},,{i % 2}")
    return out


@pytest.fixture
def csv_span(tmp_path):
    folder = tmp_path / "data" / "span-1"
    folder.mkdir(parents=True)
    (folder / "data.csv").write_text("\ufeff" + HEADER + "\n" + "\n".join(_rows()) + "\n", encoding="utf-8")
    return tmp_path / "data"


def _ingest(data, tmp_path, name, executor, pattern="span-{SPAN}/*.csv", fmt="csv"):
    from tfx.types import standard_artifacts

    from components.ingest.executor import Executor

    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / name)
    props = _props(data, tmp_path / "EWR" / "state")
    props["input_config"] = props["input_config"].replace("span-{SPAN}/*.csv", pattern)
    props.update(executor=executor, data_format=fmt)
    Executor().Do({}, {"examples": [examples]}, props)
    return examples


def _split_records(examples, split):
    import tensorflow as tf

    from components.ingest.records import serialized_examples

    return sorted(
        tf.train.Example.FromString(r).SerializeToString(deterministic=True)
        for r in serialized_examples(examples, (split,))
    )


def test_csv_rows_land_in_the_same_splits_as_examples_identical_to_tfx(csv_span, tmp_path):
    import tensorflow as tf

    from components.ingest.records import serialized_examples

    stock = _ingest(csv_span, tmp_path, "stock", "stock")
    fast = _ingest(csv_span, tmp_path, "fast", "fast")
    for split in ("train", "eval"):
        assert _split_records(fast, split) == _split_records(stock, split)
    raw = serialized_examples(fast, ("train",))
    assert raw == [tf.train.Example.FromString(r).SerializeToString(deterministic=True) for r in raw]
    example = tf.train.Example.FromString(raw[0]).features.feature
    # the byte-order mark is not part of the first name; TFX's type rules hold
    assert "carrier" in example and "\ufeffcarrier" not in example
    assert example["flag"].WhichOneof("kind") == "bytes_list"  # "true" is text to TFX
    assert example["ts"].WhichOneof("kind") == "bytes_list"
    assert example["spaced"].WhichOneof("kind") == "int64_list"
    assert example["empty"].WhichOneof("kind") is None
    assert json.loads(fast.split_names) == ["train", "eval"]
    assert fast.get_string_custom_property("payload_format") == stock.get_string_custom_property(
        "payload_format"
    )


def test_rows_are_in_hash_order_not_file_order(csv_span, tmp_path):
    import hashlib

    from components.ingest.records import serialized_examples

    raw = serialized_examples(_ingest(csv_span, tmp_path, "fast", "fast"), ("train",))
    keys = [hashlib.sha256(r).digest()[:8] for r in raw]
    assert keys == sorted(keys)


def test_a_split_larger_than_memory_spills_and_writes_the_same_file(csv_span, tmp_path):
    import gzip

    from components.ingest import fast, formats

    files = [str(p) for p in sorted(csv_span.glob("span-1/*.csv"))]
    fast.ingest(formats.CSV, files, [("train", 3), ("eval", 1)], str(tmp_path / "memory"))
    fast.ingest(formats.CSV, files, [("train", 3), ("eval", 1)], str(tmp_path / "spilled"), memory_bytes=1000)
    for split in ("train", "eval"):
        read = [
            gzip.open(tmp_path / d / f"Split-{split}" / fast.TFRECORD_NAME).read()
            for d in ("memory", "spilled")
        ]
        assert read[0] == read[1] and len(read[0]) > 1000


def test_parquet_span_gives_the_csv_span_examples_fast_and_on_beam(tmp_path):
    rng = np.random.default_rng(3)
    n = 300
    table = pa.table(
        {
            "carrier": pa.array([["UA", "B6", None][i % 3] for i in range(n)]),
            "distance": pa.array(rng.integers(0, 3000, n), pa.int32()),
            "temp": pa.array(np.where(np.arange(n) % 9 == 0, np.nan, rng.normal(50, 10, n))).cast(
                pa.float64()
            ),
            "late": pa.array([i % 2 for i in range(n)], pa.int64()),
        }
    )
    table = table.set_column(
        2, "temp", pa.array([None if i % 9 == 0 else v for i, v in enumerate(table["temp"].to_pylist())])
    )
    for fmt, write in (
        ("parquet", lambda p: pq.write_table(table, p)),
        ("csv", lambda p: table.to_pandas().to_csv(p, index=False)),
    ):
        folder = tmp_path / fmt / "span-1"
        folder.mkdir(parents=True)
        write(folder / f"data.{fmt}")
    as_csv = _ingest(tmp_path / "csv", tmp_path, "csv", "fast")
    fast = _ingest(tmp_path / "parquet", tmp_path, "pq-fast", "fast", "span-{SPAN}/*.parquet", "parquet")
    beam = _ingest(tmp_path / "parquet", tmp_path, "pq-beam", "stock", "span-{SPAN}/*.parquet", "parquet")
    for split in ("train", "eval"):
        assert _split_records(fast, split) == _split_records(beam, split) == _split_records(as_csv, split)


def test_tfrecord_span_is_split_as_import_example_gen_splits_it(csv_span, tmp_path):
    import shutil

    fast_csv = _ingest(csv_span, tmp_path, "from-csv", "fast")
    for gz in (True, False):
        folder = tmp_path / f"tfr-{gz}" / "span-1"
        folder.mkdir(parents=True)
        src = tmp_path / "from-csv" / "Split-train"
        for f in src.glob("*.gz"):
            if gz:
                shutil.copy(f, folder / "part.tfrecord.gz")
            else:
                import gzip

                (folder / "part.tfrecord").write_bytes(gzip.open(f).read())
        pattern = "span-{SPAN}/*"
        fast = _ingest(tmp_path / f"tfr-{gz}", tmp_path, f"t-fast-{gz}", "fast", pattern, "tfrecord")
        stock = _ingest(tmp_path / f"tfr-{gz}", tmp_path, f"t-stock-{gz}", "stock", pattern, "tfrecord")
        both = [_split_records(fast, s) + _split_records(stock, s) for s in ("train", "eval")]
        assert _split_records(fast, "train") == _split_records(stock, "train")
        assert _split_records(fast, "eval") == _split_records(stock, "eval")
        assert sum(map(len, both)) == 2 * len(_split_records(fast_csv, "train"))


def test_statistics_in_process_equal_tfdv_on_beam(csv_span, tmp_path):
    import tensorflow_data_validation as tfdv
    from tfx.components.statistics_gen import executor as stock_stats
    from tfx.types import standard_artifacts

    from components.statistics.executor import Executor

    options = tfdv.StatsOptions(num_quantiles_histogram_buckets=20)
    results = {}
    for ingest in ("fast", "stock"):  # the fast ingest's columns, and the decoded TFRecords
        examples = _ingest(csv_span, tmp_path, ingest, ingest)
        for name, executor in (("fast", Executor), ("beam", stock_stats.Executor)):
            out = standard_artifacts.ExampleStatistics()
            out.uri = str(tmp_path / f"stats-{ingest}-{name}")
            executor().Do(
                {"examples": [examples]}, {"statistics": [out]}, {"stats_options_json": options.to_json()}
            )
            assert json.loads(out.split_names) == ["train", "eval"] and out.span == examples.span
            results[ingest, name] = {
                s: tfdv.load_stats_binary(f"{out.uri}/Split-{s}/FeatureStats.pb") for s in ("train", "eval")
            }
    reference = results["stock", "beam"]
    for key, got in results.items():
        for split in ("train", "eval"):
            _assert_same_statistics(got[split], reference[split], key)


def _assert_same_statistics(got, want, key):
    g, w = got.datasets[0], want.datasets[0]
    assert g.num_examples == w.num_examples, key
    gf = {f.path.step[0]: f for f in g.features}
    wf = {f.path.step[0]: f for f in w.features}
    assert set(gf) == set(wf), key
    for name, f in wf.items():
        h = gf[name]
        assert h.type == f.type, (key, name)
        if f.HasField("num_stats"):
            a, b = h.num_stats, f.num_stats
            assert a.common_stats.num_non_missing == b.common_stats.num_non_missing, (key, name)
            assert a.common_stats.num_missing == b.common_stats.num_missing, (key, name)
            assert a.num_zeros == b.num_zeros and a.min == b.min and a.max == b.max, (key, name)
            assert a.mean == pytest.approx(b.mean, rel=1e-9, abs=1e-9), (key, name)
            assert a.std_dev == pytest.approx(b.std_dev, rel=1e-6, abs=1e-9), (key, name)
            qa = [x.high_value for x in a.histograms[1].buckets]
            qb = [x.high_value for x in b.histograms[1].buckets]
            spread = (b.max - b.min) or 1.0
            assert np.max(np.abs(np.array(qa) - np.array(qb))) <= 0.05 * spread, (key, name)
        elif f.HasField("string_stats"):
            a, b = h.string_stats, f.string_stats
            assert a.common_stats.num_non_missing == b.common_stats.num_non_missing, (key, name)
            assert a.unique == b.unique, (key, name)
            assert [(v.value, v.frequency) for v in a.top_values] == [
                (v.value, v.frequency) for v in b.top_values
            ]


def test_uris_go_through_tf_gfile_like_a_bucket(csv_span, tmp_path):
    """A ``scheme://`` location is read and written through ``tf.io.gfile``
    (what a ``gs://`` root takes); ``file://`` exercises the same path here.
    Not proven: a real bucket's latency and consistency."""
    from components.ingest import fast, formats

    local = [str(p) for p in sorted(csv_span.glob("span-1/*.csv"))]
    fast.ingest(formats.CSV, local, [("train", 3), ("eval", 1)], str(tmp_path / "local"))
    uri = "file://" + str(tmp_path / "uri")
    fast.ingest(formats.CSV, ["file://" + p for p in local], [("train", 3), ("eval", 1)], uri)
    for split in ("train", "eval"):
        a = (tmp_path / "local" / f"Split-{split}" / fast.TFRECORD_NAME).read_bytes()
        b = (tmp_path / "uri" / f"Split-{split}" / fast.TFRECORD_NAME).read_bytes()
        assert a == b
        with formats.arrow_file(fast.columns_file(uri, split)) as fh:
            assert pa.ipc.open_stream(fh).read_all().num_rows > 0
    table = pa.table({"late": [0, 1, 0], "temp": [1.5, None, 2.5]})
    pq.write_table(table, tmp_path / "t.parquet")
    uri_pq = "file://" + str(tmp_path / "t.parquet")
    kinds = formats.parquet_layout([uri_pq])
    assert [c["late"][1].to_pylist() for c in formats.parquet_columns([uri_pq], kinds)] == [[0, 1, 0]]
