"""The span gate's whole judgement from summaries: drift against the previous
span, the serving model's training span and the serving logs, gradual drift
since training, calibrated thresholds, then ``decision.decide``. Shared by the
gate component (``components.gate.executor``) and the backtest
(``backtest.signals``). Pure: no TFX.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional

from components.drift.results import Comparison
from components.gate.decision import Finding, Policy, SpanReport, decide


@dataclass
class Baseline:
    """A span the current one is compared with: its number and per-feature
    summaries (``components.drift.summaries.summarize``)."""

    span: int
    summaries: Mapping[str, object]


def assess(
    span: int,
    rows: Mapping[str, int],
    findings: List[Finding],
    current: Mapping[str, object],
    cfg,
    features: Iterable[str],
    *,
    policy: Policy,
    previous: Optional[Baseline] = None,
    training: Optional[Baseline] = None,
    serving_logs: Optional[Mapping[str, object]] = None,
    moments_since_training: Iterable[Mapping] = (),
    history: Iterable[Mapping] = (),
) -> SpanReport:
    """Drift against the previous span, the serving model's training span and
    the serving logs, gradual drift since training, then ``decide``: the
    span gate's whole judgement from summaries, shared by the gate component
    and the backtest. ``moments_since_training`` holds the history entries
    (``{"span", "numeric"}``) of spans from the training span up to this one;
    ``history`` the region's earlier span records (``{"span", "scores"}``),
    which calibrate the thresholds vs the training baseline
    (``components.drift.calibration``, ``cfg.calibration``)."""
    from dataclasses import replace

    from components.drift import calibration, evaluate, gradual

    cal = calibration.calibrate([h for h in history if h["span"] < span], cfg)
    n_past = len(calibration.span_to_span_scores(h for h in history if h["span"] < span))
    mode = "off"
    if cfg.calibration.enabled:
        mode = "calibrated" if cal.ready else cfg.calibration.until_calibrated
    policy = replace(
        policy,
        calibration=mode,
        calibration_history=n_past,
        calibration_min_history=cfg.calibration.min_history,
        certain_overlap=cfg.calibration.certain_overlap,
        min_features=cfg.calibration.min_features if mode == "calibrated" else 1,
        gradual_retrains=cfg.gradual.retrain,
    )
    drift: Dict[str, Comparison] = {}
    if previous is not None:
        drift["previous"] = evaluate.compare(previous.summaries, current, cfg, "previous", previous.span)
    if training is not None:
        drift["training"] = evaluate.compare(
            training.summaries, current, cfg, "training", training.span, calibration=cal
        )
        drift["training"] = drift["training"].with_model_version(policy.serving_version)
    if serving_logs is not None:  # skew: what serving sees this span vs what this span would train on
        drift["serving"] = evaluate.compare(current, serving_logs, cfg, "serving", span)
    found_gradual = []
    if training is not None:
        moments = numeric_moments(current)
        window = list(moments_since_training) + [{"span": span, "numeric": moments}]
        found_gradual = gradual.detect(window, [f for f in features if f in moments], cfg.gradual)
    report = decide(span, rows, findings, drift=drift, gradual=found_gradual, policy=policy)
    report.calibration = dict(cal.to_json(), mode=mode, history=n_past) if mode != "off" else {}
    return report


def numeric_moments(summaries: Mapping[str, object]) -> dict:
    """Mean, std and count of each numeric feature (what gradual drift follows)."""
    from components.drift.summaries import NumericSummary

    return {
        name: {"mean": s.mean, "std": s.std, "count": s.count}
        for name, s in summaries.items()
        if isinstance(s, NumericSummary)
    }
