"""The batch gate's drift tests on stream windows, many windows at once (pure numpy).

A window is its counts in the baseline's cells (``streaming.baseline``);
leading axes of ``counts`` are independent windows (the live stream scores
one, the calibration and the false-alarm benchmark thousands). Each function
gives what ``components.drift.stat_tests.run_tests`` gives for the baseline
summary and the window's summary (``NumericGrid.summary``), with the same
formulas (``psi_of``, ``js_of``, ``w1_of``, ``chi2_of``, ``cramers_v_of``);
``tests/streaming/test_scores.py`` checks them against ``run_tests``.
Wasserstein integrates |F_base - F_window| exactly (beyond the baseline's
range too, from the values' summed distances) where ``run_tests`` sums a
1,000-point quantile grid (they agree to about 1e-3).

``missing`` is the stream's own test: the change in a feature's missing rate
(a null-rate jump), which the batch gate leaves to TFDV's schema checks.
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from components.drift.stat_tests import chi2_of, cramers_v_of, js_of, linf_of, psi_of, w1_of
from streaming.baseline import NumericGrid

MIN_EXPECTED = 5.0  # stat_tests.chi2's pooling of rare categories
MISSING = "missing"


def numeric(
    grid: NumericGrid, counts: np.ndarray, below=None, above=None, sums=None
) -> Dict[str, np.ndarray]:
    """ks, wasserstein, psi, js of windows (``counts[..., cells]``); ``below`` /
    ``above``: each window's summed distance of its values beyond the
    baseline's smallest / largest boundary (Wasserstein's tails: the integral
    of F_window below the range is the mean distance below it); ``sums``:
    the values summed per cell, which place each cell's mass inside it (a
    baseline bucket can be wide: precipitation's few boundaries), so that
    Wasserstein is exact wherever the two CDFs do not cross inside a bucket."""
    counts = np.asarray(counts, dtype=float)
    n = counts.sum(axis=-1, keepdims=True)
    cum = np.cumsum(counts, axis=-1) / np.maximum(n, 1.0)
    u = len(grid.knots)
    lo, hi = cum[..., 0 : 2 * u : 2], cum[..., 1::2]
    ks = np.maximum(np.max(np.abs(grid.base_hi - hi), axis=-1), np.max(np.abs(grid.base_lo - lo), axis=-1))
    values = np.repeat(grid.knots, 2)
    levels = np.stack([lo, hi], axis=-1).reshape(lo.shape[:-1] + (2 * u,))
    base_levels = np.column_stack([grid.base_lo, grid.base_hi]).ravel()
    w1 = w1_of(values, base_levels, levels)
    if sums is not None and u > 1:
        w1 = _w1_inside(grid, n[..., 0], lo, hi, np.asarray(counts, float), np.asarray(sums, float))
    if below is not None:
        w1 = w1 + np.asarray(below, float) / np.maximum(n[..., 0], 1.0)
    if above is not None:
        w1 = w1 + np.asarray(above, float) / np.maximum(n[..., 0], 1.0)
    scale = grid.base.std if grid.base.std > 1e-12 else 1.0
    # the window's CDF at the bin edges: on a knot its F(u), else linear from
    # F(u) of the knot below to F(u'-) of the knot above (as sketch_cdf)
    j, w = grid.edge_at, grid.edge_w
    nxt = np.minimum(j + 1, u - 1)
    at_edges = hi[..., j] + (lo[..., nxt] - hi[..., j]) * w
    shape = lo.shape[:-1]
    zeros, ones = np.zeros(shape + (1,)), np.ones(shape + (1,))
    cur = np.clip(np.diff(np.concatenate([zeros, at_edges, ones], axis=-1), axis=-1), 0.0, None)
    base = grid.base_bins
    return {"ks": ks, "wasserstein": w1 / scale, "psi": psi_of(base, cur), "js": js_of(base, cur)}


def _w1_inside(grid: NumericGrid, n, lo, hi, counts, sums):
    """Integral of |F_base - F_window| between the baseline's boundaries, the
    window's mass placed inside each bucket by its values' mean: per bucket
    (a, b], the integral of F_window is ``(b - a) F(a) + m b - S`` (mass m,
    values' sum S, per record); where the CDFs' gap changes sign inside a
    bucket the linear crossing formula of ``w1_of`` stands."""
    u = grid.knots
    width = np.diff(u)
    n = np.maximum(n, 1.0)[..., None]
    m = counts[..., 2 : 2 * len(u) : 2] / n  # the open buckets (a, b], below each knot but the first
    s = sums[..., 2 : 2 * len(u) : 2] / n
    int_b = width * (grid.base_hi[:-1] + grid.base_lo[1:]) / 2
    int_c = width * hi[..., :-1] + m * u[1:] - s
    d0, d1 = grid.base_hi[:-1] - hi[..., :-1], grid.base_lo[1:] - lo[..., 1:]
    a0, a1 = np.abs(d0), np.abs(d1)
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = np.nan_to_num((d0**2 + d1**2) / (2 * (a0 + a1))) * width
    seg = np.where(d0 * d1 >= 0, np.abs(int_b - int_c), crossing)
    return seg.sum(axis=-1)


def categorical(base: np.ndarray, counts: np.ndarray) -> Dict[str, np.ndarray]:
    """chi2 (bias-corrected Cramér's V), psi, js, linf of windows
    (``counts[..., values]``) against the baseline's counts ``base[values]``,
    aligned on the same values. Categories expected fewer than 5 times are
    pooled per window, as ``stat_tests.chi2`` pools them."""
    counts = np.asarray(counts, dtype=float)
    b = np.broadcast_to(np.asarray(base, dtype=float), counts.shape)
    n_b, n_c = b.sum(axis=-1, keepdims=True), counts.sum(axis=-1, keepdims=True)
    keep = np.minimum(n_b, n_c) * (b + counts) / (n_b + n_c) >= MIN_EXPECTED
    pool_b = np.where(keep, 0.0, b).sum(axis=-1, keepdims=True)
    pool_c = np.where(keep, 0.0, counts).sum(axis=-1, keepdims=True)
    tb = np.concatenate([np.where(keep, b, 0.0), pool_b], axis=-1)
    tc = np.concatenate([np.where(keep, counts, 0.0), pool_c], axis=-1)
    stat, k, total = chi2_of(tb, tc)
    v = np.where(k >= 2, cramers_v_of(stat, total, np.maximum(k, 2)), 0.0)
    return {"chi2": v, "psi": psi_of(b, counts), "js": js_of(b, counts), "linf": linf_of(b, counts)}


def missing(base_rate: float, missing_count: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Absolute change of the missing rate."""
    missing_count, present = np.asarray(missing_count, float), np.asarray(present, float)
    rows = missing_count + present
    return np.where(rows > 0, np.abs(missing_count / np.maximum(rows, 1.0) - base_rate), 0.0)
