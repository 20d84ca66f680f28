"""The in-process Evaluator against TFX's (TFMA on Beam) on the same examples
and SavedModels: the same metrics, plots, validation and blessing, with and
without a baseline. What it does not prove: eval configs it hands back to
TFX (``fast.supported``), which the last test checks are handed back.
Slices: ``test_slices.py``."""

import json
import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _model(path, weight, bias):
    import tensorflow as tf

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve(self, examples):
            x = tf.io.parse_example(examples, {"x": tf.io.FixedLenFeature([1], tf.float32)})["x"]
            return {"probabilities": tf.sigmoid(weight * x + bias)}

    m = M()
    tf.saved_model.save(m, os.path.join(path, "Format-Serving"), signatures={"serving_default": m.serve})


def _examples(tmp_path, n=3000):
    import tensorflow as tf
    from tfx.types import standard_artifacts

    rng = np.random.default_rng(5)
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(int)
    split = tmp_path / "examples" / "Split-eval"
    split.mkdir(parents=True)
    with tf.io.TFRecordWriter(str(split / "data.gz"), tf.io.TFRecordOptions(compression_type="GZIP")) as w:
        for xi, yi in zip(x, y, strict=True):
            f = {"x": tf.train.Feature(float_list=tf.train.FloatList(value=[xi]))}
            f["late"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[yi]))
            w.write(tf.train.Example(features=tf.train.Features(feature=f)).SerializeToString())
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    examples.split_names = json.dumps(["train", "eval"])
    return examples


def _config(improvement):
    from tfx.utils import proto_utils

    from driftgate.core.config import load_region_config
    from pipelines.pipeline import eval_config

    cfg = load_region_config("EWR")
    ev = cfg.evaluation.__class__(min_auc=0.6, min_accuracy=0.5, min_auc_improvement=improvement)
    return proto_utils.proto_to_json(eval_config(cfg.__class__(**{**cfg.__dict__, "evaluation": ev})))


def _run(executor, examples, candidate, baseline, out, config):
    from tfx.types import standard_artifacts

    evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    evaluation.uri, blessing.uri = str(out / "evaluation"), str(out / "blessing")
    os.makedirs(blessing.uri)
    inputs = {"examples": [examples], "model": [candidate]}
    if baseline is not None:
        inputs["baseline_model"] = [baseline]
    executor().Do(inputs, {"evaluation": [evaluation], "blessing": [blessing]}, _exec_properties(config))
    return evaluation, blessing


def _exec_properties(config):
    """What the pipeline's Evaluator node passes its executor (TFX fills the
    optional ones: "null" for fairness thresholds and splits, None for modules)."""
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format
    from tfx.types import channel, standard_artifacts

    from components.evaluator.component import FastEvaluator

    parsed = json_format.Parse(config, tfma.EvalConfig())
    node = FastEvaluator(
        examples=channel.Channel(type=standard_artifacts.Examples),
        model=channel.Channel(type=standard_artifacts.Model),
        eval_config=parsed,
    )
    return dict(node.exec_properties, eval_config=config)


def _read(evaluation):
    import tensorflow_model_analysis as tfma

    metrics = {}
    for per_slice in tfma.load_metrics(evaluation.uri):
        for kv in per_slice.metric_keys_and_values:
            if kv.key.name in ("accuracy", "loss") or (
                kv.key.name == "auc" and not kv.key.HasField("example_weighted")
            ):
                continue  # the model's own compiled Keras metrics (none here)
            metrics[(kv.key.name, kv.key.model_name, kv.key.is_diff)] = kv.value.double_value.value
    plot = (
        next(iter(tfma.load_plots(evaluation.uri)))
        .plot_keys_and_values[0]
        .value.confusion_matrix_at_thresholds
    )
    validation = tfma.load_validation_result(evaluation.uri)
    return metrics, plot, validation


@pytest.mark.parametrize("with_baseline,improvement", [(False, 0.0), (True, 0.0), (True, -0.5)])
def test_metrics_plots_validation_and_blessing_equal_tfmas(tmp_path, with_baseline, improvement):
    from tfx.types import standard_artifacts

    from components.evaluator.executor import Executor, FastExecutor

    examples = _examples(tmp_path)
    candidate, baseline = standard_artifacts.Model(), standard_artifacts.Model()
    candidate.uri, baseline.uri = str(tmp_path / "cand"), str(tmp_path / "base")
    _model(candidate.uri, 2.0, 0.1)
    _model(baseline.uri, 3.0, -0.2)
    config = _config(improvement)
    got = {}
    for name, executor in (("stock", Executor), ("fast", FastExecutor)):
        evaluation, blessing = _run(
            executor, examples, candidate, baseline if with_baseline else None, tmp_path / name, config
        )
        assert (evaluation.get_string_custom_property("evaluated_by") == "in process") == (name == "fast")
        got[name] = _read(evaluation) + (
            sorted(os.listdir(blessing.uri)),
            blessing.get_int_custom_property("blessed"),
        )
    (sm, sp, sv, sb, sbv), (fm, fp, fv, fb, fbv) = got["stock"], got["fast"]
    assert set(fm) == set(sm) and len(sm) >= 5 * (2 if with_baseline else 1)
    for key, value in sm.items():
        assert fm[key] == pytest.approx(value, abs=1e-9), key
    assert len(fp.matrices) == len(sp.matrices) == 1002
    for a, b in zip(fp.matrices, sp.matrices, strict=True):
        assert (a.threshold, a.true_positives, a.false_positives, a.true_negatives, a.false_negatives) == (
            b.threshold,
            b.true_positives,
            b.false_positives,
            b.true_negatives,
            b.false_negatives,
        )
    assert fv.validation_ok == sv.validation_ok and (fb, fbv) == (sb, sbv)
    assert [f.metric_key.name for s in fv.metric_validations_per_slice for f in s.failures] == [
        f.metric_key.name for s in sv.metric_validations_per_slice for f in s.failures
    ]


def test_an_eval_config_it_does_not_compute_goes_to_tfx():
    import tensorflow_model_analysis as tfma

    from components.evaluator import fast

    config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="late")],
        slicing_specs=[tfma.SlicingSpec(feature_values={"carrier": "EV"})],
        metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="AUC")])],
    )
    assert "slices by feature value" in fast.supported(config)
    config.cross_slicing_specs.add()
    config.slicing_specs[0].ClearField("feature_values")
    assert "cross slices" in fast.supported(config)
    config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="late")],
        metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="MeanSquaredError")])],
    )
    assert "MeanSquaredError" in fast.supported(config)
