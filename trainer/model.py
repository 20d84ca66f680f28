"""The Keras model: one-hot vocabularies for categoricals (with hashed
out-of-vocabulary buckets), standardised numerics with missing indicators,
a small MLP, and a sigmoid output (probability that the row is positive)."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from trainer.features import MISSING_SUFFIX, FeatureSpec, FeatureStats


def build_model(
    spec: FeatureSpec,
    stats: FeatureStats,
    hidden_units: Sequence[int],
    learning_rate: float,
    oov_buckets: int,
) -> tf.keras.Model:
    """A compiled binary classifier over the preprocessed inputs."""
    inputs, parts = {}, []
    for name in spec.numeric_names:
        for key in (name, name + MISSING_SUFFIX):
            inputs[key] = tf.keras.Input(shape=(1,), name=key, dtype=tf.float32)
            parts.append(inputs[key])
    for name in spec.categorical_names:
        inputs[name] = tf.keras.Input(shape=(1,), name=name, dtype=tf.string)
        lookup = tf.keras.layers.StringLookup(
            vocabulary=list(stats.vocab[name]),
            num_oov_indices=oov_buckets,
            output_mode="one_hot",
            name=f"{name}_lookup",
        )
        parts.append(lookup(inputs[name]))
    x = tf.keras.layers.Concatenate(name="features")(parts)
    for i, units in enumerate(hidden_units):
        x = tf.keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(x)
    output = tf.keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    model = tf.keras.Model(inputs=inputs, outputs=output)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate),
        loss="binary_crossentropy",
        metrics=[tf.keras.metrics.BinaryAccuracy(name="accuracy"), tf.keras.metrics.AUC(name="auc")],
    )
    return model
