"""TFX interface of the span gate: anomalies + drift + skew + policy -> skip/retrain/block.

Reads ExampleValidator's anomalies and StatisticsGen's statistics (no second
pass over the span's rows), the region's state (previous span statistics,
release records, history) and, when present, the span's serving logs. Writes a
JSON report and sets ``decision`` as a custom property, which drives
``tfx.dsl.Cond`` in the pipeline (compiles for Kubeflow: a condition on a value
artifact would not). Baselines come from the region state folder, not from a
Resolver node (open-source Kubeflow cannot run those).
"""

import json
import os
from dataclasses import asdict

from tfx.types import standard_artifacts as std
from tfx.utils import io_utils

from components.artifacts import CanaryVerdict, GateReport
from components.gate import decision as logic
from components.gate.executor import run_gate
from components.node import In, Out, Param, component
from driftgate.core import vocabulary as vocab
from driftgate.core.config import drift_config_from_dict
from driftgate.core.layout import RegionLayout


@component
def SpanGate(
    examples: In[std.Examples],
    statistics: In[std.ExampleStatistics],
    anomalies: In[std.ExampleAnomalies],
    schema: In[std.Schema],
    canary: In[CanaryVerdict],
    report: Out[GateReport],
    drift_config: Param[str],
    features: Param[str],
    layout: Param[str],
    schema_version: Param[str] = "",
    schema_commit: Param[str] = "",
    retrain: Param[str] = vocab.RETRAIN_AUTO,
    warn_only_types: Param[str] = "[]",
    warn_only_features: Param[str] = "[]",
    retrain_on_prediction_drift: Param[str] = "never",
):
    """Decides ``skip``, ``retrain`` or ``block`` for the span (components.gate.decision).
    ``canary`` is the canary judge's verdict: it carries the serving model's
    quality on the newest labelled span (``components.quality.serving``). ``retrain`` is
    the run parameter: "auto" (the gate decides) or "force"."""
    where = RegionLayout.from_json(layout)
    force_retrain = logic.parse_retrain_parameter(retrain)
    verdict = json.loads(io_utils.read_string_file(os.path.join(canary.uri, vocab.CANARY_VERDICT_FILE)))
    result = run_gate(
        examples,
        statistics,
        anomalies,
        schema.uri,
        features=json.loads(features),
        cfg=drift_config_from_dict(json.loads(drift_config)),
        state_dir=where.state_dir,
        model_base_path=where.model_base_path,
        data_dir=where.data_dir,
        force_retrain=force_retrain,
        warn_only_types=json.loads(warn_only_types),
        warn_only_features=json.loads(warn_only_features),
        quality=verdict.get("quality"),
        retrain_on_prediction_drift=retrain_on_prediction_drift,
    )
    result.schema = {"version": schema_version, "commit": schema_commit or None}
    io_utils.write_string_file(
        os.path.join(report.uri, logic.REPORT_FILE), json.dumps(result.to_json_dict(), indent=1)
    )
    report.set_string_custom_property(vocab.PROP_DECISION, result.decision)
    report.set_string_custom_property(vocab.PROP_SCHEMA_VERSION, schema_version)
    report.set_string_custom_property(vocab.PROP_SCHEMA_COMMIT, schema_commit)
    report.set_int_custom_property(vocab.PROP_SPAN, result.span)
    report.set_string_custom_property(vocab.PROP_INGEST_REASON, str(result.ingest.get("reason", "")))
    report.set_int_custom_property(vocab.PROP_BLOCKING_ANOMALIES, len(result.blocking))
    for baseline in vocab.BASELINES:
        report.set_string_custom_property(vocab.drift_property(baseline), result.severity(baseline))


def drift_config_json(cfg) -> str:
    return json.dumps(asdict(cfg))
