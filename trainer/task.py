"""TFX Trainer entry point: ``run_fn`` (referenced as ``trainer.task.run_fn``).

Reads the schema and the region's ``custom_config`` (features and
hyper-parameters from the region YAML), learns preprocessing statistics from
a sample of the training split, trains the Keras model, and saves a SavedModel
whose ``serving_default`` signature takes serialized tf.Examples (no label)
and returns ``{"probabilities": [batch, 1]}``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402
from google.protobuf import text_format  # noqa: E402
from tensorflow_metadata.proto.v0 import schema_pb2  # noqa: E402

from driftgate.core import faults  # noqa: E402
from trainer.features import (  # noqa: E402
    FeatureSpec,
    compute_feature_stats,
    feature_spec_from_schema,
    make_preprocess_fn,
    parse_raw,
)
from trainer.model import build_model  # noqa: E402

SIGNATURE_INPUT = "examples"
OUTPUT_KEY = "probabilities"
STATS_SAMPLE_BATCHES = 40
PREPROCESSING_FILE = "driftgate_preprocessing.json"


def load_schema(path: str) -> schema_pb2.Schema:
    """Reads a Schema text proto (``schema.pbtxt``) from a file or folder."""
    if tf.io.gfile.isdir(path):
        path = os.path.join(path, "schema.pbtxt")
    return text_format.Parse(tf.io.gfile.GFile(path).read(), schema_pb2.Schema())


def _files(patterns: Iterable[str]) -> List[str]:
    files = []
    for pattern in patterns:
        files.extend(tf.io.gfile.glob(pattern))
    if not files:
        raise ValueError(f"no example files match {list(patterns)}")
    return sorted(files)


def raw_dataset(patterns: Iterable[str], spec: FeatureSpec, batch_size: int) -> tf.data.Dataset:
    """Batches of parsed raw features (with the label) from gzipped TFRecords."""
    ds = tf.data.TFRecordDataset(_files(patterns), compression_type="GZIP")
    return ds.batch(batch_size).map(lambda s: parse_raw(s, spec, with_label=True))


def train_and_export(
    train_patterns: Iterable[str],
    eval_patterns: Iterable[str],
    schema: schema_pb2.Schema,
    config: Dict[str, Any],
    serving_model_dir: str,
    train_steps: int,
    eval_steps: int,
) -> Dict[str, float]:
    """Trains on the examples and writes the serving SavedModel; returns eval metrics."""
    feats = config["features"]
    hp = config["trainer"]
    tf.keras.utils.set_random_seed(int(hp["seed"]))
    spec = feature_spec_from_schema(schema, feats["label"], feats["categorical"], feats["numeric"])
    sample = raw_dataset(train_patterns, spec, 256).take(STATS_SAMPLE_BATCHES)
    stats = compute_feature_stats(
        ({k: v.numpy() for k, v in b.items()} for b in sample), spec, int(hp["max_vocab"])
    )
    preprocess = make_preprocess_fn(spec, stats)

    def to_xy(raw):
        return preprocess(raw), raw[spec.label]

    batch = int(hp["batch_size"])
    # A span fits in memory many times over: parse once, then cache.
    train = (
        raw_dataset(train_patterns, spec, batch)
        .map(to_xy)
        .cache()
        .shuffle(64, seed=int(hp["seed"]))
        .repeat()
        .prefetch(2)
    )
    evals = raw_dataset(eval_patterns, spec, batch).map(to_xy).cache().repeat().prefetch(2)
    model = build_model(spec, stats, hp["hidden_units"], float(hp["learning_rate"]), int(hp["hash_buckets"]))
    history = model.fit(
        train,
        steps_per_epoch=train_steps,
        validation_data=evals,
        validation_steps=eval_steps,
        epochs=1,
        verbose=2,
        callbacks=[_FaultPoint()] if faults.ENV in os.environ else [],
    )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=SIGNATURE_INPUT)])
    def serve(examples):
        return {OUTPUT_KEY: model(preprocess(parse_raw(examples, spec)))}

    model.save(serving_model_dir, save_format="tf", signatures={"serving_default": serve})
    tf.io.gfile.makedirs(os.path.join(serving_model_dir, "assets.extra"))
    # What the preprocessing learned, beside the model, for people and audits.
    with tf.io.gfile.GFile(os.path.join(serving_model_dir, "assets.extra", PREPROCESSING_FILE), "w") as fh:
        json.dump(
            {"mean": stats.mean, "std": stats.std, "vocab": {k: list(v) for k, v in stats.vocab.items()}},
            fh,
            indent=1,
        )
    return {k: float(v[-1]) for k, v in history.history.items()}


class _FaultPoint(tf.keras.callbacks.Callback):
    """``trainer.fit`` failpoint a few batches into training (``driftgate.core.faults``)."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 5:
            faults.point("trainer.fit")


def run_fn(fn_args) -> None:
    """TFX Trainer hook (``tfx.components.FnArgs``)."""
    config = fn_args.custom_config or {}
    for key in ("features", "trainer"):
        if key not in config:
            raise ValueError(
                f"Trainer custom_config lacks '{key}': build the pipeline with "
                "pipelines.pipeline.create_pipeline"
            )
    train_and_export(
        fn_args.train_files,
        fn_args.eval_files,
        load_schema(fn_args.schema_path),
        config,
        fn_args.serving_model_dir,
        fn_args.train_steps,
        fn_args.eval_steps,
    )
