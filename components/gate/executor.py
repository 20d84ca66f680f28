"""What the span gate's executor does, without TFX's interface: read the
artifacts (statistics, anomalies, schema, examples), the region's state and the
span's serving logs, call the pure logic (``components.drift``,
``components.gate.decision``), record the span in the region's state, and
return the report. ``component.py`` declares the interface and writes it out.
"""

import os

from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components.drift import integrity
from components.drift.summaries import summarize
from components.gate import assess as judge
from components.gate import decision as logic
from components.ingest.recorded import ingest_choice
from components.state import RegionState
from driftgate.core import faults
from serving import layout

COMPARATOR_TYPES = (
    "COMPARATOR_L_INFTY_HIGH",
    "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH",
    "COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH",
)


def _read_proto(path: str, proto):
    proto.ParseFromString(io_utils.read_bytes_file(path))
    return proto


def read_statistics(statistics) -> statistics_pb2.DatasetFeatureStatisticsList:
    """All splits of a StatisticsGen artifact in one list (dataset name = split)."""
    out = statistics_pb2.DatasetFeatureStatisticsList()
    for split in artifact_utils.decode_split_names(statistics.split_names):
        path = os.path.join(statistics.uri, f"Split-{split}", "FeatureStats.pb")
        for d in _read_proto(path, statistics_pb2.DatasetFeatureStatisticsList()).datasets:
            ds = out.datasets.add()
            ds.CopyFrom(d)
            ds.name = split
    return out


def read_anomalies(anomalies) -> dict:
    """Anomalies proto per split from an ExampleValidator artifact."""
    out = {}
    for split in artifact_utils.decode_split_names(anomalies.split_names):
        path = os.path.join(anomalies.uri, f"Split-{split}", "SchemaDiff.pb")
        out[split] = _read_proto(path, anomalies_pb2.Anomalies())
    return out


def serving_log_statistics(data_dir: str, pattern: str, span: int, schema, quantile_buckets: int):
    """Statistics of the span's serving logs (CSV), or None when there are none."""
    import tensorflow as tf

    files = tf.io.gfile.glob(os.path.join(data_dir, pattern.replace("{SPAN}", str(span))))
    if not files:
        return None
    import pandas as pd
    import tensorflow_data_validation as tfdv

    from components.ingest.errors import read_csv_frame  # refuses NUL bytes, which pandas cuts cells at

    df = pd.concat([read_csv_frame(f) for f in sorted(files)], ignore_index=True)
    opts = tfdv.StatsOptions(schema=schema, num_quantiles_histogram_buckets=quantile_buckets)
    return tfdv.generate_statistics_from_dataframe(df, stats_options=opts)


def schema_comparator_findings(current, schema, previous, serving) -> list:
    """Drift/skew anomalies from comparators an engineer set in the schema
    (TFDV's L-infinity / Jensen-Shannon / normalised absolute difference):
    ExampleValidator never applies them, so the gate does."""
    if previous is None and serving is None:
        return []
    import tensorflow_data_validation as tfdv

    def first(stats_list):
        if stats_list is None:
            return None
        out = statistics_pb2.DatasetFeatureStatisticsList()
        out.datasets.add().CopyFrom(stats_list.datasets[0])
        return out

    anomalies = tfdv.validate_statistics(
        first(current), schema, previous_statistics=first(previous), serving_statistics=first(serving)
    )
    found = logic.classify({logic.SCHEMA_COMPARATORS: anomalies})
    return [
        logic.Finding(f.split, f.feature, f.types, f.severity, f.description, blocking=False)
        for f in found
        if set(f.types) & set(COMPARATOR_TYPES)
    ]


def data_integrity(training_span, training, current, features, history, span, cfg) -> dict:
    """The span's integrity rates against the serving model's training span,
    judged against the region's earlier spans' rates (``components.drift.integrity``)."""
    past = integrity.history_of(h.get("integrity") or {} for h in history if h["span"] < span)
    found = integrity.rates(training, current, list(features))
    own = integrity.rates(training, training, list(features))  # the training span's own missing rates
    findings = integrity.judge(found, past, cfg.floor, cfg.k, cfg.min_history, baseline=own)
    return {
        "baseline_span": training_span,
        "rates": integrity.rates_to_json(found),
        "findings": [f.to_json() for f in findings],
    }


def run_gate(
    examples,
    statistics,
    anomalies,
    schema_uri: str,
    *,
    features,
    cfg,
    state_dir: str,
    model_base_path: str,
    data_dir: str,
    force_retrain: bool,
    warn_only_types=(),
    warn_only_features=(),
    quality: "dict | None" = None,
    retrain_on_prediction_drift: str = "never",
) -> logic.SpanReport:
    """Everything the component does, minus writing its output artifact."""
    from tfx.utils import io_utils as tfx_io

    choice = ingest_choice(examples)
    span = choice.span
    state = RegionState(state_dir)
    current = read_statistics(statistics)
    rows = {d.name: int(d.num_examples) for d in current.datasets}
    serving_version = layout.serving_version(model_base_path)
    if not choice.is_new:  # nothing arrived since the last run: the state stays as it is
        return logic.nothing_new(span, rows, serving_version)
    findings = logic.classify(read_anomalies(anomalies), warn_only_types, warn_only_features)
    schema = tfx_io.SchemaReader().read(tfx_io.get_only_uri_in_dir(schema_uri))

    cur = summarize(current.datasets, features)
    previous_span = state.previous_span(span)
    previous = state.load_statistics(previous_span) if previous_span is not None else None
    training_span = state.training_span(serving_version)
    training = state.load_statistics(training_span) if training_span is not None else None
    serving_stats = serving_log_statistics(
        data_dir, cfg.serving_logs_pattern, span, schema, cfg.quantile_buckets
    )
    findings += schema_comparator_findings(current, schema, previous, serving_stats)
    history = [h for h in state.history() if h.get("decision") != logic.BLOCK]
    policy = logic.Policy(
        serving_version=serving_version,
        training_span=training_span,
        force_retrain=force_retrain,
        max_model_age_spans=cfg.max_model_age_spans,
        retrain_on=cfg.retrain_on,
        block_on_skew=cfg.block_on_skew,
        min_count=cfg.min_count,
        quality=quality or None,
        retrain_on_prediction_drift=retrain_on_prediction_drift,
    )
    report = judge.assess(
        span,
        rows,
        findings,
        cur,
        cfg,
        features,
        policy=policy,
        previous=judge.Baseline(previous_span, summarize(previous.datasets, features)) if previous else None,
        training=judge.Baseline(training_span, summarize(training.datasets, features)) if training else None,
        serving_logs=summarize(serving_stats.datasets, features) if serving_stats is not None else None,
        moments_since_training=[
            h for h in history if training_span is not None and training_span <= h["span"] < span
        ],
        history=history,
    )
    drift = report.drift
    found_gradual = report.gradual
    if training is not None and cfg.integrity.enabled:
        report.integrity = data_integrity(
            training_span, training, current, features, history, span, cfg.integrity
        )
    report.ingest = {"reason": choice.reason, "pending": list(choice.pending)}
    if choice.pending:
        report.reasons.append(
            f"spans {', '.join(map(str, choice.pending))} arrived too; the next runs take them in order"
        )
    state.save_statistics(span, current)
    state.record_span(
        {
            "span": span,
            "decision": report.decision,
            "severity": {k: v.severity for k, v in drift.items()},
            "drifted": {k: list(v.drifted) for k, v in drift.items()},
            "scores": {k: {f: e.scores() for f, e in v.features.items()} for k, v in drift.items()},
            "noise": {k: {f: e.noise() for f, e in v.features.items()} for k, v in drift.items()},
            "numeric": judge.numeric_moments(cur),
            "gradual": [g["feature"] for g in found_gradual],
            "integrity": {
                f: {k: v for k, v in r.items() if k in integrity.RATES}
                for f, r in report.integrity.get("rates", {}).items()
            },
            "serving_version": serving_version,
            # the serving model's label-free estimate on this span: set beside the realised AUC when its labels come
            "estimate": (quality or {}).get("estimate"),
            "completed": False,  # until the run recorder, the run's last node, marks it
        }
    )
    faults.point("gate.recorded")
    return report
