"""Two-sample drift tests computed from summaries (see ``summaries.py``).

Numeric: KS distance with its asymptotic p-value, Wasserstein-1 normalised by
the baseline's standard deviation, PSI and Jensen-Shannon distance on bins cut
at the baseline's quantiles. Categorical: chi-square (bias-corrected Cramér's V
as effect size, and its p-value), PSI, Jensen-Shannon distance and L-infinity on the
category frequencies. Each returns a :class:`Score`. No TFX here.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from components.drift.summaries import CategoricalSummary, NumericSummary
from driftgate.core.vocabulary import CATEGORICAL, NUMERIC, tests_for

NUMERIC_TESTS = tests_for(NUMERIC)
CATEGORICAL_TESTS = tests_for(CATEGORICAL)
PSI_BINS = 10
EPS = 1e-4  # floor on bin fractions for PSI (an empty bin would be infinite)


@dataclass(frozen=True)
class Score:
    """One test's result: ``value`` is the effect size that thresholds apply to;
    ``p_value`` where the test has one."""

    test: str
    value: float
    p_value: Optional[float] = None


def _knots(a: NumericSummary, b: NumericSummary) -> np.ndarray:
    return np.unique(np.concatenate([a.values, b.values]))


KS_EXACT_N = 10_000  # effective sizes above: Kolmogorov's limit distribution for the p-value


def ks(base: NumericSummary, cur: NumericSummary) -> Score:
    """Largest CDF gap; the CDFs are piecewise linear, so the supremum is at a
    knot of either sketch (checked on both sides of point masses). The p-value
    is Smirnov's asymptotic one, as scipy's ``ks_2samp(method="asymp")``; past
    an effective size of 10,000 its limit, Kolmogorov's distribution (scipy's
    ``kstwo`` takes ~0.5 s a call at a million rows, and differs from the
    limit by O(1/sqrt(n)) there)."""
    x = _knots(base, cur)
    d = max(
        float(np.max(np.abs(base.cdf(x) - cur.cdf(x)))),
        float(np.max(np.abs(base.cdf(x, left=True) - cur.cdf(x, left=True)))),
    )
    m, n = sorted([base.count, cur.count], reverse=True)
    en = m * n / (m + n)
    if en < 1:
        p = None
    elif en <= KS_EXACT_N:
        p = float(np.clip(sps.kstwo.sf(d, np.round(en)), 0.0, 1.0))
    else:
        p = float(np.clip(sps.kstwobign.sf(d * np.sqrt(en)), 0.0, 1.0))
    return Score("ks", d, p)


def wasserstein(base: NumericSummary, cur: NumericSummary, grid: int = 1000) -> Score:
    """W1 = integral over p of |Q_base(p) - Q_cur(p)|, divided by the baseline std."""
    p = (np.arange(grid) + 0.5) / grid
    w = float(np.mean(np.abs(base.quantile(p) - cur.quantile(p))))
    scale = base.std if base.std > 1e-12 else 1.0
    return Score("wasserstein", w / scale)


def _bin_fractions(base: NumericSummary, cur: NumericSummary, bins: int = PSI_BINS):
    """Fractions of both samples in bins cut at the baseline's quantiles."""
    edges = np.unique(base.quantile(np.linspace(0, 1, bins + 1)[1:-1]))
    cuts_b = np.concatenate([[0.0], base.cdf(edges), [1.0]])
    cuts_c = np.concatenate([[0.0], cur.cdf(edges), [1.0]])
    # clip: rounding can leave -1e-16 in a bin past the maximum
    return np.clip(np.diff(cuts_b), 0.0, None), np.clip(np.diff(cuts_c), 0.0, None)


def psi_of(b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """PSI of two count (or fraction) vectors along the last axis; leading axes
    are independent pairs (``components.drift.noise`` scores many draws at once)."""
    b = np.maximum(b / b.sum(axis=-1, keepdims=True), EPS)
    c = np.maximum(c / c.sum(axis=-1, keepdims=True), EPS)
    return np.sum((c - b) * np.log(c / b), axis=-1)


def js_of(b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance (base 2) along the last axis; 0 where a side is empty."""
    sb, sc = b.sum(axis=-1), c.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = jensenshannon(b, c, axis=-1, base=2)
    return np.where((sb > 0) & (sc > 0), d, 0.0)


def linf_of(b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Largest change in any category's frequency, along the last axis."""
    return np.max(np.abs(b / b.sum(axis=-1, keepdims=True) - c / c.sum(axis=-1, keepdims=True)), axis=-1)


def w1_of(values: np.ndarray, la: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """Integral of |F_a - F_b| dx (= Wasserstein-1) for CDFs linear between
    the shared boundaries: exact per bucket, also where the gap changes sign."""
    d = la - lb
    d0, d1 = d[..., :-1], d[..., 1:]
    a0, a1 = np.abs(d0), np.abs(d1)
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = (d0**2 + d1**2) / (2 * (a0 + a1))
    seg = np.where(d0 * d1 >= 0, (a0 + a1) / 2, np.nan_to_num(crossing))
    return np.sum(seg * np.diff(values), axis=-1)


def _psi(b: np.ndarray, c: np.ndarray) -> float:
    return float(psi_of(b, c))


def _js(b: np.ndarray, c: np.ndarray) -> float:
    return float(js_of(b, c))


def psi_numeric(base: NumericSummary, cur: NumericSummary) -> Score:
    return Score("psi", _psi(*_bin_fractions(base, cur)))


def js_numeric(base: NumericSummary, cur: NumericSummary) -> Score:
    return Score("js", _js(*_bin_fractions(base, cur)))


def _aligned(base: CategoricalSummary, cur: CategoricalSummary):
    keys = sorted(set(base.counts) | set(cur.counts))
    return keys, (
        np.array([base.counts.get(k, 0.0) for k in keys]),
        np.array([cur.counts.get(k, 0.0) for k in keys]),
    )


def pooled(b: np.ndarray, c: np.ndarray, keep: np.ndarray):
    """Both count vectors (last axis) with the categories outside ``keep`` summed
    into one pooled column (when there are any)."""
    if keep.all():
        return b, c
    pool = ~keep
    return (
        np.concatenate([b[..., keep], b[..., pool].sum(axis=-1, keepdims=True)], axis=-1),
        np.concatenate([c[..., keep], c[..., pool].sum(axis=-1, keepdims=True)], axis=-1),
    )


def chi2_of(b: np.ndarray, c: np.ndarray):
    """Pearson's statistic of the 2 x K table of two count vectors (last axis),
    the number of non-empty categories and the table's total."""
    total = b + c
    n_b, n_c = b.sum(axis=-1, keepdims=True), c.sum(axis=-1, keepdims=True)
    n = n_b + n_c
    present = total > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        e_b, e_c = n_b * total / n, n_c * total / n
        cells = np.where(present, (b - e_b) ** 2 / e_b + (c - e_c) ** 2 / e_c, 0.0)
    return cells.sum(axis=-1), present.sum(axis=-1), n[..., 0]


def chi2(base: CategoricalSummary, cur: CategoricalSummary, min_expected: float = 5.0) -> Score:
    """Chi-square test of homogeneity on the 2 x K count table (categories with
    an expected count under ``min_expected`` pooled); effect size Cramér's V."""
    _, (b, c) = _aligned(base, cur)
    n_b, n_c = b.sum(), c.sum()
    keep = np.minimum(n_b, n_c) * (b + c) / (n_b + n_c) >= min_expected
    stat, k, n = chi2_of(*pooled(b, c, keep))
    if k < 2:
        return Score("chi2", 0.0, 1.0)
    p = float(sps.chi2.sf(stat, k - 1))
    return Score("chi2", float(cramers_v_of(stat, n, k)), p)


def cramers_v_of(stat, n, k):
    """Bias-corrected Cramér's V of a 2 x k table (Bergsma 2013), elementwise.

    Plain V = sqrt(chi2 / n) is about sqrt((k-1)/n) even with no drift at all,
    which for a 100-value category (destinations) on 10k rows is near a 0.1
    threshold; the correction subtracts that expectation.
    """
    stat, n, k = np.asarray(stat, float), np.asarray(n, float), np.asarray(k, float)
    phi2 = np.maximum(0.0, stat / n - (k - 1) / (n - 1))
    k_c = k - (k - 1) ** 2 / (n - 1)
    r_c = 2 - 1 / (n - 1)
    denom = np.minimum(k_c - 1, r_c - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, np.sqrt(phi2 / np.where(denom > 0, denom, 1.0)), 0.0)


def cramers_v_corrected(stat: float, n: float, k: int) -> float:
    """Scalar :func:`cramers_v_of`."""
    return float(cramers_v_of(stat, n, k))


def psi_categorical(base: CategoricalSummary, cur: CategoricalSummary) -> Score:
    _, (b, c) = _aligned(base, cur)
    return Score("psi", _psi(b, c))


def js_categorical(base: CategoricalSummary, cur: CategoricalSummary) -> Score:
    _, (b, c) = _aligned(base, cur)
    return Score("js", _js(b, c))


def linf(base: CategoricalSummary, cur: CategoricalSummary) -> Score:
    """Largest change in any category's frequency (TFDV's L-infinity distance)."""
    _, (b, c) = _aligned(base, cur)
    return Score("linf", float(linf_of(b, c)))


def run_tests(base, cur, tests: Optional[List[str]] = None) -> Dict[str, Score]:
    """All applicable tests for one feature (numeric or categorical by summary type)."""
    if isinstance(base, NumericSummary) and isinstance(cur, NumericSummary):
        fns = {"ks": ks, "wasserstein": wasserstein, "psi": psi_numeric, "js": js_numeric}
    elif isinstance(base, CategoricalSummary) and isinstance(cur, CategoricalSummary):
        fns = {"chi2": chi2, "psi": psi_categorical, "js": js_categorical, "linf": linf}
    else:
        raise TypeError(f"cannot compare {type(base).__name__} with {type(cur).__name__}")
    return {name: fn(base, cur) for name, fn in fns.items() if tests is None or name in tests}
