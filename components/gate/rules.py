"""The gate's signals, one small named rule each, listed once (pure).

A rule reads what the gate knows about the span (:class:`Evidence`) and
returns its reasons, by what they do: ``block`` the span, ``retrain``,
``notes`` (why a signal that would have retrained did not) and ``reported``
(findings that decide nothing). ``decide`` runs the rules in the order of
:data:`RULES` and concatenates what they say, so the order of the reasons,
and the first reason (the summary's), is this list's order. A new signal is
one more rule here, not another branch in ``decide``.

Docs: ``docs/drift-and-gate.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional

from components.drift.evaluate import at_least
from components.drift.results import Comparison
from components.quality import importance as importances
from driftgate.core.vocabulary import CRITICAL, INSUFFICIENT, NONE


@dataclass(frozen=True)
class Evidence:
    span: int
    total_rows: int
    findings: list
    drift: Mapping[str, Comparison]
    gradual: List[dict]
    policy: object  # components.gate.decision.Policy
    certain: Optional[str]  # certain_shift's reason, when the region is young and the shift certain

    @property
    def quality(self) -> dict:
        return self.policy.quality or {}


@dataclass
class Said:
    block: List[str] = field(default_factory=list)
    retrain: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    reported: List[str] = field(default_factory=list)

    def extend(self, other: "Said") -> None:
        for name in ("block", "retrain", "notes", "reported"):
            getattr(self, name).extend(getattr(other, name))


SCHEMA_COMPARATORS = "schema_comparators"  # the "split" of findings from drift/skew comparators
Rule = Callable[[Evidence], Said]
RULES: Dict[str, Rule] = {}


def rule(name: str):
    def register(fn: Rule) -> Rule:
        RULES[name] = fn
        return fn

    return register


@rule("no_rows")
def no_rows(e: Evidence) -> Said:
    return Said(block=[f"span {e.span} has no rows"] if e.total_rows == 0 else [])


@rule("blocking_anomalies")
def blocking_anomalies(e: Evidence) -> Said:
    return Said(block=[f"{f.feature} ({f.split}): {f.description}" for f in e.findings if f.blocking])


@rule("serving_skew")
def serving_skew(e: Evidence) -> Said:
    skew = e.drift.get("serving")
    if not (skew and at_least(skew.severity, e.policy.block_on_skew)):
        return Said()
    return Said(
        block=[
            f"training/serving skew {skew.severity} on {', '.join(skew.drifted)} "
            f"(blocks at {e.policy.block_on_skew})"
        ]
    )


@rule("forced")
def forced(e: Evidence) -> Said:
    if not e.policy.force_retrain:
        return Said()
    return Said(retrain=['retraining forced (--force-retrain, or run parameter retrain="force")'])


@rule("model_age")
def model_age(e: Evidence) -> Said:
    p = e.policy
    if p.serving_version is None:
        return Said(retrain=["no model serves in this region yet"])
    if p.training_span is None:
        return Said(retrain=[f"serving version {p.serving_version} has no recorded training span"])
    if e.span - p.training_span > p.max_model_age_spans:
        return Said(
            retrain=[
                f"serving version {p.serving_version} was trained on span {p.training_span}, "
                f"more than {p.max_model_age_spans} spans ago"
            ]
        )
    return Said()


@rule("serving_quality")
def serving_quality(e: Evidence) -> Said:
    """The serving model degraded on the span, or lost its advantage to a
    fresh challenger (retrains, or reported only)."""
    q = e.quality
    if q.get("verdict") == "degraded":
        return Said(retrain=[q["sentence"]])
    if q.get("stale") and q.get("stale_retrains"):
        return Said(retrain=[q["stale"]])
    if q.get("stale"):
        return Said(reported=[q["stale"] + "; reported only (quality.challenger.retrain: false)"])
    return Said()


def _prediction_drift_retrains(e: Evidence) -> bool:
    return at_least(e.quality.get("prediction_severity", NONE), e.policy.retrain_on_prediction_drift)


@rule("slice_quality")
def slice_quality(e: Evidence) -> Said:
    """A slice of ``evaluation.slices`` whose AUC fell more than
    ``quality.auc_margin`` below its AUC at push (``components.quality.fairness.degraded``):
    retrains with ``quality.retrain_on_slices``, else noted."""
    found = e.quality.get("slices_degraded") or []
    if not found:
        return Said()
    version = e.quality.get("version")
    said = f"serving v{version} degraded on {len(found)} slice(s): " + "; ".join(
        d["sentence"] for d in found[:3]
    )
    if e.quality.get("slices_retrain"):
        return Said(retrain=[said])
    return Said(notes=[said + " (quality.retrain_on_slices is false)"])


@rule("prediction_drift")
def prediction_drift(e: Evidence) -> Said:
    q = e.quality
    if not (q and _prediction_drift_retrains(e)):
        return Said()
    psi = q.get("prediction_drift", {}).get("psi")
    return Said(
        retrain=[
            f"prediction drift {q['prediction_severity']}: serving v{q['version']}'s predictions "
            f"on span {q['span']} vs its training span, PSI {psi:.3f}"
        ]
    )


@rule("certain_shift")
def certain_shift(e: Evidence) -> Said:
    """No blind start (``decision.certain_shift``), unless prediction drift already retrains."""
    if e.certain and not _prediction_drift_retrains(e):
        return Said(retrain=[e.certain])
    return Said()


@rule("training_drift")
def training_drift(e: Evidence) -> Said:
    p, training = e.policy, e.drift.get("training")
    if not (training and at_least(training.severity, p.retrain_on)):
        return Said()
    hit = sorted(n for n, f in training.features.items() if at_least(f.severity, p.retrain_on))
    hit = hit or list(training.drifted)
    base = f"vs training baseline (span {training.span})"
    if p.calibration in ("hold", "certain"):
        return Said(
            notes=[
                f"drift {training.severity} {base} on {', '.join(hit)} at fixed thresholds, not retraining on it: "
                f"thresholds calibrate after {p.calibration_min_history} span-to-span comparisons "
                f"({p.calibration_history} so far; drift.calibration.until_calibrated: {p.calibration})"
            ]
        )
    if p.calibration == "calibrated" and len(hit) < p.min_features and training.severity != CRITICAL:
        # one feature far beyond its normal range is a break: that one retrains
        return Said(
            notes=[
                f"drift beyond this region's normal span-to-span range {base} on {len(hit)} feature(s) "
                f"({', '.join(hit)}), fewer than drift.calibration.min_features {p.min_features} "
                "and none critical"
            ]
        )
    normal = " beyond this region's normal span-to-span range" if p.calibration == "calibrated" else ""
    return Said(retrain=[f"drift {training.severity}{normal} {base} on {', '.join(hit)}"])


@rule("schema_comparators")
def schema_comparators(e: Evidence) -> Said:
    return Said(
        retrain=[
            f"schema comparator on {f.feature}: {f.description}"
            for f in e.findings
            if f.split == SCHEMA_COMPARATORS
        ]
    )


@rule("gradual_drift")
def gradual_drift(e: Evidence) -> Said:
    out = Said()
    for g in e.gradual:
        text = (
            f"gradual drift: {g['feature']} crept {g['direction']} by {abs(g['total_shift_std']):.2f} std "
            f"over spans {g['spans'][0]}-{g['spans'][-1]} (CUSUM {g['cusum']:.2f} >= {g['threshold']})"
        )
        if e.policy.gradual_retrains:
            out.retrain.append(text)
        else:
            out.reported.append(text + "; reported only (drift.gradual.retrain: false)")
    return out


def normalised_drift(comparison: Comparison) -> Dict[str, float]:
    """Each feature's drift as a multiple of its warning threshold: the largest
    ``score / warning`` over its tests, with the thresholds the comparison
    used (calibrated ones when it was calibrated, lifted out of the sampling
    noise). A feature without a verdict (insufficient data, or no test) is
    left out: it counts 0."""
    out = {}
    for name, f in comparison.features.items():
        if f.severity == INSUFFICIENT:
            continue
        ratios = [t.score / t.warning for t in f.tests.values() if t.warning > 0 and t.score == t.score]
        if ratios:
            out[name] = max(ratios)
    return out


@rule("importance_drift")
def importance_drift(e: Evidence) -> Said:
    """Drift against the training baseline on the features the serving model
    relies on (``quality.importance.retrain_above`` > 0): each feature's
    normalised drift (``normalised_drift``) weighted by its permutation
    importance at push (``importance.weighted_drift``: importances clipped at
    0, summing to 1); above ``retrain_above`` it retrains, else the score is
    reported. While the thresholds are not calibrated yet (``hold`` /
    ``certain``) it only notes, as ``training_drift`` does."""
    imp = e.quality.get("importance") or {}
    above = float(imp.get("retrain_above") or 0.0)
    training = e.drift.get("training")
    if above <= 0 or not imp.get("reference") or training is None:
        return Said()
    weighted = importances.weighted_drift(imp["reference"], normalised_drift(training))
    score = weighted["score"]
    top = ", ".join(f"{f} {c:.2f}" for f, _, _, c in weighted["top"][:3])
    detail = f" ({top})" if top else ""
    base = f"vs training baseline (span {training.span})"
    if score <= above:
        return Said(
            reported=[
                f"importance-weighted drift {score:.2f} {base}, at or below "
                f"quality.importance.retrain_above {above}{detail}"
            ]
        )
    found = f"drift on the features the model relies on: importance-weighted score {score:.2f} above {above}"
    if e.policy.calibration in ("hold", "certain"):
        return Said(
            notes=[
                f"{found}{detail} {base} at fixed thresholds, not retraining on it: thresholds calibrate after "
                f"{e.policy.calibration_min_history} span-to-span comparisons "
                f"({e.policy.calibration_history} so far)"
            ]
        )
    return Said(retrain=[f"{found}{detail} {base}"])


def apply(e: Evidence, rules: Mapping[str, Rule] = RULES) -> Said:
    """What every rule says, in the registry's order."""
    said = Said()
    for fn in rules.values():
        said.extend(fn(e))
    return said
