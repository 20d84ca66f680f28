"""Each span's gate report, for each model that could be serving, from the
production gate: TFDV statistics summarised as the gate summarises them and
judged by ``components.gate.assess.assess`` with the region's ``drift:``
config (thresholds calibrated on the region's own span-to-span history,
model-age cap, gradual drift), and the serving model's quality on the span
judged by ``components.quality.serving.verdict`` from what the matrix measured. No
anomaly findings: the backtest reads clean history, so nothing blocks."""

from __future__ import annotations

from typing import Callable, Dict, List

from components.drift import evaluate
from components.drift.summaries import summarize
from components.gate import assess as judge
from components.gate import decision
from components.quality import fairness
from components.quality import serving as quality


def summaries(stats_by_span: Dict[int, object], features: List[str]) -> Dict[int, dict]:
    return {span: summarize(stats.datasets, features) for span, stats in stats_by_span.items()}


def history(cfg, spans: List[int], summ: Dict[int, dict]) -> List[dict]:
    """The region's history records as the gate leaves them (span, its
    span-to-span scores, numeric moments), oldest first."""
    out = []
    for t, span in enumerate(spans):
        record = {"span": span, "numeric": judge.numeric_moments(summ[span]), "scores": {}}
        if t > 0:
            comp = evaluate.compare(summ[spans[t - 1]], summ[span], cfg.drift, "previous", spans[t - 1])
            record["scores"]["previous"] = {f: e.scores() for f, e in comp.features.items()}
            record["noise"] = {"previous": {f: e.noise() for f, e in comp.features.items()}}
        out.append(record)
    return out


def serving_quality(cfg, matrix, m: int, t: int) -> dict:
    """The quality verdict of model m (version m + 1) on span index t, with
    its push-time permutation importance when the matrix has it."""
    if t not in matrix.measured.get(m, {}) or m not in matrix.references:
        return {}
    cell = dict(matrix.measured[m][t])
    now = cell.pop("slices", None)
    measured = quality.Measured(**cell)
    ref = quality.Reference.from_json(matrix.references[m])
    stale = matrix.stale.get(m, {}).get(t)
    q = quality.verdict(m + 1, matrix.spans[t], measured, ref, cfg.quality, stale).to_json()
    then = matrix.references[m].get("slices")
    if now is not None and then is not None and q.get("auc") is not None:
        # what the gate's slice_quality rule reads (components.quality.span)
        q["slices_degraded"] = fairness.degraded(then, now, cfg.quality.auc_margin)
        q["slices_retrain"] = cfg.quality.retrain_on_slices
    pushed = matrix.references[m].get("importance")
    if pushed and cfg.quality.importance.enabled:
        # what the gate's importance_drift rule reads: the push-time importance (no
        # current one: the backtest does not measure the serving model's on each span)
        q["importance"] = {
            "method": pushed["method"],
            "rows": pushed["rows"],
            "reference": dict(pushed["values"]),
            "ndcg": None,
            "retrain_above": cfg.quality.importance.retrain_above,
        }
    return q


def reports(
    cfg, spans: List[int], summ: Dict[int, dict], rows: Dict[int, int], matrix=None
) -> Callable[[int, int], object]:
    """``report(m, t)``: span index t judged while model m (trained on span
    index m) serves; computed on first use, then kept."""
    features = list(cfg.features.all)
    records = history(cfg, spans, summ)
    cache: Dict[tuple, object] = {}

    def report(m: int, t: int):
        if (m, t) not in cache:
            q = serving_quality(cfg, matrix, m, t) if matrix is not None and cfg.quality.enabled else {}
            policy = decision.Policy(
                serving_version=m + 1,
                training_span=spans[m],
                max_model_age_spans=cfg.drift.max_model_age_spans,
                retrain_on=cfg.drift.retrain_on,
                block_on_skew=cfg.drift.block_on_skew,
                min_count=cfg.drift.min_count,
                quality=q or None,
                retrain_on_prediction_drift=cfg.quality.retrain_on_prediction_drift,
            )
            cache[(m, t)] = judge.assess(
                spans[t],
                {"all": rows[spans[t]]},
                [],
                summ[spans[t]],
                cfg.drift,
                features,
                policy=policy,
                previous=judge.Baseline(spans[t - 1], summ[spans[t - 1]]) if t > 0 else None,
                training=judge.Baseline(spans[m], summ[spans[m]]),
                moments_since_training=records[m:t],
                history=records[:t],
            )
        return cache[(m, t)]

    return report
