"""Per-feature summaries read from TFDV statistics protos.

A numeric feature is summarised by its quantile sketch (TFDV's QUANTILES
histogram: bucket boundaries and counts) plus count, mean and standard
deviation; a categorical one by its value counts (rank histogram). Every drift
test in :mod:`components.drift.stat_tests` works on these summaries, so drift never
needs a second pass over raw rows. No TFX here.
"""

from dataclasses import dataclass
from typing import Dict, Iterable, Optional

import numpy as np
from tensorflow_metadata.proto.v0 import statistics_pb2

OTHER = "__other__"


@dataclass(frozen=True)
class NumericSummary:
    """Quantile sketch of one numeric feature: ``values[i]`` is the value at
    cumulative fraction ``levels[i]`` (levels rise from 0 to 1)."""

    count: float
    mean: float
    std: float
    values: np.ndarray
    levels: np.ndarray

    def cdf(self, x, left: bool = False) -> np.ndarray:
        """F(x) (right-continuous), or F(x-) with ``left=True`` (:func:`sketch_cdf`)."""
        return sketch_cdf(self.values, self.levels, x, left)

    def quantile(self, p) -> np.ndarray:
        """Q(p), the inverse of the interpolated CDF."""
        return np.interp(np.asarray(p, dtype=float), self.levels, self.values)


def sketch_cdf(values: np.ndarray, levels: np.ndarray, x, left: bool = False) -> np.ndarray:
    """F(x) of a quantile sketch (``values`` at cumulative ``levels``),
    right-continuous, or F(x-) with ``left=True``. ``levels`` may carry leading
    axes: several samples sketched on the same boundaries, one CDF each.

    A boundary value repeated in the sketch is a point mass: F jumps there
    from the level of its first occurrence to the level of its last.
    Between two distinct boundaries F rises linearly; next to an infinite one
    (``inf`` / ``-inf`` values in the span) it is that ramp's limit, flat at the
    finite boundary's level (the bucket's mass sits at the infinity), so no
    ``inf - inf`` or ``inf / inf`` is ever computed.
    """
    x = np.atleast_1d(np.asarray(x, dtype=float))
    u, first = np.unique(values, return_index=True)
    last = len(values) - 1 - np.unique(values[::-1], return_index=True)[1]
    lo_level, hi_level = levels[..., first], levels[..., last]
    i = np.searchsorted(u, x, side="right") - 1
    inside = (i >= 0) & (i < len(u) - 1)
    j = np.clip(i, 0, len(u) - 1)
    k = np.clip(i + 1, 0, len(u) - 1)
    ramps = inside & np.isfinite(u[j]) & np.isfinite(u[k])  # x between two finite knots
    width = np.subtract(u[k], u[j], out=np.ones_like(x), where=ramps)
    frac = np.divide(
        np.subtract(x, u[j], out=np.zeros_like(x), where=ramps), width, where=ramps, out=np.zeros_like(x)
    )
    frac = np.where(inside & np.isneginf(u[j]) & np.isfinite(u[k]), 1.0, frac)  # the ramp up from -inf
    ramp = hi_level[..., j] + (lo_level[..., k] - hi_level[..., j]) * frac
    exact = (i >= 0) & (x == u[j])
    at_knot = lo_level[..., j] if left else hi_level[..., j]
    out = np.where(inside, ramp, 0.0)
    out = np.where(i >= len(u) - 1, 1.0, out)
    return np.where(exact, at_knot, out)


@dataclass(frozen=True)
class CategoricalSummary:
    """Value counts of one categorical feature (values beyond the sketch in OTHER)."""

    count: float
    counts: Dict[str, float]


def feature_map(
    stats: statistics_pb2.DatasetFeatureStatistics,
) -> Dict[str, statistics_pb2.FeatureNameStatistics]:
    """Feature name -> its statistics (top-level features)."""
    out = {}
    for f in stats.features:
        name = ".".join(f.path.step) if f.path.step else f.name
        out[name] = f
    return out


def numeric_summary(f: statistics_pb2.FeatureNameStatistics) -> Optional[NumericSummary]:
    """Summary from ``num_stats``; None when the feature has no numeric stats or no values."""
    if not f.HasField("num_stats"):
        return None
    ns = f.num_stats
    count = float(ns.common_stats.num_non_missing)
    for h in ns.histograms:
        if h.type == statistics_pb2.Histogram.QUANTILES and h.buckets:
            counts = np.array([b.sample_count for b in h.buckets], dtype=float)
            if counts.sum() <= 0:
                return None
            values = np.array([h.buckets[0].low_value] + [b.high_value for b in h.buckets], dtype=float)
            # tf.Example stores float32: compare at that precision, or a value of a
            # discrete feature (wind speed in 1.15 mph steps) read as float64 from
            # a CSV lands on the other side of a bin edge than the same value in float32
            values = values.astype(np.float32).astype(np.float64)
            levels = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
            return NumericSummary(count, float(ns.mean), float(ns.std_dev), values, levels)
    return None


def categorical_summary(f: statistics_pb2.FeatureNameStatistics) -> Optional[CategoricalSummary]:
    """Summary from ``string_stats`` (BYTES features and INT features marked categorical)."""
    if not f.HasField("string_stats"):
        return None
    ss = f.string_stats
    total = float(ss.common_stats.num_non_missing) * max(float(ss.common_stats.avg_num_values), 1.0)
    counts: Dict[str, float] = {}
    buckets = ss.rank_histogram.buckets or [
        statistics_pb2.RankHistogram.Bucket(label=t.value, sample_count=t.frequency) for t in ss.top_values
    ]
    for b in buckets:
        counts[b.label] = counts.get(b.label, 0.0) + float(b.sample_count)
    rest = total - sum(counts.values())
    if rest > 0.5:
        counts[OTHER] = rest
    if total <= 0:
        return None
    return CategoricalSummary(total, counts)


def mix_numeric(parts: Iterable[NumericSummary], buckets: int = 100) -> Optional[NumericSummary]:
    """One summary for the union of several samples (e.g. train and eval splits):
    the count-weighted mixture of their CDFs, re-sketched at ``buckets`` quantiles."""
    parts = [p for p in parts if p is not None and p.count > 0]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    n = sum(p.count for p in parts)
    knots = np.unique(np.concatenate([p.values for p in parts]))
    # The mixture CDF just left of and at each knot: keeps point masses (a jump
    # at a knot) as repeated quantile values instead of smearing them.
    left = sum(p.count * p.cdf(knots, left=True) for p in parts) / n
    right = sum(p.count * p.cdf(knots) for p in parts) / n
    xs = np.repeat(knots, 2)
    fs = np.maximum.accumulate(np.column_stack([left, right]).ravel())
    levels = np.linspace(0.0, 1.0, buckets + 1)
    values = np.interp(levels, fs, xs)
    values[0], values[-1] = knots[0], knots[-1]
    mean = sum(p.count * p.mean for p in parts) / n
    var = sum(p.count * (p.std**2 + (p.mean - mean) ** 2) for p in parts) / n
    return NumericSummary(n, float(mean), float(np.sqrt(var)), values, levels)


def mix_categorical(parts: Iterable[CategoricalSummary]) -> Optional[CategoricalSummary]:
    """Summed counts of several samples."""
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    counts: Dict[str, float] = {}
    for p in parts:
        for k, v in p.counts.items():
            counts[k] = counts.get(k, 0.0) + v
    return CategoricalSummary(sum(p.count for p in parts), counts)


def summarize(stats_list: Iterable[statistics_pb2.DatasetFeatureStatistics], features: Iterable[str]) -> dict:
    """{feature: NumericSummary | CategoricalSummary | None} over one or more datasets
    (splits) of the same span, mixed into one sample."""
    maps = [feature_map(s) for s in stats_list]
    out = {}
    for name in features:
        fs = [m[name] for m in maps if name in m]
        cats = [categorical_summary(f) for f in fs]
        if any(c is not None for c in cats):
            out[name] = mix_categorical(cats)
        else:
            out[name] = mix_numeric(numeric_summary(f) for f in fs)
    return out
