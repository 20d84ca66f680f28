"""Reading the rows of an Examples artifact back: serialized tf.Examples per
split (gzipped TFRecords, as ExampleGen writes them), through ``tf.io.gfile``
so a bucket URI reads like a folder."""

from typing import List, Optional, Sequence

import numpy as np

SPLITS = ("train", "eval")


def serialized_examples(examples, splits: Sequence[str] = SPLITS, limit: Optional[int] = None) -> List[bytes]:
    """The serialized tf.Examples of ``splits`` of an Examples artifact (the
    first ``limit`` of them when given)."""
    import tensorflow as tf

    out: List[bytes] = []
    for split in splits:
        files = sorted(tf.io.gfile.glob(f"{examples.uri}/Split-{split}/*"))
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            out.append(record.numpy())
            if limit is not None and len(out) >= limit:
                return out
    return out


def label_values(records: Sequence[bytes], label: str) -> np.ndarray:
    """The ``label`` feature of each example (NaN where it is missing)."""
    import tensorflow as tf

    values = np.full(len(records), np.nan)
    for i, raw in enumerate(records):
        feature = tf.train.Example.FromString(raw).features.feature.get(label)
        if feature is None:
            continue
        kind = feature.WhichOneof("kind")
        vals = getattr(feature, kind).value if kind else []
        if len(vals):
            values[i] = float(vals[0])
    return values


def labelled(examples, label: str, splits: Sequence[str] = SPLITS) -> tuple:
    """(serialized examples, labels) of the rows of ``splits`` that carry ``label``."""
    records = serialized_examples(examples, splits)
    labels = label_values(records, label)
    keep = ~np.isnan(labels)
    return [r for r, k in zip(records, keep, strict=True) if k], labels[keep]
