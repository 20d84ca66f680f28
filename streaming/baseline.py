"""The training baseline as the stream counts against it (pure numpy).

The batch gate summarises each span by TFDV statistics (a quantile sketch
per numeric feature, value counts per categorical one) and compares the
summaries (``components.drift``). The stream cannot sketch every short
window, so it counts each window's values in cells laid out by the
baseline's own sketch: per numeric feature, its distinct boundaries
``u_0 < ... < u_{U-1}`` give ``2U + 1`` cells (below ``u_0``; each open
interval; each boundary that carries a point mass in the baseline, e.g.
precipitation's zeros; above ``u_{U-1}``). A window's counts give its CDF
exactly at every boundary, so the drift tests on (baseline, window) are the
batch tests on two sketches with the same boundaries (``streaming.scores``).
Values are compared at float32, as ``summaries.numeric_summary`` reads
tf.Example values.

Categorical features count values as strings (a CSV cell's text: ``5``,
``UA``), the baseline's values plus up to ``max_new`` unseen ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from components.drift.stat_tests import PSI_BINS
from components.drift.summaries import (
    CategoricalSummary,
    NumericSummary,
    categorical_summary,
    feature_map,
    mix_categorical,
    mix_numeric,
    numeric_summary,
)


@dataclass(frozen=True)
class NumericGrid:
    name: str
    base: NumericSummary
    knots: np.ndarray  # distinct sketch boundaries, float32-rounded
    point: np.ndarray  # bool per knot: a point mass in the baseline
    base_lo: np.ndarray  # F_base(u-) per knot
    base_hi: np.ndarray  # F_base(u) per knot
    edges: np.ndarray  # PSI/JS bin edges (the baseline's deciles), as stat_tests cuts them
    missing_rate: float
    rows: float  # baseline rows (present + missing)
    base_bins: np.ndarray  # the baseline's fraction per PSI/JS bin
    edge_at: np.ndarray  # per edge: the knot at or below it
    edge_w: np.ndarray  # per edge: its position between that knot and the next (0: on the knot)

    @property
    def cells(self) -> int:
        return 2 * len(self.knots) + 1

    def cell_of(self, x: np.ndarray) -> np.ndarray:
        """Cell index of each (finite) value."""
        x = np.asarray(x, dtype=np.float32).astype(np.float64)
        u = self.knots
        j = np.searchsorted(u, x, side="left")  # u[j-1] < x <= u[j]
        jj = np.minimum(j, len(u) - 1)
        on_point = (j < len(u)) & (u[jj] == x) & self.point[jj]
        return 2 * j + on_point

    def probabilities(self) -> np.ndarray:
        """The baseline's mass per cell."""
        p = np.zeros(self.cells)
        p[1::2] = self.base_hi - self.base_lo
        prev = np.concatenate([[0.0], self.base_hi[:-1]])
        p[0 : 2 * len(self.knots) : 2] = self.base_lo - prev
        return np.clip(p, 0.0, None)

    def summary(
        self, counts: np.ndarray, below: float, above: float, total: float, sq: float
    ) -> NumericSummary:
        """A window's counts as a NumericSummary on the baseline's boundaries (for
        ``stat_tests.run_tests``; the stream itself scores with ``streaming.scores``).
        Beyond the baseline's range the CDF is linear to an end placed so that
        its integral is the values' summed distance (``below`` / ``above``)."""
        n = float(counts.sum())
        cum = np.cumsum(counts) / n
        lo, hi = cum[0 : 2 * len(self.knots) : 2], cum[1::2]
        levels = np.concatenate([[0.0], np.column_stack([lo, hi]).ravel(), [1.0]])
        first, last = self.knots[0], self.knots[-1]
        low = first - 2 * below / counts[0] if counts[0] else first
        high = last + 2 * above / counts[-1] if counts[-1] else last
        values = np.concatenate([[low], np.repeat(self.knots, 2), [high]])
        mean = total / n
        std = float(np.sqrt(max(sq / n - mean**2, 0.0)))
        return NumericSummary(n, mean, std, values, levels)


@dataclass(frozen=True)
class CategoricalGrid:
    name: str
    base: CategoricalSummary
    values: Tuple[str, ...]  # the baseline's values (sorted)
    missing_rate: float
    rows: float


@dataclass(frozen=True)
class Baseline:
    """The grids of every feature of a region, from one statistics proto."""

    span: Optional[int]
    numeric: Tuple[NumericGrid, ...]
    categorical: Tuple[CategoricalGrid, ...]
    fingerprint: str

    @property
    def features(self) -> List[str]:
        return [g.name for g in self.numeric] + [g.name for g in self.categorical]


def _missing(fs) -> Tuple[float, float]:
    """(missing rate, rows) over the datasets' statistics of one feature. A
    CSV's empty cell becomes an empty value list in its tf.Example, which TFDV
    counts as present (``num_non_missing``) without a value: a row is
    missing its value when it lacks the feature or has none."""
    present = missing = 0.0
    for f in fs:
        common = f.num_stats.common_stats if f.HasField("num_stats") else f.string_stats.common_stats
        values = min(float(common.tot_num_values), float(common.num_non_missing))
        present += values
        missing += common.num_missing + common.num_non_missing - values
    rows = present + missing
    return (missing / rows if rows else 0.0), rows


def numeric_grid(
    name: str,
    base: NumericSummary,
    missing_rate: float,
    rows: float,
    parts: Optional[List[NumericSummary]] = None,
) -> NumericGrid:
    """The cells of a feature. ``parts``: the sketches ``base`` mixes (a span's
    train and eval splits): the grid then takes the exact mixture on the union
    of their boundaries (both CDFs are linear between them), not the mixture
    re-sketched at 100 quantiles, whose rank error (about 1% on flights'
    discrete weather) would read as drift in windows of thousands of records."""
    parts = [p for p in (parts or []) if p is not None and p.count > 0]
    if len(parts) > 1:
        total = sum(p.count for p in parts)
        knots = np.unique(np.concatenate([p.values for p in parts]))

        def cdf(x, left=False):
            return sum(p.count * p.cdf(x, left=left) for p in parts) / total

    else:
        knots = np.unique(base.values)
        cdf = base.cdf
    lo = cdf(knots, left=True)
    hi = cdf(knots)
    edges = np.unique(base.quantile(np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    bins = np.clip(np.diff(np.concatenate([[0.0], cdf(edges), [1.0]])), 0.0, None)
    at = np.clip(np.searchsorted(knots, edges, side="right") - 1, 0, len(knots) - 1)
    nxt = np.minimum(at + 1, len(knots) - 1)
    width = np.where(knots[nxt] > knots[at], knots[nxt] - knots[at], 1.0)
    w = np.where(knots[at] == edges, 0.0, (edges - knots[at]) / width)
    return NumericGrid(name, base, knots, hi - lo > 1e-12, lo, hi, edges, missing_rate, rows, bins, at, w)


def from_statistics(stats_list, numeric: List[str], categorical: List[str], span: Optional[int]) -> Baseline:
    """The baseline of a DatasetFeatureStatisticsList (train and eval datasets
    of the serving model's training span, mixed as the batch gate mixes them)."""
    maps = [feature_map(d) for d in stats_list.datasets]
    nums, cats = [], []
    for name in numeric:
        fs = [m[name] for m in maps if name in m]
        parts = [numeric_summary(f) for f in fs]
        base = mix_numeric(parts)
        if base is not None:
            nums.append(numeric_grid(name, base, *_missing(fs), parts=parts))
    for name in categorical:
        fs = [m[name] for m in maps if name in m]
        base = mix_categorical(categorical_summary(f) for f in fs)
        if base is not None:
            cats.append(CategoricalGrid(name, base, tuple(sorted(base.counts)), *_missing(fs)))
    digest = hashlib.sha256(stats_list.SerializeToString(deterministic=True)).hexdigest()[:16]
    return Baseline(span, tuple(nums), tuple(cats), digest)


def categorical_vectors(grid: CategoricalGrid, counts: Dict[str, float]) -> Tuple[np.ndarray, np.ndarray]:
    """Baseline and window counts aligned on the union of their values."""
    keys = sorted(set(grid.base.counts) | set(counts))
    return (
        np.array([grid.base.counts.get(k, 0.0) for k in keys]),
        np.array([float(counts.get(k, 0.0)) for k in keys]),
    )


def prediction_grid(name: str, histogram: List[int]) -> Optional[NumericGrid]:
    """A grid for served predictions from the serving model's recorded
    histogram of its predictions on its training span (equal-width bins over
    [0, 1], ``components.quality.serving.histogram``)."""
    counts = np.asarray(histogram, dtype=float)
    if counts.sum() <= 0:
        return None
    edges = np.linspace(0.0, 1.0, len(counts) + 1)
    levels = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
    mids = (edges[:-1] + edges[1:]) / 2
    mean = float(np.sum(mids * counts) / counts.sum())
    std = float(np.sqrt(np.sum(counts * (mids - mean) ** 2) / counts.sum()))
    summary = NumericSummary(float(counts.sum()), mean, std, edges, levels)
    return numeric_grid(name, summary, 0.0, float(counts.sum()))


def with_predictions(baseline: Baseline, grid: Optional[NumericGrid]) -> Baseline:
    if grid is None:
        return baseline
    return Baseline(
        baseline.span, baseline.numeric + (grid,), baseline.categorical, baseline.fingerprint + "-p"
    )
