"""History-calibrated drift thresholds: what is normal for this region.

A region that drifts every span (seasons, weather) would alarm on every span
at fixed effect-size thresholds. Here each (feature, test) gets its own tier
from the region's history of span-to-span scores (the ``previous``
comparisons the gate recorded): warning above ``mean + k * std``, critical
above ``mean + critical_k * std`` (NannyML does the same with reference
chunks). A score against the training baseline beyond that moved more than
the region normally moves in one span. A calibrated threshold never falls
below ``floor`` times the fixed one: a region whose spans barely move would
otherwise alarm on sampling noise.

Sample size: part of every past score is sampling noise at that span's row
count (``components.drift.noise``, recorded beside the score). The history
is split into the region's real movement (the score's excess over its noise
mean; its variance less the noise variance) and the noise, and the tier puts
back the noise at the judged comparison's row counts:
``noise_mean_now + mean_excess + k * sqrt(real_var + noise_var_now)``. A
history without recorded noise is taken to be at the current size (the tier
is then ``mean + k * std`` as before). Pure: history records in, tiers out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from components.drift.noise import Noise
from driftgate.core.config import Tier

PREVIOUS = "previous"  # the baseline whose scores calibrate


@dataclass(frozen=True)
class Normal:
    """One (feature, test)'s past span-to-span scores with their noise
    (None where the history did not record it)."""

    scores: Tuple[float, ...]
    noise: Tuple[Optional[Noise], ...]

    def split(self, now: Optional[Noise]) -> Tuple[float, float, Noise]:
        """``(mean excess over noise, real variance, noise)``: the history's
        movement without its sampling noise, and the noise to put back: ``now``,
        or without it the history's average. A past score without recorded noise
        is taken at ``now``'s sizes."""
        past = [n or now or Noise(0.0, 0.0) for n in self.noise]
        excess = [x - n.mean for x, n in zip(self.scores, past, strict=True)]
        m = sum(excess) / len(excess)
        var = sum((e - m) ** 2 for e in excess) / len(excess)
        noise_var = sum(n.std**2 for n in past) / len(past)
        now = now or Noise(sum(n.mean for n in past) / len(past), math.sqrt(noise_var))
        return m, max(var - noise_var, 0.0), now

    def tier(self, cfg, fixed: Tier, now: Optional[Noise] = None) -> Tier:
        """The tier at the comparison's sizes (``now``: its noise), never below
        ``cfg.floor`` times the fixed one (``cfg``: the ``CalibrationConfig``)."""
        m, real, noise = self.split(now)
        sd = math.sqrt(real + noise.std**2)
        return Tier(
            max(noise.mean + m + cfg.k * sd, cfg.floor * fixed.warning),
            max(noise.mean + m + cfg.critical_k * sd, cfg.floor * fixed.critical),
        )


@dataclass(frozen=True)
class Calibration:
    """Each (feature, test)'s normal movement, how many past comparisons made it,
    and the calibration settings that turn it into tiers."""

    normals: Dict[str, Dict[str, Normal]]
    spans: List[int]  # spans whose span-to-span scores were used
    cfg: object = None  # CalibrationConfig

    @property
    def ready(self) -> bool:
        return bool(self.normals)

    def tier(self, feature: str, test: str, fixed: Tier, now: Optional[Noise] = None) -> Optional[Tier]:
        """The calibrated tier of (feature, test) at the comparison's noise ``now``;
        None where the history has too few scores of it."""
        normal = self.normals.get(feature, {}).get(test)
        return normal.tier(self.cfg, fixed, now) if normal is not None else None

    def to_json(self) -> dict:
        """Spans used and, per feature and test, the real movement the history
        shows (mean excess over noise, its std)."""
        out = {}
        for f, tests in self.normals.items():
            for t, normal in tests.items():
                m, real, _ = normal.split(None)
                out.setdefault(f, {})[t] = [round(m, 6), round(math.sqrt(real), 6)]
        return {"spans": list(self.spans), "normal": out}


def span_to_span_scores(history: Iterable[Mapping]) -> List[tuple]:
    """``[(span, {feature: {test: score}}, {feature: {test: [mean, std]}})]`` of the
    span-to-span comparisons in history records (oldest first) with their
    recorded noise (empty when none was); spans without one are left out."""
    out = []
    for h in history:
        scores = (h.get("scores") or {}).get(PREVIOUS)
        if scores:
            out.append((int(h["span"]), scores, (h.get("noise") or {}).get(PREVIOUS) or {}))
    return out


def calibrate(history: Iterable[Mapping], drift) -> Calibration:
    """The normal movement of every (feature, test) with at least ``min_history``
    past span-to-span scores; none at all while the history is shorter.
    ``drift``: the region's ``DriftConfig``."""
    cfg = drift.calibration
    if not cfg.enabled:
        return Calibration({}, [], cfg)
    past = span_to_span_scores(history)
    values: Dict[str, Dict[str, list]] = {}
    for _, scores, noise in past:
        for feature, tests in scores.items():
            for test, score in tests.items():
                if score is not None and math.isfinite(score):
                    n = Noise.from_json((noise.get(feature) or {}).get(test))
                    values.setdefault(feature, {}).setdefault(test, []).append((float(score), n))
    normals: Dict[str, Dict[str, Normal]] = {}
    for feature, tests in values.items():
        for test, xs in tests.items():
            if len(xs) >= cfg.min_history:
                normals.setdefault(feature, {})[test] = Normal(
                    tuple(x for x, _ in xs), tuple(n for _, n in xs)
                )
    return Calibration(normals, [s for s, _, _ in past] if normals else [], cfg)
