"""The trainer on tiny data: trains, exports a SavedModel whose serving
signature takes serialized tf.Examples without the label, handles missing values."""

import math

import numpy as np
import pytest
import tensorflow as tf

from driftgate.core.config import load_region_config, schema_file
from pipelines.pipeline import trainer_custom_config
from trainer import features, task


def _example(row: dict) -> bytes:
    feats = {}
    for k, v in row.items():
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue  # a missing CSV cell: the feature is absent
        if isinstance(v, str):
            feats[k] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode()]))
        elif isinstance(v, (int, np.integer)):
            feats[k] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v)]))
        else:
            feats[k] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(v)]))
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, flights_frame):
    """300 EWR January rows as gzipped TFRecords, split 240/60."""
    d = tmp_path_factory.mktemp("tiny")
    rows = flights_frame[(flights_frame.origin == "EWR") & (flights_frame.month == 1)]
    rows = rows.sample(300, random_state=3).drop(columns=["origin", "month"])
    records = [_example(r) for r in rows.to_dict("records")]
    for name, chunk in (("train", records[:240]), ("eval", records[240:])):
        with tf.io.TFRecordWriter(str(d / f"{name}.gz"), options="GZIP") as w:
            for rec in chunk:
                w.write(rec)
    return d, rows


@pytest.fixture(scope="module")
def exported(tiny, tmp_path_factory):
    d, _ = tiny
    cfg = load_region_config("EWR")
    config = trainer_custom_config(cfg)
    config["trainer"]["batch_size"] = 32
    out = tmp_path_factory.mktemp("model") / "serving"
    metrics = task.train_and_export(
        [str(d / "train.gz")],
        [str(d / "eval.gz")],
        task.load_schema(str(schema_file(cfg))),
        config,
        str(out),
        train_steps=20,
        eval_steps=2,
    )
    return out, metrics


def test_training_reports_metrics(exported):
    _, metrics = exported
    assert 0.0 <= metrics["val_auc"] <= 1.0 and metrics["loss"] > 0


def test_saved_model_serves_serialized_examples_without_label(exported, tiny):
    out, _ = exported
    _, rows = tiny
    model = tf.saved_model.load(str(out))
    serve = model.signatures["serving_default"]
    assert list(serve.structured_input_signature[1]) == [task.SIGNATURE_INPUT]
    batch = [_example({k: v for k, v in r.items() if k != "late"}) for r in rows.head(16).to_dict("records")]
    probs = serve(examples=tf.constant(batch))[task.OUTPUT_KEY].numpy()
    assert probs.shape == (16, 1)
    assert np.all((probs > 0) & (probs < 1))
    assert len(np.unique(probs.round(6))) > 1  # depends on the input


def test_missing_and_unseen_values_still_score(exported):
    out, _ = exported
    serve = tf.saved_model.load(str(out)).signatures["serving_default"]
    sparse = _example({"carrier": "ZZ", "dest": "NOWHERE", "distance": 500})  # all weather missing
    probs = serve(examples=tf.constant([sparse, _example({})]))[task.OUTPUT_KEY].numpy()
    assert np.all(np.isfinite(probs))


def test_preprocessing_record_written_beside_model(exported):
    out, _ = exported
    import json

    rec = json.loads((out / "assets.extra" / task.PREPROCESSING_FILE).read_text())
    assert "UA" in rec["vocab"]["carrier"] and rec["std"]["temp"] > 0


def test_feature_spec_rejects_feature_missing_from_schema():
    cfg = load_region_config("EWR")
    schema = task.load_schema(str(schema_file(cfg)))
    with pytest.raises(ValueError, match=r"\['nope'\] are configured but not in the schema"):
        features.feature_spec_from_schema(schema, "late", ["carrier", "nope"], ["temp"])


def test_feature_stats_ignore_missing_values():
    spec = features.FeatureSpec(label="y", categorical=(("c", tf.string),), numeric=(("x", tf.float32),))
    batches = [
        {"x": np.array([[1.0], [np.nan], [3.0]]), "c": np.array([[b"a"], [b""], [b"a"]])},
        {"x": np.array([[np.nan]]), "c": np.array([[b"b"]])},
    ]
    stats = features.compute_feature_stats(batches, spec, max_vocab=10)
    assert stats.mean["x"] == 2.0 and stats.std["x"] == 1.0
    assert stats.vocab["c"] == ("a", "b")  # by frequency, empty string excluded
