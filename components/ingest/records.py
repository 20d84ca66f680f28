"""Reading the rows of an Examples artifact back: serialized tf.Examples per
split (gzipped TFRecords, as ExampleGen writes them), through ``tf.io.gfile``
so a bucket URI reads like a folder."""

from typing import List, Optional, Sequence

import numpy as np

SPLITS = ("train", "eval")
# The judges (canary, quality, release reference) read at most this many rows
# of a split: a uniform sample, since a split's rows are stored in hash order
# (components.ingest.fast) or shuffled (TFX's ExampleGen), so its first rows
# are as good as any. A million-row span is judged on 2 x 20,000 rows (a
# 10k-row demo span has about 2,400 eval rows): the paired bootstraps' cost
# grows with the rows.
JUDGED_ROWS = 20_000


def serialized_examples(examples, splits: Sequence[str] = SPLITS, limit: Optional[int] = None) -> List[bytes]:
    """The serialized tf.Examples of ``splits`` of an Examples artifact (the
    first ``limit`` of them when given)."""
    import tensorflow as tf

    from components.ingest.formats import tfrecord_records

    out: List[bytes] = []
    for split in splits:
        files = sorted(tf.io.gfile.glob(f"{examples.uri}/Split-{split}/*"))
        for batch in tfrecord_records(files, batch=min(limit or 65536, 65536)):
            out.extend(batch)
            if limit is not None and len(out) >= limit:
                return out[:limit]
    return out


def label_values(records: Sequence[bytes], label: str) -> np.ndarray:
    """The ``label`` feature of each example: its first value, NaN where it
    has none (parsed in one ``tf.io.parse_example`` call per kind)."""
    import tensorflow as tf

    values = np.full(len(records), np.nan)
    if not len(records):
        return values
    for dtype in (tf.int64, tf.float32, tf.string):
        try:
            parsed = tf.io.parse_example(tf.constant(list(records)), {label: tf.io.VarLenFeature(dtype)})[
                label
            ]
        except (tf.errors.InvalidArgumentError, ValueError):
            continue  # the label is of another kind
        rows, first = np.unique(parsed.indices.numpy()[:, 0], return_index=True)
        found = parsed.values.numpy()[first]
        values[rows] = [float(v) for v in found] if dtype == tf.string else found.astype(float)
        return values
    return values


def labelled(
    examples, label: str, splits: Sequence[str] = SPLITS, limit: Optional[int] = JUDGED_ROWS
) -> tuple:
    """(serialized examples, labels) of the rows of ``splits`` that carry
    ``label``: the first ``limit`` rows of each split (None: all)."""
    records = [r for split in splits for r in serialized_examples(examples, (split,), limit)]
    labels = label_values(records, label)
    keep = ~np.isnan(labels)
    return [r for r, k in zip(records, keep, strict=True) if k], labels[keep]


def feature_kinds(records: Sequence[bytes], names: Sequence[str]) -> dict:
    """``{name: "float_list" | "int64_list" | "bytes_list"}``: the kind each
    name has in the first of the first 1,000 records carrying it."""
    import tensorflow as tf

    kinds = {}
    for raw in records[:1000]:
        feats = tf.train.Example.FromString(raw).features.feature
        for n in names:
            if n not in kinds and n in feats and feats[n].WhichOneof("kind"):
                kinds[n] = feats[n].WhichOneof("kind")
        if len(kinds) == len(names):
            break
    return kinds


def columns(records: Sequence[bytes], names: Sequence[str]) -> dict:
    """``{name: values}`` of serialized tf.Examples, one value a row: a float
    for numeric features (NaN where missing), a string for bytes features and
    the first value otherwise (None where missing). Parsed with one
    ``tf.io.parse_example`` per feature kind (the kind each name has in the
    first record carrying it)."""
    import tensorflow as tf

    out = {n: [None] * len(records) for n in names}
    kinds = feature_kinds(records, names)
    dtypes = {"float_list": tf.float32, "int64_list": tf.int64, "bytes_list": tf.string}
    if not records or not kinds:
        return out
    parsed = tf.io.parse_example(
        tf.constant(list(records)), {n: tf.io.VarLenFeature(dtypes[k]) for n, k in kinds.items()}
    )
    for n in kinds:
        rows, first = np.unique(parsed[n].indices.numpy()[:, 0], return_index=True)
        values = parsed[n].values.numpy()[first]
        col = out[n]
        for r, v in zip(rows.tolist(), values.tolist(), strict=True):
            col[r] = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
    return out


def eval_mask(records: Sequence[bytes], train_buckets: int, eval_buckets: int) -> np.ndarray:
    """True for the rows ExampleGen puts in the eval split (for a span read
    back from its files): ``components.ingest.encode.split_of``, the one
    split rule ingest and the backtest use."""
    from components.ingest.encode import split_of

    return split_of(records, (train_buckets, eval_buckets)) == 1
