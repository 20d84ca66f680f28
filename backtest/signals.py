"""Each span's drift report, for each model that could be serving, from the
production gate: TFDV statistics summarised as the gate summarises them and
judged by ``components.gate.decision.assess`` with the region's ``drift:``
config (thresholds, model-age cap, gradual drift). No anomaly findings: the
backtest reads clean history, so nothing blocks."""

from __future__ import annotations

from typing import Callable, Dict, List

from components.drift.summaries import summarize
from components.gate import decision


def summaries(stats_by_span: Dict[int, object], features: List[str]) -> Dict[int, dict]:
    return {span: summarize(stats.datasets, features) for span, stats in stats_by_span.items()}


def reports(
    cfg, spans: List[int], summ: Dict[int, dict], rows: Dict[int, int]
) -> Callable[[int, int], object]:
    """``report(m, t)``: span index t judged while model m (trained on span
    index m) serves; computed on first use, then kept."""
    features = list(cfg.features.all)
    cache: Dict[tuple, object] = {}

    def report(m: int, t: int):
        if (m, t) not in cache:
            policy = decision.Policy(
                serving_version=m + 1,
                training_span=spans[m],
                max_model_age_spans=cfg.drift.max_model_age_spans,
                retrain_on=cfg.drift.retrain_on,
                block_on_skew=cfg.drift.block_on_skew,
                min_count=cfg.drift.min_count,
            )
            cache[(m, t)] = decision.assess(
                spans[t],
                {"all": rows[spans[t]]},
                [],
                summ[spans[t]],
                cfg.drift,
                features,
                policy=policy,
                previous=decision.Baseline(spans[t - 1], summ[spans[t - 1]]) if t > 0 else None,
                training=decision.Baseline(spans[m], summ[spans[m]]),
                moments_since_training=[
                    {"span": spans[k], "numeric": decision.numeric_moments(summ[spans[k]])}
                    for k in range(m, t)
                ],
            )
        return cache[(m, t)]

    return report
