"""TFX shell of the data gate: read anomalies and statistics, write the report.

The ``decision`` custom property on the report drives ``tfx.dsl.Cond`` in the
pipeline, which compiles for Kubeflow (a condition on a value artifact does not).
"""

import json
import os

from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2
from tfx import v1 as tfx
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components.artifacts import GateReport
from components.gate import decision as logic

REPORT_FILE = "gate_report.json"


def _read_proto(path: str, proto):
    proto.ParseFromString(io_utils.read_bytes_file(path))
    return proto


def split_rows(statistics) -> dict:
    """Rows per split from a StatisticsGen artifact."""
    rows = {}
    for split in artifact_utils.decode_split_names(statistics.split_names):
        path = os.path.join(statistics.uri, f"Split-{split}", "FeatureStats.pb")
        stats = _read_proto(path, statistics_pb2.DatasetFeatureStatisticsList())
        rows[split] = int(sum(d.num_examples for d in stats.datasets))
    return rows


def read_anomalies(anomalies) -> dict:
    """Anomalies proto per split from an ExampleValidator artifact."""
    out = {}
    for split in artifact_utils.decode_split_names(anomalies.split_names):
        path = os.path.join(anomalies.uri, f"Split-{split}", "SchemaDiff.pb")
        out[split] = _read_proto(path, anomalies_pb2.Anomalies())
    return out


@tfx.dsl.components.component
def DataGate(
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    statistics: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleStatistics],
    anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    report: tfx.dsl.components.OutputArtifact[GateReport],
    warn_only_types: tfx.dsl.components.Parameter[str] = "[]",
    warn_only_features: tfx.dsl.components.Parameter[str] = "[]",
):
    """Decides ``retrain`` or ``block`` for the span; see components.gate.decision."""
    span = int(examples.span or 0)
    findings = logic.classify(
        read_anomalies(anomalies), json.loads(warn_only_types), json.loads(warn_only_features)
    )
    result = logic.decide(span, split_rows(statistics), findings)
    io_utils.write_string_file(
        os.path.join(report.uri, REPORT_FILE), json.dumps(result.to_json_dict(), indent=1)
    )
    report.set_string_custom_property("decision", result.decision)
    report.set_int_custom_property("span", span)
    report.set_int_custom_property("blocking_anomalies", len(result.blocking))
