"""A SavedModel's ``serving_default`` signature called as TF Serving's
Predict calls it: serialized tf.Examples fed to the signature's input, in
batches; one score a row (the last column of the output: the positive
class's probability for a two-column output).

Used by the canary judge, the serving-quality check, the fast Evaluator and
the backtest, so every place that scores a model scores it the same way.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

BATCH = 1000


def load(model_dir: str):
    """The ``serving_default`` signature of the SavedModel in ``model_dir``."""
    import tensorflow as tf

    return tf.saved_model.load(model_dir).signatures["serving_default"]


def predict(
    signature, examples: Sequence[bytes], *, batch: int = BATCH, output: Optional[str] = None
) -> np.ndarray:
    """One float a row of ``examples``; ``output``: the signature's output to
    read (default: its first)."""
    import tensorflow as tf

    (name,) = list(signature.structured_input_signature[1])
    parts = []
    for start in range(0, len(examples), batch):
        chunk = list(examples[start : start + batch])
        result = signature(**{name: tf.constant(chunk)})
        value = result[output] if output else next(iter(result.values()))
        parts.append(np.asarray(value.numpy(), dtype=float).reshape(len(chunk), -1)[:, -1])
    return np.concatenate(parts) if parts else np.zeros(0)


def predict_version(base_path: str, version: int, examples: Sequence[bytes]) -> np.ndarray:
    """Predictions of model ``version`` under a TF Serving base path (local or
    bucket: a bucket's SavedModel is loaded from a local copy)."""
    from driftgate.core import local_copies, storage

    with local_copies.local_copy(storage.join(base_path, str(version))) as model_dir:
        return predict(load(model_dir), examples)
