"""The Evaluator's metrics in process: the SavedModels scored in batches, the
metrics computed with TFMA's own formulas, TFMA's validator deciding.

TFMA's Beam pipeline feeds every example through per-example Python
combiners: about 0.5 ms a row on our machines (142 s for the 250k eval rows of
a 1M-row span). Here the candidate (and baseline) models answer their
``serving_default`` signature on batches of serialized examples, and the
metrics come from those predictions with TFMA's definitions:

- ``ExampleCount``; ``BinaryAccuracy``, ``Precision``, ``Recall`` at 0.5
  (predictions above the threshold are positive);
- ``AUC``: TFMA's ROC interpolation (``AUC._metric_value``) over its 10,000
  interpolated thresholds, and ``ConfusionMatrixPlot`` at its 1,002, both from
  TFMA's calibration histogram (``histogram_matrices``);

keyed as TFMA keys them (``metric_specs.to_computations``), diffs against the
baseline as TFMA makes them, judged by TFMA's ``metrics_validator`` and
``CombineValidations``, written by TFMA's proto converters to the files
``tfma.load_metrics``, ``load_plots`` and ``load_validation_result`` read.
The blessing is therefore TFMA's rule on (within the histogram's rounding)
TFMA's numbers; ``tests/components/evaluator/test_fast.py`` runs both.

Anything else in the eval config (slices, weights, other metrics, several
outputs) is not handled here: ``supported`` says so and the stock executor
runs. Not recomputed: the Keras metrics compiled into the model, which TFMA
adds under the model's own names (``accuracy``, ``loss``).
"""

from __future__ import annotations

import os
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

from serving import signature

METRICS = {
    "ExampleCount",
    "AUC",
    "BinaryAccuracy",
    "Precision",
    "Recall",
    "FallOut",
    "MissRate",
    "ConfusionMatrixPlot",
}
PREDICT_BATCH = 8192


def supported(eval_config) -> Optional[str]:
    """None when the in-process evaluation computes everything ``eval_config``
    asks for, else why not."""
    if any(s.feature_values or s.slice_keys_sql for s in eval_config.slicing_specs):
        return "slices by feature value or SQL"
    if eval_config.cross_slicing_specs:
        return "cross slices"
    if eval_config.options.compute_confidence_intervals.value:
        return "confidence intervals"
    for spec in eval_config.model_specs:
        if spec.example_weight_key or spec.example_weight_keys or spec.label_keys or spec.prediction_keys:
            return f"model {spec.name!r}: weights or several outputs"
        if not spec.label_key:
            return f"model {spec.name!r}: no label_key"
    for metrics_spec in eval_config.metrics_specs:
        if (
            metrics_spec.binarize.ListFields()
            or metrics_spec.aggregate.ListFields()
            or metrics_spec.query_key
        ):
            return "binarized, aggregated or query metrics"
        for metric in metrics_spec.metrics:
            if metric.class_name not in METRICS or metric.config not in ("", "{}") or metric.module:
                return f"metric {metric.class_name} {metric.config}".strip()
    return None


class _Scorer:
    """A SavedModel's ``serving_default`` signature, loaded once."""

    def __init__(self, model_dir: str, prediction_key: str):
        self.fn = signature.load(model_dir)
        self.key = prediction_key

    def __call__(self, records: Sequence[bytes]) -> np.ndarray:
        return signature.predict(self.fn, records, batch=PREDICT_BATCH, output=self.key or None)


def score(
    batches: Iterable[List[bytes]],
    models: Dict[str, str],
    label_key: str,
    prediction_key: str,
    specs: Sequence[tuple] = ((),),
):
    """(labels, {model: predictions}, {slice key: row indices}) over record
    ``batches`` (rows without a label left out), one batch in memory at a
    time; the slices of ``specs`` (``components.evaluator.slicing``)."""
    from components.evaluator import slicing
    from components.ingest.records import label_values

    scorers = {name: _Scorer(path, prediction_key) for name, path in models.items()}
    labels, predictions = [], {name: [] for name in models}
    slices: Dict[tuple, list] = {}
    seen = 0
    for records in batches:
        y = label_values(records, label_key)
        keep = ~np.isnan(y)
        kept = [r for r, k in zip(records, keep, strict=True) if k]
        labels.append(y[keep])
        for name, scorer in scorers.items():
            predictions[name].append(scorer(kept))
        for key, rows in slicing.slice_rows(kept, specs).items():
            slices.setdefault(key, []).append(rows + seen)
        seen += len(kept)
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0)  # noqa: E731
    rows = {key: np.concatenate(parts) for key, parts in slices.items()}
    if () in specs:
        rows[()] = np.arange(seen)
    return cat(labels), {name: cat(p) for name, p in predictions.items()}, rows


def confusion(labels: np.ndarray, predictions: np.ndarray, thresholds: Sequence[float]):
    """TFMA's binary confusion ``Matrices`` at ``thresholds`` (a prediction
    above the threshold is a positive)."""
    from tensorflow_model_analysis.metrics import binary_confusion_matrices as bcm

    positive = labels > 0.5
    pos, neg = np.sort(predictions[positive]), np.sort(predictions[~positive])
    t = np.asarray(thresholds, dtype=float)
    tp = len(pos) - np.searchsorted(pos, t, side="right")
    fp = len(neg) - np.searchsorted(neg, t, side="right")
    fn, tn = len(pos) - tp, len(neg) - fp
    as_list = lambda a: [float(x) for x in a]  # noqa: E731
    return bcm.Matrices(list(map(float, t)), as_list(tp), as_list(tn), as_list(fp), as_list(fn))


def histogram_matrices(labels: np.ndarray, predictions: np.ndarray, thresholds: Sequence[float]):
    """TFMA's confusion ``Matrices`` at ``thresholds`` the way TFMA derives
    them for AUC and the plot: each prediction in its 10,000-bucket
    calibration histogram (``calibration_histogram``'s bucket rule), the
    buckets rebinned to the thresholds (``calibration_histogram.rebin``: a
    bucket goes where its lower edge falls), then counted from above and
    below (``binary_confusion_matrices._histogram_to_binary_confusion_matrices``).
    The same steps in numpy: the counts are whole numbers, so they equal
    TFMA's exactly (``tests/components/evaluator/test_slices.py`` runs both)
    at a millisecond a slice instead of a second."""
    from tensorflow_model_analysis.metrics import binary_confusion_matrices as bcm
    from tensorflow_model_analysis.metrics import calibration_histogram as ch

    n = ch.DEFAULT_NUM_BUCKETS
    index = predictions * n + 1  # _bucket_index: truncated, 0 below the range, n + 1 at or above its end
    ids = np.where(index < 0, 0, np.where(index >= n + 1, n + 1, np.floor(np.maximum(index, 0)))).astype(
        np.int64
    )
    eps = bcm._EPSILON  # noqa: SLF001 - the result() of binary_confusion_matrices, as TFMA writes it
    rebin = [t + eps if t != 0 else t for t in thresholds]
    if thresholds[0] >= 0:
        rebin = [-eps] + rebin
    if thresholds[-1] < 1.0:
        rebin = rebin + [1.0 + eps]
    edge = np.where(ids == 0, -np.inf, np.where(ids >= n + 1, np.inf, (ids - 1) / n * (1.0 - 0.0) + 0.0))
    bucket = np.searchsorted(np.asarray(rebin[1:], dtype=float), edge, side="right")
    size = len(rebin)
    positive = labels.astype(float)
    pos = np.bincount(bucket, weights=positive, minlength=size)
    neg = np.bincount(bucket, weights=1.0 - positive, minlength=size)
    tp, fp = np.cumsum(pos[::-1])[::-1], np.cumsum(neg[::-1])[::-1]
    fn, tn = np.r_[0.0, np.cumsum(pos)[:-1]], np.r_[0.0, np.cumsum(neg)[:-1]]
    offset = 1 if (thresholds[0] >= 0 or len(thresholds) == 1) and size > 1 else 0
    cut = slice(offset, offset + len(thresholds))
    tp, fp, tn, fn = (a[cut].copy() for a in (tp, fp, tn, fn))
    above = np.asarray(thresholds, dtype=float) >= 1.0 + eps
    tp0, fp0 = tp[0], fp[0]
    tp[above], fp[above], fn[above], tn[above] = 0.0, 0.0, tp0, fp0
    as_list = lambda a: [float(x) for x in a]  # noqa: E731
    return bcm.Matrices(list(thresholds), as_list(tp), as_list(tn), as_list(fp), as_list(fn))


def metric_values(labels: np.ndarray, predictions: np.ndarray) -> Dict[str, object]:
    """TFMA's value of each supported metric, by TFMA's metric name."""
    from tensorflow_model_analysis.metrics import binary_confusion_matrices as bcm
    from tensorflow_model_analysis.metrics import confusion_matrix_metrics as cmm

    auc = cmm.AUC()._metric_value(
        "ROC",
        "interpolation",
        None,
        histogram_matrices(labels, predictions, bcm._interpolated_thresholds(10000)),
    )  # noqa: SLF001 - TFMA's own formula
    at_half = confusion(labels, predictions, [0.5])
    tp, tn, fp, fn = (getattr(at_half, k)[0] for k in ("tp", "tn", "fp", "fn"))
    plot_thresholds = [-1e-6] + [i / 1000 for i in range(1001)]  # confusion_matrix_plot's own
    return {
        "example_count": float(len(labels)),
        "auc": float(auc),
        "binary_accuracy": cmm.BinaryAccuracy().result(tp, tn, fp, fn),
        "precision": cmm.Precision().result(tp, tn, fp, fn),
        "recall": cmm.Recall().result(tp, tn, fp, fn),
        "fall_out": cmm.FallOut().result(tp, tn, fp, fn),  # the false positive rate
        "miss_rate": cmm.MissRate().result(tp, tn, fp, fn),  # the false negative rate
        "confusion_matrix_plot": histogram_matrices(labels, predictions, plot_thresholds)
        .to_proto()
        .confusion_matrix_at_thresholds,
    }


def evaluate(
    eval_config, models: Dict[str, str], batches: Iterable[List[bytes]], output_uri: str, data_location: str
) -> int:
    """Scores ``models`` (model name in ``eval_config`` -> SavedModel dir) on
    the record ``batches`` and writes TFMA's output files to ``output_uri``;
    returns the number of labelled rows."""
    import tensorflow as tf
    from tensorflow_model_analysis.evaluators import metrics_validator
    from tensorflow_model_analysis.metrics import metric_specs
    from tensorflow_model_analysis.writers import eval_config_writer
    from tensorflow_model_analysis.writers import metrics_plots_and_validations_writer as w

    from components.evaluator import slicing

    spec = eval_config.model_specs[0]
    specs = slicing.spec_columns(eval_config) or [()]
    labels, predictions, slices = score(batches, models, spec.label_key, spec.prediction_key, specs)
    baseline = next((s.name for s in eval_config.model_specs if s.is_baseline), None)
    computed = [
        key
        for computation in metric_specs.to_computations(eval_config.metrics_specs, eval_config=eval_config)
        for key in computation.keys
        if not key.is_diff
    ]
    combine = w.CombineValidations(eval_config)
    accumulator = combine.create_accumulator()
    metric_records, plot_records = [], []
    min_size = eval_config.options.min_slice_size.value
    for slice_key in sorted(slices, key=lambda k: (len(k), repr(k))):
        rows = slices[slice_key]
        metrics, plots, values = {}, {}, {}
        if slice_key and min_size > 1 and len(rows) < min_size:  # TFMA's FilterOutSlices
            metrics[slicing.ERROR] = (
                "Example count for this slice key is lower than the minimum required value: %d. "
                "No data is aggregated for this slice." % min_size
            )
        else:
            values = {name: metric_values(labels[rows], p[rows]) for name, p in predictions.items()}
        for key in computed:
            if key.model_name in values and key.name in values[key.model_name]:
                (plots if key.name == "confusion_matrix_plot" else metrics)[key] = values[key.model_name][
                    key.name
                ]
        for key, value in list(metrics.items()) if values else ():  # a filtered slice has no diffs
            if baseline and key.model_name != baseline:
                base = key._replace(model_name=baseline)
                if base in metrics:
                    metrics[key.make_diff_key()] = value - metrics[base]
        accumulator = combine.add_input(
            accumulator, metrics_validator.validate_metrics((slice_key, metrics), eval_config)
        )
        metric_records.append(w.convert_slice_metrics_to_proto((slice_key, metrics), None))
        plot_records.append(w.convert_slice_plots_to_proto((slice_key, plots), None))
    validation = combine.extract_output(accumulator)
    tf.io.gfile.makedirs(output_uri)
    for name, protos in (
        ("metrics-00000-of-00001.tfrecord", metric_records),
        ("plots-00000-of-00001.tfrecord", plot_records),
        ("validations.tfrecord", [validation]),
    ):
        with tf.io.TFRecordWriter(os.path.join(output_uri, name)) as out:
            for proto in protos:
                out.write(proto.SerializeToString())
    run = eval_config_writer._serialize_eval_run(eval_config, data_location, "tfrecord", models)  # noqa: SLF001
    tf.io.gfile.GFile(os.path.join(output_uri, "eval_config.json"), "w").write(run)
    return len(labels)
