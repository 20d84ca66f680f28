"""Feature specification and tf.Example parsing shared by training and serving.

The same ``make_preprocess_fn`` runs inside the training input pipeline and
inside the SavedModel's ``serving_default`` signature, so what the model sees
in training is exactly what TF Serving feeds it. Missing values are handled
here: a missing numeric becomes 0 after standardisation plus a ``<name>__missing``
indicator; a missing categorical becomes the empty string (out of vocabulary).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2

MISSING_SUFFIX = "__missing"


@dataclass(frozen=True)
class FeatureSpec:
    """Model inputs with their tf.Example dtypes (from the schema)."""

    label: str
    categorical: Tuple[Tuple[str, tf.DType], ...]
    numeric: Tuple[Tuple[str, tf.DType], ...]

    @property
    def categorical_names(self) -> List[str]:
        return [n for n, _ in self.categorical]

    @property
    def numeric_names(self) -> List[str]:
        return [n for n, _ in self.numeric]


_DTYPES = {schema_pb2.INT: tf.int64, schema_pb2.FLOAT: tf.float32, schema_pb2.BYTES: tf.string}


def feature_spec_from_schema(
    schema: schema_pb2.Schema, label: str, categorical: Sequence[str], numeric: Sequence[str]
) -> FeatureSpec:
    """Builds the FeatureSpec; every configured feature must be in the schema."""
    types = {f.name: f.type for f in schema.feature}
    missing = [n for n in [label, *categorical, *numeric] if n not in types]
    if missing:
        raise ValueError(
            f"features {missing} are configured but not in the schema; "
            f"add them to the schema or remove them from the region config"
        )
    for name in numeric:
        if types[name] not in (schema_pb2.INT, schema_pb2.FLOAT):
            raise ValueError(
                f"numeric feature '{name}' has schema type "
                f"{schema_pb2.FeatureType.Name(types[name])}; expected INT or FLOAT"
            )
    return FeatureSpec(
        label=label,
        categorical=tuple((n, _DTYPES[types[n]]) for n in categorical),
        numeric=tuple((n, _DTYPES[types[n]]) for n in numeric),
    )


def _parse_spec(spec: FeatureSpec, with_label: bool) -> Dict[str, tf.io.RaggedFeature]:
    out = {n: tf.io.RaggedFeature(dtype=d) for n, d in spec.categorical + spec.numeric}
    if with_label:
        out[spec.label] = tf.io.FixedLenFeature([], tf.int64)
    return out


def parse_raw(serialized: tf.Tensor, spec: FeatureSpec, with_label: bool = False) -> Dict[str, tf.Tensor]:
    """Serialized tf.Examples -> dense [batch, 1] tensors.

    Categoricals become strings ("" when missing); numerics become float32 with
    NaN when missing. The label, when asked for, is an int64 vector.
    """
    parsed = tf.io.parse_example(serialized, _parse_spec(spec, with_label))
    out = {}
    for name, dtype in spec.categorical:
        value = parsed[name]
        if dtype != tf.string:
            value = tf.strings.as_string(value)
        out[name] = value.to_tensor(default_value="", shape=[None, 1])
    for name, _ in spec.numeric:
        value = tf.cast(parsed[name], tf.float32)
        out[name] = value.to_tensor(default_value=np.nan, shape=[None, 1])
    if with_label:
        out[spec.label] = parsed[spec.label]
    return out


@dataclass(frozen=True)
class FeatureStats:
    """What preprocessing learns from training data: numeric moments, vocabularies."""

    mean: Mapping[str, float]
    std: Mapping[str, float]
    vocab: Mapping[str, Tuple[str, ...]]


def compute_feature_stats(batches, spec: FeatureSpec, max_vocab: int) -> FeatureStats:
    """Numeric mean/std (ignoring missing) and the most frequent categorical values.

    ``batches`` yields dicts from ``parse_raw`` (eager tensors or numpy).
    """
    values: Dict[str, list] = {n: [] for n in spec.numeric_names + spec.categorical_names}
    for batch in batches:
        for name in values:
            values[name].append(np.asarray(batch[name]).reshape(-1))
    mean, std, vocab = {}, {}, {}
    for name in spec.numeric_names:
        arr = np.concatenate(values[name]).astype(np.float64) if values[name] else np.array([])
        arr = arr[~np.isnan(arr)]
        mean[name] = float(arr.mean()) if arr.size else 0.0
        sd = float(arr.std()) if arr.size else 0.0
        std[name] = sd if sd > 1e-9 else 1.0
    for name in spec.categorical_names:
        arr = np.concatenate(values[name]) if values[name] else np.array([], dtype=object)
        arr = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in arr])
        arr = arr[arr != ""]
        uniq, counts = np.unique(arr, return_counts=True)
        order = np.lexsort((uniq, -counts))[:max_vocab]
        vocab[name] = tuple(str(u) for u in uniq[order]) or ("<none>",)
    return FeatureStats(mean=mean, std=std, vocab=vocab)


def make_preprocess_fn(spec: FeatureSpec, stats: FeatureStats):
    """Returns f(raw dict) -> model inputs: standardised numerics with NaN -> 0,
    a 0/1 missing indicator per numeric, categoricals passed through."""

    def preprocess(raw: Mapping[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        out = {}
        for name in spec.numeric_names:
            x = raw[name]
            missing = tf.math.is_nan(x)
            z = (x - stats.mean[name]) / stats.std[name]
            out[name] = tf.where(missing, tf.zeros_like(z), z)
            out[name + MISSING_SUFFIX] = tf.cast(missing, tf.float32)
        for name in spec.categorical_names:
            out[name] = raw[name]
        return out

    return preprocess
