"""The vectorized encoder writes exactly the protobuf library's deterministic
serialization of the tf.Example TFX would build, for every kind of cell."""

import numpy as np
import pyarrow as pa
import pytest

from components.ingest import encode as E


def _reference(columns, i):
    import tensorflow as tf

    feature = {}
    for name, (kind, values) in columns.items():
        v = values[i].as_py()
        if kind == E.NONE:
            feature[name] = tf.train.Feature()
        elif kind == E.INT:
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[] if v is None else [v]))
        elif kind == E.FLOAT:
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[] if v is None else [v]))
        else:
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[] if v is None else [v]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


@pytest.mark.parametrize("dictionary_limit", [E.DICTIONARY_LIMIT, 0])  # ints by dictionary, and vectorized
def test_bytes_equal_protobufs_deterministic_serialization(monkeypatch, dictionary_limit):
    monkeypatch.setattr(E, "DICTIONARY_LIMIT", dictionary_limit)
    rng = np.random.default_rng(1)
    n = 1500
    ints = rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64)
    ints[:500] = rng.integers(0, 300, 500)
    floats = rng.normal(size=n).astype(np.float32)
    floats[3], floats[4], floats[5] = np.nan, np.inf, -0.0
    text = [("é" * int(k)).encode() + b"x" for k in rng.integers(0, 200, n)]
    mask = rng.random(n) < 0.2
    columns = {
        "zint": (E.INT, pa.array(ints, mask=mask)),
        "a_float": (E.FLOAT, pa.array(floats, mask=mask[::-1].copy())),
        "mid": (E.BYTES, pa.array(text, pa.binary(), mask=rng.random(n) < 0.1)),
        "none": (E.NONE, pa.nulls(n)),
        "k" * 200: (E.INT, pa.array(rng.integers(0, 5, n))),  # a name longer than one varint byte
    }
    out = E.encode(columns).to_pylist()
    assert [i for i in range(n) if out[i] != _reference(columns, i)] == []


def test_split_is_tfxs_partition_of_the_serialized_record():
    from tfx.components.example_gen import base_example_gen_executor as base
    from tfx.proto import example_gen_pb2

    records = [f"record-{i}".encode() for i in range(2000)]
    config = example_gen_pb2.SplitConfig()
    want = [base._PartitionFn(r, 2, [3, 4], config) for r in records]  # noqa: SLF001 - TFX's own rule
    assert E.split_of(records, [3, 1]).tolist() == want
    assert 0.2 < np.mean(want) < 0.3
