"""Slices in the Evaluator: the in-process executor against TFX's (TFMA on
Beam) on the same examples, SavedModels and sliced eval config (the one
``pipelines.pipeline.eval_config`` builds from ``evaluation.slices``): the
same metrics per slice value, plots, validation and blessing; a candidate
that wins overall but loses one slice is not blessed by either; a slice
below ``min_slice_rows`` is not judged by either. Also what TFMA's own
validator does with such a slice (it fails it), which driftgate repairs.
What it does not prove: slices of several features at once against TFMA
(the in-process keys follow TFMA's documented order; not run here)."""

import dataclasses
import json
import os

import numpy as np
import pytest

from tests.components.evaluator.test_fast import _run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ROWS, TINY = 3000, 7


def _model(path, flip_b: bool, noise: float):
    """A model on x (and, with ``noise``, a useless feature n); with
    ``flip_b`` its scores are reversed on carrier c=b: it loses that slice."""
    import tensorflow as tf

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve(self, examples):
            spec = {
                "x": tf.io.FixedLenFeature([1], tf.float32),
                "n": tf.io.FixedLenFeature([1], tf.float32),
                "c": tf.io.FixedLenFeature([1], tf.string, default_value=""),
            }
            f = tf.io.parse_example(examples, spec)
            sign = 1.0 - 2.0 * tf.cast(tf.equal(f["c"], "b"), tf.float32) if flip_b else 1.0
            return {"probabilities": tf.sigmoid(2.0 * f["x"] * sign + noise * f["n"])}

    m = M()
    tf.saved_model.save(m, os.path.join(path, "Format-Serving"), signatures={"serving_default": m.serve})


def _examples(tmp_path):
    import tensorflow as tf
    from tfx.types import standard_artifacts

    rng = np.random.default_rng(7)
    x, noise = rng.normal(size=ROWS), rng.normal(size=ROWS)
    y = (rng.random(ROWS) < 1 / (1 + np.exp(-2 * x))).astype(int)
    c = np.where(rng.random(ROWS) < 0.8, b"a", b"b")
    c[:TINY] = b"z"  # a carrier too rare to judge
    split = tmp_path / "examples" / "Split-eval"
    split.mkdir(parents=True)
    with tf.io.TFRecordWriter(str(split / "data.gz"), tf.io.TFRecordOptions(compression_type="GZIP")) as w:
        for i in range(ROWS):
            f = {
                "x": tf.train.Feature(float_list=tf.train.FloatList(value=[x[i]])),
                "n": tf.train.Feature(float_list=tf.train.FloatList(value=[noise[i]])),
                "c": tf.train.Feature(bytes_list=tf.train.BytesList(value=[c[i]])),
                "late": tf.train.Feature(int64_list=tf.train.Int64List(value=[y[i]])),
            }
            w.write(tf.train.Example(features=tf.train.Features(feature=f)).SerializeToString())
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    examples.split_names = json.dumps(["train", "eval"])
    return examples


def _config(**evaluation):
    from tfx.utils import proto_utils

    from driftgate.core.config import load_region_config
    from pipelines.pipeline import eval_config

    cfg = load_region_config("EWR")
    cfg = dataclasses.replace(cfg, features=dataclasses.replace(cfg.features, label="late"))
    ev = dataclasses.replace(
        cfg.evaluation,
        min_auc=0.5,
        min_accuracy=0.4,
        min_auc_improvement=-0.5,
        slices=(("c",),),
        **evaluation,
    )
    return proto_utils.proto_to_json(eval_config(dataclasses.replace(cfg, evaluation=ev)))


def _per_slice(evaluation):
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.slicer import slicer_lib

    out = {}
    for per_slice in tfma.load_metrics(evaluation.uri):
        key = slicer_lib.deserialize_slice_key(per_slice.slice_key)
        values = {}
        for kv in per_slice.metric_keys_and_values:
            values[(kv.key.name, kv.key.model_name, kv.key.is_diff)] = kv.value.double_value.value
        out[key] = (values, dict(per_slice.metrics))
    plots = {}
    for per_slice in tfma.load_plots(evaluation.uri):
        key = slicer_lib.deserialize_slice_key(per_slice.slice_key)
        plots[key] = [
            (m.threshold, m.true_positives, m.false_positives, m.true_negatives, m.false_negatives)
            for kv in per_slice.plot_keys_and_values
            for m in kv.value.confusion_matrix_at_thresholds.matrices
        ]
    return out, plots


def _failures(evaluation):
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.slicer import slicer_lib

    v = tfma.load_validation_result(evaluation.uri)
    found = sorted(
        (str(slicer_lib.deserialize_slice_key(s.slice_key)), f.metric_key.name, f.metric_key.is_diff)
        for s in v.metric_validations_per_slice
        for f in s.failures
    )
    return v.validation_ok, found


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from tfx.types import standard_artifacts

    tmp = tmp_path_factory.mktemp("slices")
    candidate, baseline = standard_artifacts.Model(), standard_artifacts.Model()
    candidate.uri, baseline.uri = str(tmp / "cand"), str(tmp / "base")
    _model(candidate.uri, flip_b=True, noise=0.0)
    _model(baseline.uri, flip_b=False, noise=1.5)
    return _examples(tmp), candidate, baseline


@pytest.mark.parametrize("max_drop,blessed", [(0.10, False), (1.0, True)])
def test_sliced_metrics_validation_and_blessing_equal_tfmas(tmp_path, models, max_drop, blessed):
    from components.evaluator.executor import Executor, FastExecutor

    examples, candidate, baseline = models
    config = _config(max_slice_auc_drop=max_drop, min_slice_rows=50)
    got = {}
    for name, executor in (("stock", Executor), ("fast", FastExecutor)):
        evaluation, blessing = _run(executor, examples, candidate, baseline, tmp_path / name, config)
        assert (evaluation.get_string_custom_property("evaluated_by") == "in process") == (name == "fast")
        got[name] = (
            _per_slice(evaluation),
            _failures(evaluation),
            sorted(os.listdir(blessing.uri)),
            blessing.get_int_custom_property("blessed"),
            json.load(open(os.path.join(evaluation.uri, "ignored_slices.json"))),
        )
    ((sm, sp), sv, sb, sbv, si), ((fm, fp), fv, fb, fbv, fi) = got["stock"], got["fast"]
    assert set(fm) == set(sm) == {(), (("c", "a"),), (("c", "b"),), (("c", "z"),)}
    for key, (values, raw) in sm.items():
        if "__ERROR__" in raw:  # below min_slice_size: TFMA reports no metric
            assert key == (("c", "z"),) and "__ERROR__" in fm[key][1] and not fm[key][0]
            continue
        assert set(fm[key][0]) == set(values) and ("fall_out", "candidate", False) in values
        for metric, value in values.items():
            assert fm[key][0][metric] == pytest.approx(value, abs=1e-9, nan_ok=True), (key, metric)
    for key in sp:
        assert fp[key] == sp[key], key
    assert len(sp[()]) == 2 * 1002  # candidate and baseline
    # the candidate wins overall (threshold -0.5) and loses slice c=b
    b = sm[(("c", "b"),)][0]
    assert b[("auc", "candidate", True)] < -0.3
    assert fv == sv and (fb, fbv) == (sb, sbv) and fi == si
    assert fv[0] is blessed and fbv == int(blessed)
    assert fb == (["BLESSED"] if blessed else ["NOT_BLESSED"])
    if not blessed:
        assert fv[1] == [(str((("c", "b"),)), "auc", True)]
    assert si["ignored"] == ["c=z"]  # TFMA's "Metric not found" on the 7-row slice, not judged


def test_tfmas_validator_fails_a_slice_it_filtered_for_min_slice_size():
    """Why driftgate repairs the validation: TFMA's own validator."""
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format
    from tensorflow_model_analysis.evaluators import metrics_validator

    from components.evaluator import slicing

    config = json_format.Parse(_config(min_slice_rows=50), tfma.EvalConfig())
    config = tfma.utils.update_eval_config_with_defaults(config, has_baseline=True)
    key = (("c", "z"),)
    raw = metrics_validator.validate_metrics((key, {"__ERROR__": "too small"}), config)
    assert not raw.validation_ok
    assert {f.message for s in raw.metric_validations_per_slice for f in s.failures} == {"Metric not found."}
    filtered = {slicing.proto_key(raw.metric_validations_per_slice[0].slice_key): "c=z"}
    repaired, ignored = slicing.ignore_filtered_slices(raw, filtered)
    assert repaired.validation_ok and ignored == ["c=z"]


def test_histogram_matrices_equal_tfmas_histogram_path():
    """The numpy confusion matrices against TFMA's own histogram, rebin and
    count functions, on scores with ties, exact thresholds and both ends."""
    from tensorflow_model_analysis.metrics import binary_confusion_matrices as bcm
    from tensorflow_model_analysis.metrics import calibration_histogram as ch

    from components.evaluator import fast

    def tfmas(labels, predictions, thresholds):
        n = ch.DEFAULT_NUM_BUCKETS
        index = predictions * n + 1
        ids = np.where(index < 0, 0, np.where(index >= n + 1, n + 1, np.floor(np.maximum(index, 0)))).astype(
            int
        )
        histogram = [
            ch.Bucket(
                int(b),
                float(labels[ids == b].sum()),
                float(predictions[ids == b].sum()),
                float((ids == b).sum()),
            )
            for b in np.unique(ids)
        ]
        eps = bcm._EPSILON
        rebin = [t + eps if t != 0 else t for t in thresholds]
        rebin = ([-eps] if thresholds[0] >= 0 else []) + rebin + ([1.0 + eps] if thresholds[-1] < 1.0 else [])
        return bcm._histogram_to_binary_confusion_matrices(list(thresholds), ch.rebin(rebin, histogram))

    rng = np.random.default_rng(3)
    p = np.r_[rng.random(500), [0.0, 1.0, 0.5, 0.5, 0.25, 0.0001, 0.9999], np.round(rng.random(300), 3)]
    y = (rng.random(len(p)) < p).astype(float)
    for thresholds in (bcm._interpolated_thresholds(10000), [-1e-6] + [i / 1000 for i in range(1001)], [0.5]):
        got, want = fast.histogram_matrices(y, p, thresholds), tfmas(y, p, thresholds)
        for field in ("tp", "tn", "fp", "fn"):
            assert list(getattr(got, field)) == list(getattr(want, field)), (len(thresholds), field)


def test_slice_rows_equal_a_row_by_row_reading():
    """Slices grouped in numpy against each example read one by one: a row
    in each slice of its values (a repeated value once), none for a missing
    feature, crossed specs in column order."""
    import itertools

    import tensorflow as tf

    from components.evaluator import slicing

    records = []
    for i in range(500):
        f = {"h": tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 4]))}
        if i % 7:
            values = [b"a" if i % 3 else b"b"] + ([b"a"] if i % 11 == 0 else [])
            f["c"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        records.append(tf.train.Example(features=tf.train.Features(feature=f)).SerializeToString())
    got = slicing.slice_rows(records, [(), ("c",), ("h",), ("c", "h")])
    want = {(): list(range(500))}
    for i, r in enumerate(records):
        e = tf.train.Example.FromString(r).features.feature
        c = list(dict.fromkeys(e["c"].bytes_list.value)) if "c" in e else []
        h = list(e["h"].int64_list.value)
        for key in [(("c", v),) for v in c] + [(("h", v),) for v in h]:
            want.setdefault(key, []).append(i)
        for a, b in itertools.product(c, h):
            want.setdefault((("c", a), ("h", b)), []).append(i)
    assert set(got) == set(want) and len(got) == 15
    assert all(list(got[k]) == want[k] for k in want)
