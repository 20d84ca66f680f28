"""History-calibrated drift thresholds: what is normal for this region.

A region that drifts every span (seasons, weather) would alarm on every span
at fixed effect-size thresholds. Here each (feature, test) gets its own tier
from the region's history of span-to-span scores (the ``previous``
comparisons the gate recorded): warning above ``mean + k * std``, critical
above ``mean + critical_k * std`` (NannyML does the same with reference
chunks). A score against the training baseline beyond that moved more than
the region normally moves in one span. A calibrated threshold never falls
below ``floor`` times the fixed one: a region whose spans barely move would
otherwise alarm on sampling noise. Pure: history records in, tiers out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping

from components.drift.evaluate import thresholds_for
from driftgate.core.config import Tier

PREVIOUS = "previous"  # the baseline whose scores calibrate


@dataclass(frozen=True)
class Calibration:
    """Tiers per feature and test, and how many past comparisons made them."""

    tiers: Dict[str, Dict[str, Tier]]
    spans: List[int]  # spans whose span-to-span scores were used

    @property
    def ready(self) -> bool:
        return bool(self.tiers)

    def to_json(self) -> dict:
        return {
            "spans": list(self.spans),
            "thresholds": {
                f: {t: [round(tier.warning, 6), round(tier.critical, 6)] for t, tier in tests.items()}
                for f, tests in self.tiers.items()
            },
        }


def span_to_span_scores(history: Iterable[Mapping]) -> List[tuple]:
    """``[(span, {feature: {test: score}})]`` of the span-to-span comparisons in
    history records (oldest first); spans without one are left out."""
    out = []
    for h in history:
        scores = (h.get("scores") or {}).get(PREVIOUS)
        if scores:
            out.append((int(h["span"]), scores))
    return out


def calibrate(history: Iterable[Mapping], drift) -> Calibration:
    """Tiers for every (feature, test) with at least ``min_history`` past
    span-to-span scores; none at all while the history is shorter.
    ``drift``: the region's ``DriftConfig`` (its ``calibration`` and fixed thresholds)."""
    cfg = drift.calibration
    past = span_to_span_scores(history)
    values: Dict[str, Dict[str, List[float]]] = {}
    for _, scores in past:
        for feature, tests in scores.items():
            for test, score in tests.items():
                if score is not None and math.isfinite(score):
                    values.setdefault(feature, {}).setdefault(test, []).append(float(score))
    tiers: Dict[str, Dict[str, Tier]] = {}
    if not cfg.enabled:
        return Calibration({}, [])
    for feature, tests in values.items():
        for test, xs in tests.items():
            if len(xs) < cfg.min_history:
                continue
            mean = sum(xs) / len(xs)
            std = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs))
            fixed = thresholds_for(drift, feature, test)
            tiers.setdefault(feature, {})[test] = Tier(
                max(mean + cfg.k * std, cfg.floor * fixed.warning),
                max(mean + cfg.critical_k * std, cfg.floor * fixed.critical),
            )
    return Calibration(tiers, [s for s, _ in past] if tiers else [])
