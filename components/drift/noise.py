"""Sampling noise of every drift test at a comparison's sample sizes.

Two samples of one distribution never score 0. At 1,000 rows over ~100
destinations the PSI of two halves of the same month is about 0.3, above
the 0.25 critical threshold; at 100,000 rows it is 0.003. A threshold that
lies inside that noise alarms on chance (small spans), and one learned from
spans of another size is off by the difference (a calibrated threshold
learned on 10k-row months hides a break in a 100k-row span).

This module measures the noise by a parametric bootstrap from the baseline's
own summary: ``draws`` pairs of samples of the comparison's sizes
``(n_baseline, n_current)`` are drawn from the baseline's distribution
(multinomial over its quantile-sketch buckets or its categories, the way
StatisticsGen would have summarised them) and scored with the tests' own
formulas (``stat_tests.psi_of`` etc.; KS and Wasserstein on the shared
sketch boundaries, where both are exact). The result per test is the mean
and standard deviation of the score when nothing shifted. Deterministic:
seeded by feature and sizes. Pure numpy, all draws at once (about 1 ms a
feature at 200 draws).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from components.drift.stat_tests import (
    PSI_BINS,
    chi2_of,
    cramers_v_of,
    js_of,
    linf_of,
    pooled,
    psi_of,
    w1_of,
)
from components.drift.summaries import CategoricalSummary, NumericSummary, sketch_cdf
from driftgate.core.config import Tier

MIN_EXPECTED = 5.0  # as stat_tests.chi2: categories expected fewer times are pooled


@dataclass(frozen=True)
class Noise:
    """A test's score between two samples of one distribution: mean and std."""

    mean: float
    std: float

    def lift(self, tier: Tier, z: float) -> Tier:
        """``tier`` moved up, warning and critical alike, until its warning lies
        ``z`` std above the noise mean: no threshold within the noise."""
        shift = max(0.0, self.mean + z * self.std - tier.warning)
        return Tier(tier.warning + shift, tier.critical + shift)

    def to_json(self) -> list:
        return [round(self.mean, 6), round(self.std, 6)]

    @classmethod
    def from_json(cls, d) -> Optional["Noise"]:
        return cls(float(d[0]), float(d[1])) if d is not None else None


def _seed(feature: str, n_a: int, n_b: int) -> int:
    return zlib.crc32(f"{feature}|{n_a}|{n_b}".encode())


def _levels(counts: np.ndarray) -> np.ndarray:
    """Cumulative levels of bucket counts (draws x buckets -> draws x boundaries)."""
    cum = np.cumsum(counts, axis=-1) / np.maximum(counts.sum(axis=-1, keepdims=True), 1)
    return np.concatenate([np.zeros(cum.shape[:-1] + (1,)), cum], axis=-1)


def numeric(base: NumericSummary, n_a: int, n_b: int, draws: int, rng) -> Dict[str, np.ndarray]:
    """Scores of the numeric tests between ``draws`` pairs of samples of sizes
    ``n_a`` and ``n_b`` from ``base``."""
    p = np.clip(np.diff(base.levels), 0.0, None)
    p = p / p.sum()
    la = _levels(rng.multinomial(n_a, p, size=draws))
    lb = _levels(rng.multinomial(n_b, p, size=draws))
    v = base.values
    knots = np.unique(v)
    ks = np.maximum(
        np.max(np.abs(sketch_cdf(v, la, knots) - sketch_cdf(v, lb, knots)), axis=-1),
        np.max(np.abs(sketch_cdf(v, la, knots, left=True) - sketch_cdf(v, lb, knots, left=True)), axis=-1),
    )
    scale = base.std if base.std > 1e-12 else 1.0
    edges = np.unique(base.quantile(np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    zeros, ones = np.zeros((draws, 1)), np.ones((draws, 1))

    def fractions(levels):
        cuts = np.concatenate([zeros, sketch_cdf(v, levels, edges), ones], axis=-1)
        return np.clip(np.diff(cuts, axis=-1), 0.0, None)

    fa, fb = fractions(la), fractions(lb)
    return {"ks": ks, "wasserstein": w1_of(v, la, lb) / scale, "psi": psi_of(fa, fb), "js": js_of(fa, fb)}


def categorical(base: CategoricalSummary, n_a: int, n_b: int, draws: int, rng) -> Dict[str, np.ndarray]:
    """Scores of the categorical tests between ``draws`` pairs of samples."""
    counts = np.array(sorted(base.counts.values()), dtype=float)
    p = counts / counts.sum()
    ca = rng.multinomial(n_a, p, size=draws).astype(float)
    cb = rng.multinomial(n_b, p, size=draws).astype(float)
    stat, k, n = chi2_of(*pooled(ca, cb, min(n_a, n_b) * p >= MIN_EXPECTED))
    v = np.where(k >= 2, cramers_v_of(stat, n, k), 0.0)
    return {"chi2": v, "psi": psi_of(ca, cb), "js": js_of(ca, cb), "linf": linf_of(ca, cb)}


def of(feature: str, base, n_a: float, n_b: float, draws: int) -> Dict[str, Noise]:
    """Noise of every test of ``feature`` (baseline summary ``base``) at sizes
    ``n_a`` (baseline) and ``n_b`` (current): ``{test: Noise}``."""
    n_a, n_b = int(round(n_a)), int(round(n_b))
    rng = np.random.default_rng(_seed(feature, n_a, n_b))
    fn = numeric if isinstance(base, NumericSummary) else categorical
    return {t: Noise(float(np.mean(s)), float(np.std(s))) for t, s in fn(base, n_a, n_b, draws, rng).items()}
