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


def ks(base: NumericSummary, cur: NumericSummary) -> Score:
    """Largest CDF gap; the CDFs are piecewise linear, so the supremum is at a
    knot of either sketch (checked on both sides of point masses). The p-value
    is Smirnov's asymptotic one, as scipy's ``ks_2samp(method="asymp")``."""
    x = _knots(base, cur)
    d = max(
        float(np.max(np.abs(base.cdf(x) - cur.cdf(x)))),
        float(np.max(np.abs(base.cdf(x, left=True) - cur.cdf(x, left=True)))),
    )
    m, n = sorted([base.count, cur.count], reverse=True)
    en = m * n / (m + n)
    p = float(np.clip(sps.kstwo.sf(d, np.round(en)), 0.0, 1.0)) if en >= 1 else None
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


def _psi(b: np.ndarray, c: np.ndarray) -> float:
    b = np.maximum(b / b.sum(), EPS)
    c = np.maximum(c / c.sum(), EPS)
    return float(np.sum((c - b) * np.log(c / b)))


def _js(b: np.ndarray, c: np.ndarray) -> float:
    if b.sum() <= 0 or c.sum() <= 0:
        return 0.0
    return float(jensenshannon(b / b.sum(), c / c.sum(), base=2))


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


def chi2(base: CategoricalSummary, cur: CategoricalSummary, min_expected: float = 5.0) -> Score:
    """Chi-square test of homogeneity on the 2 x K count table (categories with
    an expected count under ``min_expected`` pooled); effect size Cramér's V."""
    _, (b, c) = _aligned(base, cur)
    n_b, n_c = b.sum(), c.sum()
    total = n_b + n_c
    expected_min = np.minimum(n_b, n_c) * (b + c) / total
    keep = expected_min >= min_expected
    table = np.vstack([b[keep], c[keep]])
    if (~keep).any():
        table = np.hstack([table, np.array([[b[~keep].sum()], [c[~keep].sum()]])])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return Score("chi2", 0.0, 1.0)
    stat, p, _, _ = sps.chi2_contingency(table, correction=False)
    return Score("chi2", cramers_v_corrected(stat, table.sum(), table.shape[1]), float(p))


def cramers_v_corrected(stat: float, n: float, k: int) -> float:
    """Bias-corrected Cramér's V of a 2 x k table (Bergsma 2013).

    Plain V = sqrt(chi2 / n) is about sqrt((k-1)/n) even with no drift at all,
    which for a 100-value category (destinations) on 10k rows is near a 0.1
    threshold; the correction subtracts that expectation.
    """
    phi2 = max(0.0, stat / n - (k - 1) / (n - 1))
    k_c = k - (k - 1) ** 2 / (n - 1)
    r_c = 2 - 1 / (n - 1)
    denom = min(k_c - 1, r_c - 1)
    return float(np.sqrt(phi2 / denom)) if denom > 0 else 0.0


def psi_categorical(base: CategoricalSummary, cur: CategoricalSummary) -> Score:
    _, (b, c) = _aligned(base, cur)
    return Score("psi", _psi(b, c))


def js_categorical(base: CategoricalSummary, cur: CategoricalSummary) -> Score:
    _, (b, c) = _aligned(base, cur)
    return Score("js", _js(b, c))


def linf(base: CategoricalSummary, cur: CategoricalSummary) -> Score:
    """Largest change in any category's frequency (TFDV's L-infinity distance)."""
    _, (b, c) = _aligned(base, cur)
    return Score("linf", float(np.max(np.abs(b / b.sum() - c / c.sum()))))


def run_tests(base, cur, tests: Optional[List[str]] = None) -> Dict[str, Score]:
    """All applicable tests for one feature (numeric or categorical by summary type)."""
    if isinstance(base, NumericSummary) and isinstance(cur, NumericSummary):
        fns = {"ks": ks, "wasserstein": wasserstein, "psi": psi_numeric, "js": js_numeric}
    elif isinstance(base, CategoricalSummary) and isinstance(cur, CategoricalSummary):
        fns = {"chi2": chi2, "psi": psi_categorical, "js": js_categorical, "linf": linf}
    else:
        raise TypeError(f"cannot compare {type(base).__name__} with {type(cur).__name__}")
    return {name: fn(base, cur) for name, fn in fns.items() if tests is None or name in tests}
