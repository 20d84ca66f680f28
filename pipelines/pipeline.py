"""The pure pipeline factory: one region config in, one ``tfx.dsl.Pipeline`` out.

No environment reads and no file I/O: every location comes in through
:class:`PipelinePaths`, so all regions can be built in one process, by the
local runner and by the Kubeflow compiler alike.

Graph (node ids are stable)::

    example_gen -> statistics_gen -> example_validator -> canary_judge -> span_gate
    schema_importer --^-----------------^---------------------^-----------^  (skip | retrain | block)
                                                                             |
      Cond(decision != "retrain"):            Cond(decision == "retrain"):
          run_recorder                          serving_baseline -> trainer -> evaluator
                                                -> pusher -> release_recorder -> run_recorder_retrain

The canary judge runs before the gate (which waits for it), so a canary is
judged on the new span before anything could replace it; it holds its verdict
(``pending``) on a span with blocking anomalies, on a span read again for
lack of a new one, and on a span not newer than the canary's training span. Exactly one run
recorder runs: it writes the result JSON and report, pushes metrics and sends
alerts, from inside the pipeline, under either runner.

There is no Resolver node (open-source Kubeflow cannot run one): the model
serving in the region is found by ``serving_baseline`` from the serving path.

Docs: ``docs/pipeline.md``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import List, Optional

import tensorflow_data_validation as tfdv
import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from components.baseline.component import ServingBaseline
from components.canary.component import CanaryJudge
from components.evaluator.component import Evaluator, FastEvaluator
from components.gate.component import SpanGate, drift_config_json
from components.ingest.component import SpanExampleGen
from components.monitor.component import RunRecorder, RunRecorderRetrain
from components.pusher.component import Pusher
from components.release.component import ReleaseRecorder
from components.statistics.component import StatisticsGen
from driftgate.core import vocabulary as ids
from driftgate.core.config import RegionConfig, config_hash
from driftgate.core.layout import RegionLayout

TRAINER_RUN_FN = "trainer.task.run_fn"
PREDICTION_KEY = "probabilities"


def trainer_custom_config(config: RegionConfig) -> dict:
    """What ``trainer.task.run_fn`` reads: features and hyper-parameters (JSON-safe)."""
    return json.loads(json.dumps({"features": asdict(config.features), "trainer": asdict(config.trainer)}))


def eval_config(config: RegionConfig) -> tfma.EvalConfig:
    """Value thresholds on AUC and accuracy; a change threshold on AUC against
    the serving model (ignored by the Evaluator when none serves yet); the
    confusion matrices over thresholds for the run's ROC view. With
    ``evaluation.slices``: each slice spec computed too (false positive and
    false negative rates added), the overall thresholds held to the whole
    span, and on every slice value with at least ``min_slice_rows`` rows
    (TFMA's ``min_slice_size``) a change threshold: AUC at most
    ``max_slice_auc_drop`` below the serving model's (TFMA's
    ``PerSliceMetricThreshold``)."""
    ev = config.evaluation
    higher = tfma.MetricDirection.HIGHER_IS_BETTER
    auc = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": ev.min_auc}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=higher, absolute={"value": ev.min_auc_improvement}
        ),
    )
    accuracy = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": ev.min_accuracy})
    )
    slices = [tfma.SlicingSpec(feature_keys=list(spec)) for spec in ev.slices]
    if slices:
        overall = [tfma.SlicingSpec()]
        per_slice = tfma.PerSliceMetricThreshold(
            slicing_specs=slices,
            threshold=tfma.MetricThreshold(
                change_threshold=tfma.GenericChangeThreshold(
                    direction=higher, absolute={"value": -ev.max_slice_auc_drop}
                )
            ),
        )
        auc_metric = tfma.MetricConfig(
            class_name="AUC",
            per_slice_thresholds=[
                tfma.PerSliceMetricThreshold(slicing_specs=overall, threshold=auc),
                per_slice,
            ],
        )
        accuracy_metric = tfma.MetricConfig(
            class_name="BinaryAccuracy",
            per_slice_thresholds=[tfma.PerSliceMetricThreshold(slicing_specs=overall, threshold=accuracy)],
        )
        rates = [tfma.MetricConfig(class_name="FallOut"), tfma.MetricConfig(class_name="MissRate")]
    else:
        auc_metric = tfma.MetricConfig(class_name="AUC", threshold=auc)
        accuracy_metric = tfma.MetricConfig(class_name="BinaryAccuracy", threshold=accuracy)
        rates = []
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name="serving_default",
                label_key=config.features.label,
                prediction_key=PREDICTION_KEY,
            )
        ],
        slicing_specs=[tfma.SlicingSpec()] + slices,
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    auc_metric,
                    accuracy_metric,
                    tfma.MetricConfig(class_name="Precision"),
                    tfma.MetricConfig(class_name="Recall"),
                    *rates,
                    # the ROC curve and confusion matrix the Kubeflow UI draws (components.monitor.ui)
                    tfma.MetricConfig(class_name="ConfusionMatrixPlot"),
                ]
            )
        ],
        options=tfma.Options(min_slice_size={"value": ev.min_slice_rows}) if slices else None,
    )


def run_parameter_values() -> dict:
    """The Kubeflow run parameters as TFX RuntimeParameters (name -> parameter).
    TFX drops their defaults from the compiled YAML; ``pipelines.kubeflow_runner``
    restores them (``ids.RUN_PARAMETERS``) with these descriptions."""
    return {
        name: tfx.dsl.experimental.RuntimeParameter(
            name=name, ptype=str, default=default, description=ids.RUN_PARAMETER_HELP[name]
        )
        for name, default in ids.RUN_PARAMETERS.items()
    }


def example_gen_input(config: RegionConfig) -> tfx.proto.Input:
    return tfx.proto.Input(
        splits=[tfx.proto.Input.Split(name="single_split", pattern=config.data.span_pattern)]
    )


def challenger_spec(config: RegionConfig) -> str:
    """What the challenger is fitted on (``components.quality.challenger``):
    the model's inputs and the split's hash buckets; "{}" when it is off."""
    if not (config.quality.enabled and config.quality.challenger.enabled):
        return "{}"
    f = config.features
    spec = {"numeric": list(f.numeric), "categorical": list(f.categorical)}
    spec.update(train_buckets=config.data.train_buckets, eval_buckets=config.data.eval_buckets)
    return json.dumps(spec)


def slices_spec(config: RegionConfig) -> str:
    """The slices the serving model's fairness is judged on
    (``components.quality.fairness``); "{}" without ``evaluation.slices``."""
    ev = config.evaluation
    if not ev.slices:
        return "{}"
    return json.dumps(
        {
            "slices": [list(s) for s in ev.slices],
            "min_rows": ev.min_slice_rows,
            "band": list(ev.parity_band),
            "max_exported": ev.max_exported_slices,
        }
    )


def create_pipeline(
    config: RegionConfig,
    layout: RegionLayout,
    *,
    span: Optional[int] = None,
    force_retrain: bool = False,
    schema_commit: Optional[str] = None,
    pushgateway: str = "",
    driftgate_version: str = "",
    run_id: str = "",
    note: str = ids.NO_NOTE,
    run_parameters: bool = False,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
) -> tfx.dsl.Pipeline:
    """Builds the region's continuous-training pipeline.

    ``span`` pins the span to ingest; None lets ``example_gen`` choose when the
    task runs (``components.ingest.spans``: the oldest span newer than the last
    processed one), so a scheduled run needs no recompile.
    ``schema_commit`` (the git commit of the pinned schema, when known) is
    recorded with the schema version in ML Metadata. ``pushgateway`` is where
    the run recorder pushes the run's metrics (empty: the textfile only).
    ``run_id``: the pipeline run's id when the runner chooses it before the
    run (``pipelines.local_runner``), recorded in the run's result, report and
    metrics; empty in a compiled spec, which many runs share.
    ``run_parameters`` (the Kubeflow compile): ``span``, ``retrain`` and
    ``note`` become the run's parameters (``run_parameter_values``), filled in
    the UI's run form or by ``driftgate kfp run``, instead of the values given.
    """
    if run_parameters:
        values = run_parameter_values()
    else:
        values = {
            ids.PARAM_SPAN: ids.SPAN_NEXT if span is None else str(span),
            ids.PARAM_RETRAIN: ids.RETRAIN_FORCE if force_retrain else ids.RETRAIN_AUTO,
            ids.PARAM_NOTE: note,
        }
    where = layout.to_json()  # every driftgate node reads the same layout (RegionLayout.from_json)
    example_gen = SpanExampleGen(
        input_base=layout.data_dir,
        layout=where,
        input_config=example_gen_input(config),
        output_config=tfx.proto.Output(
            split_config=tfx.proto.SplitConfig(
                splits=[
                    tfx.proto.SplitConfig.Split(name="train", hash_buckets=config.data.train_buckets),
                    tfx.proto.SplitConfig.Split(name="eval", hash_buckets=config.data.eval_buckets),
                ]
            )
        ),
        span=values[ids.PARAM_SPAN],
        data_format=config.data.format,
        executor="fast" if config.fast_executors else "stock",
    ).with_id(ids.EXAMPLE_GEN)
    schema_importer = tfx.components.ImportSchemaGen(schema_file=layout.schema_file).with_id(
        ids.SCHEMA_IMPORTER
    )
    # The schema marks integer categoricals, so they get value counts; a fine
    # quantile sketch lets the drift tests work from statistics alone.
    statistics_gen = (StatisticsGen if config.fast_executors else tfx.components.StatisticsGen)(
        examples=example_gen.outputs["examples"],
        schema=schema_importer.outputs["schema"],
        stats_options=tfdv.StatsOptions(num_quantiles_histogram_buckets=config.drift.quantile_buckets),
    ).with_id(ids.STATISTICS_GEN)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_importer.outputs["schema"]
    ).with_id(ids.EXAMPLE_VALIDATOR)
    warn_only = dict(
        warn_only_types=json.dumps(list(config.anomalies.warn_only_types)),
        warn_only_features=json.dumps(list(config.anomalies.warn_only_features)),
    )
    canary_judge = CanaryJudge(
        examples=example_gen.outputs["examples"],
        anomalies=example_validator.outputs["anomalies"],
        layout=where,
        label=config.features.label,
        canary_config=json.dumps(asdict(config.serving.canary)),
        quality_config=json.dumps(asdict(config.quality)),
        labels_delay_spans=config.labels.delay_spans,
        span_pattern=config.data.span_pattern,
        data_format=config.data.format,
        challenger=challenger_spec(config),
        slices=slices_spec(config),
        prometheus_url=config.serving.prometheus_url or "",
        config_hash=config_hash(config),
        **warn_only,
    ).with_id(ids.CANARY_JUDGE)
    gate = SpanGate(
        examples=example_gen.outputs["examples"],
        statistics=statistics_gen.outputs["statistics"],
        anomalies=example_validator.outputs["anomalies"],
        schema=schema_importer.outputs["schema"],
        canary=canary_judge.outputs["verdict"],
        drift_config=drift_config_json(config.drift),
        features=json.dumps(list(config.features.all)),
        layout=where,
        retrain=values[ids.PARAM_RETRAIN],
        schema_version=f"v{config.schema.version}",
        schema_commit=schema_commit or "",
        retrain_on_prediction_drift=config.quality.retrain_on_prediction_drift,
        **warn_only,
    ).with_id(ids.SPAN_GATE)  # reads the judge's verdict: judged before anything new can be pushed

    recorder_args = dict(
        examples=example_gen.outputs["examples"],
        report=gate.outputs["report"],
        canary=canary_judge.outputs["verdict"],
        layout=where,
        features=json.dumps(list(config.features.all)),
        alerts_config=json.dumps(asdict(config.alerts)),
        pushgateway=pushgateway,
        driftgate_version=driftgate_version,
        run_id=run_id,
        note=values[ids.PARAM_NOTE],
        config_hash=config_hash(config),
    )
    nodes = [example_gen, schema_importer, canary_judge, statistics_gen, example_validator, gate]
    decision = gate.outputs["report"].future()[0].custom_property(ids.PROP_DECISION)
    with tfx.dsl.Cond(decision != ids.RETRAIN):
        nodes.append(RunRecorder(**recorder_args).with_id(ids.RUN_RECORDER))
    with tfx.dsl.Cond(decision == ids.RETRAIN):
        baseline = ServingBaseline(layout=where).with_id(ids.SERVING_BASELINE)
        trainer = tfx.components.Trainer(
            run_fn=TRAINER_RUN_FN,
            examples=example_gen.outputs["examples"],
            schema=schema_importer.outputs["schema"],
            train_args=tfx.proto.TrainArgs(num_steps=config.trainer.train_steps),
            eval_args=tfx.proto.EvalArgs(num_steps=config.trainer.eval_steps),
            custom_config=trainer_custom_config(config),
        ).with_id(ids.TRAINER)
        evaluator = (FastEvaluator if config.fast_executors else Evaluator)(
            examples=example_gen.outputs["examples"],
            model=trainer.outputs["model"],
            baseline_model=baseline.outputs["model"],
            eval_config=eval_config(config),
        ).with_id(ids.EVALUATOR)
        pusher = Pusher(
            model=trainer.outputs["model"],
            model_blessing=evaluator.outputs["blessing"],
            push_destination=tfx.proto.PushDestination(
                filesystem=tfx.proto.PushDestination.Filesystem(base_directory=layout.model_base_path)
            ),
        ).with_id(ids.PUSHER)
        release = ReleaseRecorder(
            pushed_model=pusher.outputs["pushed_model"],
            examples=example_gen.outputs["examples"],
            label=config.features.label,
            layout=where,
            challenger=challenger_spec(config),
            quality_config=json.dumps(asdict(config.quality)),
            features=json.dumps(list(config.features.all)),
            slices=slices_spec(config),
            config_hash=config_hash(config),
        ).with_id(ids.RELEASE_RECORDER)
        recorder = RunRecorderRetrain(
            **recorder_args,
            baseline=baseline.outputs["model"],
            blessing=evaluator.outputs["blessing"],
            evaluation=evaluator.outputs["evaluation"],
            pushed_model=pusher.outputs["pushed_model"],
            release=release.outputs["release"],
        ).with_id(ids.RUN_RECORDER_RETRAIN)
        nodes += [baseline, trainer, evaluator, pusher, release, recorder]

    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=layout.pipeline_root,
        components=nodes,
        enable_cache=False,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_args(config, beam_pipeline_args),
    )


# Beam flags that tell TFX where its code comes from on Beam workers.
DEPENDENCY_FLAGS = ("--extra_package", "--setup_file", "--requirements_file", "--sdk_container_image")


def beam_args(config: RegionConfig, given: Optional[List[str]] = None) -> List[str]:
    """The region's Beam flags, naming the pipeline image as the workers' SDK
    container unless they already name a dependency. Without one, every Beam
    component of TFX copies the whole TFX install into a new temporary folder
    and builds an sdist of it for the workers (``tfx.utils.dependency_utils``):
    ~50 MB left in /tmp and seconds lost per component, each run, although the
    in-process DirectRunner needs none of it. The image holds TFX and
    driftgate (``kubeflow/Dockerfile``): what portable runners' workers need."""
    args = list(given if given is not None else config.beam_args)
    if not any(a.startswith(DEPENDENCY_FLAGS) for a in args):
        args.append(f"--sdk_container_image={config.kubeflow.image}")
    return args
