"""Pure gate logic: classify TFDV anomalies and decide what a span may do.

No TFX here: functions take ``Anomalies`` protos (tensorflow_metadata) and
plain values, so tests call them directly with small protos.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, Iterable, List, Mapping

from tensorflow_metadata.proto.v0 import anomalies_pb2

RETRAIN = "retrain"
BLOCK = "block"
DECISIONS = (RETRAIN, BLOCK)


@dataclass(frozen=True)
class Finding:
    """One anomaly on one feature in one split."""

    split: str
    feature: str
    types: tuple
    severity: str
    description: str
    blocking: bool


@dataclass
class GateReport:
    """What the gate decided for a span, and why."""

    span: int
    decision: str
    rows: Dict[str, int]
    findings: List[Finding] = field(default_factory=list)
    reasons: List[str] = field(default_factory=list)

    @property
    def blocking(self) -> List[Finding]:
        return [f for f in self.findings if f.blocking]

    def to_json_dict(self) -> dict:
        d = asdict(self)
        d["findings"] = [dict(asdict(f), types=list(f.types)) for f in self.findings]
        return d

    @classmethod
    def from_json_dict(cls, d: Mapping) -> "GateReport":
        findings = [Finding(**dict(f, types=tuple(f["types"]))) for f in d.get("findings", [])]
        return cls(
            span=int(d["span"]),
            decision=d["decision"],
            rows=dict(d.get("rows", {})),
            findings=findings,
            reasons=list(d.get("reasons", [])),
        )


def classify(
    anomalies_by_split: Mapping[str, anomalies_pb2.Anomalies],
    warn_only_types: Iterable[str] = (),
    warn_only_features: Iterable[str] = (),
) -> List[Finding]:
    """One Finding per (split, feature) anomaly; ``blocking`` unless every type
    of the anomaly is warn-only, the feature is warn-only, or TFDV itself rates
    it a warning."""
    warn_types = set(warn_only_types)
    warn_feats = set(warn_only_features)
    out = []
    for split in sorted(anomalies_by_split):
        anomalies = anomalies_by_split[split]
        infos = dict(anomalies.anomaly_info)
        if anomalies.HasField("dataset_anomaly_info") and anomalies.dataset_anomaly_info.reason:
            infos["<dataset>"] = anomalies.dataset_anomaly_info
        for feature in sorted(infos):
            info = infos[feature]
            types = tuple(anomalies_pb2.AnomalyInfo.Type.Name(r.type) for r in info.reason) or (
                "UNKNOWN_TYPE",
            )
            severity = anomalies_pb2.AnomalyInfo.Severity.Name(info.severity)
            description = info.short_description or "; ".join(r.short_description for r in info.reason)
            if info.description and info.description != description:
                description = f"{description}: {info.description}"
            blocking = not (
                feature in warn_feats or all(t in warn_types for t in types) or severity == "WARNING"
            )
            out.append(Finding(split, feature, types, severity, description, blocking))
    return out


def decide(span: int, rows: Mapping[str, int], findings: List[Finding]) -> GateReport:
    """``block`` when any finding blocks or the span has no rows, else ``retrain``."""
    reasons = []
    total = sum(rows.values())
    if total == 0:
        reasons.append(f"span {span} has no rows")
    blocking = [f for f in findings if f.blocking]
    for f in blocking:
        reasons.append(f"{f.feature} ({f.split}): {f.description}")
    decision = BLOCK if reasons else RETRAIN
    if decision == RETRAIN:
        warned = len(findings)
        reasons.append(f"{total} rows, no blocking anomalies" + (f" ({warned} warning(s))" if warned else ""))
    return GateReport(span=span, decision=decision, rows=dict(rows), findings=findings, reasons=reasons)
