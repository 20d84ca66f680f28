"""The statistical canary judge: is the canary at least as good as stable on
the same rows? Pure numpy; ``components/canary/analysis.py`` feeds it both models'
predictions on a labelled span.

Like Kayenta's judge, it compares the two on the same traffic and asks for
evidence, not a point estimate: a paired bootstrap over the span's rows gives
a confidence interval for canary minus stable, for AUC and for accuracy.

- ``promote``  every interval's lower bound is above ``-margin`` (non-inferior);
- ``rollback`` some interval lies wholly below ``-margin`` (shown worse);
- ``pending``  too few rows (``min_rows``), or an interval straddles ``-margin``:
  the canary keeps its share and is judged again on the next span.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Tuple

import numpy as np

from components.quality.metrics import (  # noqa: F401 (the judge's metrics)
    Interval,
    accuracy,
    auc,
    paired_interval,
)
from driftgate.core.vocabulary import PENDING, PROMOTE, ROLLBACK


@dataclass(frozen=True)
class Judgement:
    verdict: str
    rows: int
    auc: Interval
    accuracy: Interval
    reasons: List[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "verdict": self.verdict,
            "rows": self.rows,
            "auc_diff": [self.auc.diff, self.auc.low, self.auc.high],
            "accuracy_diff": [self.accuracy.diff, self.accuracy.low, self.accuracy.high],
            "reasons": list(self.reasons),
        }


def judge(
    labels,
    stable,
    canary,
    *,
    auc_margin: float,
    accuracy_margin: float,
    min_rows: int,
    confidence: float = 0.95,
    samples: int = 400,
    seed: int = 0,
) -> Judgement:
    """The verdict for a canary against stable on the same labelled rows (see module doc)."""
    labels, stable, canary = (np.asarray(a, dtype=float).ravel() for a in (labels, stable, canary))
    n = len(labels)
    kw = dict(confidence=confidence, samples=samples, seed=seed)
    if n < min_rows:
        nan = Interval(float("nan"), float("nan"), float("nan"))
        return Judgement(
            PENDING, n, nan, nan, [f"PENDING: {n} labelled rows, fewer than the {min_rows} needed"]
        )
    checks: List[Tuple[str, Interval, float]] = [
        ("AUC", paired_interval(labels, stable, canary, auc, **kw), auc_margin),
        ("accuracy", paired_interval(labels, stable, canary, accuracy, **kw), accuracy_margin),
    ]
    reasons, worse, unsure = [], False, False
    pct = f"{confidence:.0%}"
    for name, iv, margin in checks:
        text = f"{name} canary - stable {iv.diff:+.4f}, {pct} CI [{iv.low:+.4f}, {iv.high:+.4f}] vs margin -{margin}"
        if iv.low >= -margin:
            reasons.append(f"ok: {text}: not worse")
        elif iv.high < -margin:
            worse = True
            reasons.append(f"FAILED: {text}: worse")
        else:
            unsure = True
            reasons.append(f"PENDING: {text}: inconclusive, judged again on the next span")
    verdict = ROLLBACK if worse else PENDING if unsure else PROMOTE
    return Judgement(verdict, n, checks[0][1], checks[1][1], reasons)
