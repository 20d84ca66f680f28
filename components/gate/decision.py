"""Pure gate logic: classify TFDV anomalies and decide what a span may do.

No TFX here: functions take ``Anomalies`` protos (tensorflow_metadata) and
plain values, so tests call them directly with small protos.

Docs: ``docs/drift-and-gate.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional

from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.drift.results import Comparison
from components.gate.rules import RULES, SCHEMA_COMPARATORS, Evidence, Rule, apply
from components.ingest.spans import NO_NEW_SPAN
from driftgate.core.vocabulary import (  # noqa: F401  (the gate's decisions)
    BLOCK,
    CRITICAL,
    INSUFFICIENT,
    NONE,
    RETRAIN,
    RETRAIN_AUTO,
    RETRAIN_FORCE,
    SKIP,
)

REPORT_FILE = "gate_report.json"  # the gate report artifact's JSON file


@dataclass(frozen=True)
class Finding:
    """One anomaly on one feature in one split."""

    split: str
    feature: str
    types: tuple
    severity: str
    description: str
    blocking: bool


@dataclass(frozen=True)
class Policy:
    """What the region's serving state says about retraining."""

    serving_version: Optional[int] = None  # None: no model serves in the region
    training_span: Optional[int] = None  # span the serving model was trained on
    force_retrain: bool = False
    max_model_age_spans: int = 3
    retrain_on: str = "warning"
    block_on_skew: str = "critical"
    min_count: int = 0  # drift.min_count: fewer values on either side give no drift verdict
    # how drift vs the training baseline was judged: off (fixed thresholds),
    # calibrated (this region's history), hold / certain / fixed (history still
    # short: fixed thresholds; hold = that drift does not retrain on its own,
    # certain = nor does it, but a certain shift does: certain_shift)
    calibration: str = "off"
    calibration_history: int = 0  # span-to-span comparisons available
    calibration_min_history: int = 0
    certain_overlap: float = 0.5  # drift.calibration.certain_overlap: see certain_shift
    min_features: int = 1  # calibrated drift: features that must reach retrain_on
    quality: Optional[dict] = None  # components.quality.serving.Quality.to_json() of the serving model
    retrain_on_prediction_drift: str = "never"
    gradual_retrains: bool = True  # drift.gradual.retrain


@dataclass
class SpanReport:
    """What the gate decided for a span, and why (the ``gate_report.json`` of
    the ``components.GateReport`` artifact, and ``"drift"`` in a run's JSON)."""

    span: int
    decision: str
    rows: Dict[str, int]
    findings: List[Finding] = field(default_factory=list)
    reasons: List[str] = field(default_factory=list)
    drift: Dict[str, Comparison] = field(default_factory=dict)  # baseline -> comparison
    gradual: List[dict] = field(default_factory=list)
    policy: Dict[str, object] = field(default_factory=dict)
    schema: Dict[str, object] = field(default_factory=dict)  # version and git commit of the schema used
    ingest: Dict[str, object] = field(default_factory=dict)  # why this span: reason, pending spans
    summary: str = ""  # the decision in one sentence, with its evidence
    calibration: Dict[str, object] = field(default_factory=dict)  # calibrated thresholds used
    # data integrity rates vs the training span and the findings (components.drift.integrity)
    integrity: Dict[str, object] = field(default_factory=dict)

    @property
    def blocking(self) -> List[Finding]:
        return [f for f in self.findings if f.blocking]

    def to_json_dict(self) -> dict:
        d = asdict(self)
        d["findings"] = [dict(asdict(f), types=list(f.types)) for f in self.findings]
        d["drift"] = {baseline: comp.to_json() for baseline, comp in self.drift.items()}
        return d

    @classmethod
    def from_json_dict(cls, d: Mapping) -> "SpanReport":
        findings = [Finding(**dict(f, types=tuple(f["types"]))) for f in d.get("findings", [])]
        return cls(
            span=int(d["span"]),
            decision=d["decision"],
            rows=dict(d.get("rows", {})),
            findings=findings,
            reasons=list(d.get("reasons", [])),
            drift={b: Comparison.from_json(c) for b, c in d.get("drift", {}).items()},
            gradual=list(d.get("gradual", [])),
            policy=dict(d.get("policy", {})),
            schema=dict(d.get("schema", {})),
            ingest=dict(d.get("ingest", {})),
            summary=d.get("summary", ""),
            calibration=dict(d.get("calibration", {})),
            integrity=dict(d.get("integrity", {})),
        )

    def severity(self, baseline: str) -> str:
        """Overall drift severity against ``baseline`` ('none' when not compared)."""
        comp = self.drift.get(baseline)
        return comp.severity if comp is not None else NONE


def parse_retrain_parameter(value) -> bool:
    """True for the run parameter ``retrain="force"``, False for "auto" (or
    empty); raises ValueError in one line otherwise."""
    text = str(value).strip() if value is not None else ""
    if text in ("", RETRAIN_AUTO):
        return False
    if text == RETRAIN_FORCE:
        return True
    raise ValueError(
        f'run parameter retrain="{text}": expected "{RETRAIN_AUTO}" (the gate decides) '
        f'or "{RETRAIN_FORCE}" (retrain even without drift)'
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


def certain_shift(span: int, quality: Mapping, max_overlap: float) -> Optional[str]:
    """The reason to retrain before the drift thresholds calibrate, or None
    (``drift.calibration.until_calibrated: certain``).

    A young region holds on fixed-threshold drift, but not on a shift that is
    certain and large: the serving model's predictions drift critically from
    its training span, so far that the two prediction histograms share at
    most ``max_overlap`` of their mass (``drift.calibration.certain_overlap``:
    most of the span lies where the model rarely predicted when it was
    trained; a new season half-way there does not), *and* its AUC on this
    span's labelled rows lies wholly below the AUC it had when pushed (the
    whole interval, not just the point). Any one alone holds; an identical
    span shows none."""
    if not quality or quality.get("prediction_severity") != CRITICAL:
        return None
    high, ref = quality.get("auc_high"), quality.get("reference_auc")
    if high is None or ref is None or not high < ref:
        return None
    drift = quality.get("prediction_drift", {})
    overlap = drift.get("overlap")
    if overlap is None or not overlap <= max_overlap:  # not measured (an older judge), or not that far
        return None
    return (
        f"certain shift before calibration: serving v{quality['version']}'s predictions drift critically "
        f"(PSI {drift.get('psi', float('nan')):.3f} vs span {quality.get('reference_span')}, "
        f"{overlap:.0%} of their histogram in common, at most {max_overlap:.0%}) and its AUC "
        f"{quality['auc']:.3f} [{quality['auc_low']:.3f}, {high:.3f}] on span {quality.get('span', span)} "
        f"lies wholly below its reference {ref:.3f}"
    )


def nothing_new(span: int, rows: Mapping[str, int], serving_version: Optional[int]) -> SpanReport:
    """The report of a run that found no span newer than the last processed one:
    ``skip``, and nothing about the region changes."""
    return SpanReport(
        span=span,
        decision=SKIP,
        rows=dict(rows),
        reasons=[
            f"no new span: span {span} was already processed; "
            f"serving version {serving_version} stays and the region's state is unchanged"
        ],
        ingest={"reason": NO_NEW_SPAN, "pending": []},
    )


def decide(
    span: int,
    rows: Mapping[str, int],
    findings: List[Finding],
    *,
    drift: Optional[Mapping[str, Comparison]] = None,
    gradual: Optional[List[dict]] = None,
    policy: Optional[Policy] = None,
    rules: Mapping[str, Rule] = RULES,
) -> SpanReport:
    """The span's decision, with every reason that led to it: ``block`` when a
    rule of ``components.gate.rules`` blocks (no rows, blocking anomalies,
    training/serving skew reaching ``policy.block_on_skew``), else ``retrain``
    when one retrains (forced, no or too old a model, the serving model's
    quality, prediction drift, a certain shift, drift against the training
    baseline reaching ``policy.retrain_on``, schema comparators, gradual
    drift), else ``skip``, with why nothing retrained. ``rules``: the rules
    that run (all of them unless a caller switches some off)."""
    policy = policy or Policy()
    drift = dict(drift or {})
    gradual = list(gradual or [])
    total = sum(rows.values())
    quality = policy.quality or {}
    certain = (
        certain_shift(span, quality, policy.certain_overlap) if policy.calibration == "certain" else None
    )
    said = apply(Evidence(span, total, findings, drift, gradual, policy, certain), rules)
    block, retrain, notes, reported = said.block, said.retrain, said.notes, said.reported
    training = drift.get("training")
    if block:
        decision, reasons = BLOCK, block
    elif retrain:
        decision, reasons = RETRAIN, retrain
    else:
        decision = SKIP
        base = f"training baseline (span {training.span})" if training else "the training baseline"
        short = [n for n, f in training.features.items() if f.severity == INSUFFICIENT] if training else []
        if training and short and len(short) == len(training.features):
            # too small to judge: say so, never "no drift"
            reasons = [
                f"insufficient data: {total} rows, below drift.min_count {policy.min_count} on every feature; "
                f"no drift verdict vs {base}; serving version {policy.serving_version} stays"
            ]
        elif notes:
            reasons = notes + [f"serving version {policy.serving_version} stays"]
        else:
            normal = " beyond this region's normal range" if policy.calibration == "calibrated" else ""
            reasons = [
                f"no drift reaching '{policy.retrain_on}'{normal} vs {base}; "
                f"serving version {policy.serving_version} stays"
            ]
            if short:
                reasons.append(
                    f"insufficient data (below drift.min_count {policy.min_count}) on {len(short)} of "
                    f"{len(training.features)} features: {', '.join(sorted(short))}"
                )
    if decision == SKIP and quality.get("sentence"):
        # the serving model's numbers lead when it was judged; else after the drift verdict
        judged = quality.get("verdict") in ("ok", "no_reference")
        first = judged and not (reasons and reasons[0].startswith("insufficient"))
        reasons.insert(0 if first else min(1, len(reasons)), quality["sentence"])
    reasons = list(reasons)  # never extend the block / retrain lists themselves
    if decision == RETRAIN:
        reasons += notes
    reasons += reported
    summary = f"{decision}: {reasons[0]}" if reasons else decision
    if decision == RETRAIN and len(retrain) > 1:
        summary += f" (and {len(retrain) - 1} more reason{'s' if len(retrain) > 2 else ''})"
    elif decision == BLOCK and policy.serving_version is not None:
        summary += f"; serving version {policy.serving_version} stays"
    warned = [f for f in findings if not f.blocking and f.split != SCHEMA_COMPARATORS]
    if decision != BLOCK:
        reasons.append(
            f"{total} rows, no blocking anomalies" + (f" ({len(warned)} warning(s))" if warned else "")
        )
    policy_record = asdict(policy)
    return SpanReport(
        span=span,
        decision=decision,
        rows=dict(rows),
        findings=findings,
        reasons=reasons,
        drift=drift,
        gradual=gradual,
        policy=policy_record,
        summary=summary,
    )
