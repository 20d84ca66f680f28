"""A young region meets a new season: the first span's model, serving in a
region that has seen one span, receives a later span as its second.

For each later span k of the history, the production gate judges span k as
the region's span 2 (so no history calibrates its thresholds, the model-age
cap does not apply, and only ``until_calibrated`` decides on drift), with
the serving model's quality on span k as the matrix measured it. A retrain's
candidate (the model trained on span k) replaces the first one only if the
Evaluator's rule blesses it; what either serves is scored on span k + 1.
This is the January -> July case of ``docs/drift-and-gate.md`` replayed over
every month, from the cached matrix: no training.
"""

from __future__ import annotations

from typing import Dict, List

from backtest import policies as p
from backtest import signals
from components.gate.decision import RETRAIN


def replay(
    configs: Dict[str, object], matrix: p.Matrix, summ: Dict[int, dict], rows: Dict[int, int], bless
) -> List[dict]:
    """One row per later span k that has a next span: the prediction drift
    of the first model on k, each config's decision, and the AUC on span
    k + 1 of staying with the first model or of retraining on k."""
    first = matrix.spans[0]
    out = []
    for t in range(1, matrix.size - 1):
        span = matrix.spans[t]
        view = p.Matrix(
            [1, 2],
            {0: {1: matrix.served[0][t]}},
            {0: {1: matrix.evals[0][t]}, 1: {1: matrix.evals[t][t]}},
            {0: {1: matrix.measured[0][t]}},
            {0: matrix.references[0]},
            {0: {1: matrix.stale.get(0, {}).get(t)}},
        )
        two = {1: summ[first], 2: summ[span]}
        counts = {1: rows[first], 2: rows[span]}
        decisions = {}
        drift = {}
        for name, cfg in configs.items():
            report = signals.reports(cfg, [1, 2], two, counts, view)(0, 1)
            decisions[name] = report.decision
            drift = (report.policy.get("quality") or {}).get("prediction_drift", drift)
        blessed = bless(view, 1, 0)
        out.append(
            {
                "span": span,
                "prediction_psi": drift.get("psi"),
                "prediction_overlap": drift.get("overlap"),
                "decisions": decisions,
                "blessed": blessed,
                "stay_auc": matrix.served[0][t + 1],
                "retrain_auc": matrix.served[t][t + 1] if blessed else matrix.served[0][t + 1],
            }
        )
    return out


def summary(young: List[dict], name: str) -> dict:
    """What config ``name`` did over the replay: the spans it retrained on and
    the mean AUC change on the next span against staying with the first model."""
    hits = [y for y in young if y["decisions"][name] == RETRAIN]
    diff = [y["retrain_auc"] - y["stay_auc"] for y in hits]
    return {
        "retrained_on": [y["span"] for y in hits],
        "mean_auc_change": sum(diff) / len(diff) if diff else 0.0,
        "helped": sum(d > 0 for d in diff),
    }
