"""Window thresholds from the baseline statistics alone, to an expected run
time between false alarms (pure numpy).

Budget: noise alone may raise at most one event per ``ert_days`` in the whole
region. Every pane boundary evaluates ``channels`` = windows x features x
(tests + missing) scores, so each score may pass its threshold by chance
with probability ``alpha = pane_s / (ert_days * 86400 * channels)`` (about
2e-8 for a 15-feature region at 10 s panes and 30 days). By the union bound
the expected number of false events over ``ert_days`` is then at most one,
however much the overlapping windows correlate (alibi-detect conditions on
earlier windows to spend the budget more tightly; this is the conservative
version, and the false-alarm benchmark measures how conservative).

Threshold of one (feature, test) at window size n: a parametric bootstrap
(``components.drift.noise``: the baseline's own sketch or value counts, a
sample of the baseline's size against one of size n, scored with the batch
formulas) gives the score's null distribution; its tail beyond the 90th
percentile is fitted by an exponential (peaks over threshold) on a scale
where the tail is close to exponential (the score itself for PSI and
Wasserstein, whose tail is heavy for skewed features; the square for KS, JS,
chi2 and L-infinity: KS's tail is 2 exp(-2 n d^2)), and read at ``alpha``. For
the tail of a chi-square-like statistic the exponential fit overstates the
threshold, i.e. errs towards fewer alarms. The missing rate uses Bernstein's
bound on a binomial proportion plus the baseline's own sampling error.
Thresholds are tabled on a doubling grid of n and interpolated in log n;
the table is cached per baseline fingerprint. The baseline's side counts at
most ``SKETCH_ROWS`` rows for numeric features (its sketch's own error;
categorical counts are exact).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np
from scipy.stats import norm

from components.drift import noise
from driftgate.core.vocabulary import CATEGORICAL, NUMERIC, tests_for
from streaming.baseline import Baseline
from streaming.scores import MISSING

DRAWS = 400
TAIL = 0.10  # the fraction of draws the exponential tail is fitted to
SQUARED = {"ks", "js", "chi2", "linf"}  # tails exponential in score**2
# Wasserstein stays on its own scale: a skewed feature (precipitation: zeros, a
# long tail) gives it a heavy tail that a fit in score**2 understates
MAX_N = 1 << 22
# The baseline's side of the bootstrap is at most this many rows: TFDV's
# 100-bucket quantile sketch is itself off its rows by up to ~1.5% in rank
# (flights: KS 0.015 between a span's exact values and its own statistics),
# systematic for every window. The KS noise of a 2,000-row sample (99th
# percentile 1.63 / sqrt(2000) = 0.036) covers it; a larger baseline adds
# precision its sketch does not have.
SKETCH_ROWS = 2000
VERSION = 3  # bump when the method changes: cached tables are recomputed


def channels(baseline: Baseline, windows: int) -> int:
    per = len(baseline.numeric) * (len(tests_for(NUMERIC)) + 1)
    per += len(baseline.categorical) * (len(tests_for(CATEGORICAL)) + 1)
    return max(1, per * windows)


def alpha(baseline: Baseline, cfg) -> float:
    """The per-score false-alarm probability (``cfg``: StreamConfig)."""
    return cfg.pane_s / (cfg.ert_days * 86400.0) / channels(baseline, len(cfg.windows_s))


def tail_threshold(scores: np.ndarray, a: float, squared: bool) -> float:
    """The score exceeded with probability ``a``, from draws of its null
    distribution (exponential tail beyond their 90th percentile)."""
    t = np.asarray(scores, dtype=float) ** (2 if squared else 1)
    u = float(np.quantile(t, 1 - TAIL))
    over = t[t > u]
    q = len(over) / len(t)
    if a >= q or len(over) == 0:
        value = float(np.quantile(t, 1 - a)) if a < 1 else 0.0
    else:
        value = u + float(np.mean(over - u)) * math.log(q / a)
    return math.sqrt(value) if squared else value


def missing_threshold(rate: float, rows: float, n: float, a: float) -> float:
    """Change of the missing rate exceeded with probability ``a`` (two-sided
    Bernstein bound for the window, plus the baseline's normal error)."""
    p = min(max(rate, 1.0 / max(rows, 1.0)), 0.5)
    var = p * (1 - p)
    log = math.log(2.0 / a)
    window = (log / 3 + math.sqrt(log**2 / 9 + 2 * n * var * log)) / n
    return window + float(norm.isf(a / 2)) * math.sqrt(var / max(rows, 1.0))


def sizes(min_records: int, rows: float) -> np.ndarray:
    """The window sizes tabled: doubling from ``min_records`` until the window
    outweighs the baseline 64 times (the threshold no longer moves)."""
    out, n = [], float(min_records)
    while True:
        out.append(n)
        if n >= 64 * rows or n >= MAX_N:
            return np.array(out)
        n *= 2


@dataclass(frozen=True)
class Thresholds:
    alpha: float
    table: Dict[Tuple[str, str], Tuple[np.ndarray, np.ndarray]]  # (feature, test) -> (sizes, thresholds)
    fingerprint: str
    _logs: dict = field(default_factory=dict, compare=False, repr=False)

    def at(self, feature: str, test: str, n: float) -> float:
        logs = self._logs.get((feature, test))
        if logs is None:
            ns, ts = self.table[(feature, test)]
            logs = self._logs[(feature, test)] = (np.log(ns), np.log(np.maximum(ts, 1e-12)))
        return math.exp(float(np.interp(math.log(max(n, 1.0)), *logs)))

    def to_json(self) -> dict:
        return {
            "version": VERSION,
            "alpha": self.alpha,
            "fingerprint": self.fingerprint,
            "table": [[f, t, ns.tolist(), ts.tolist()] for (f, t), (ns, ts) in sorted(self.table.items())],
        }

    @classmethod
    def from_json(cls, d: dict) -> "Thresholds":
        table = {(f, t): (np.array(ns), np.array(ts)) for f, t, ns, ts in d["table"]}
        return cls(float(d["alpha"]), table, d["fingerprint"])


def key(baseline: Baseline, cfg) -> str:
    """What a cached table depends on."""
    return f"v{VERSION}-{baseline.fingerprint}-{alpha(baseline, cfg):.3e}-{cfg.min_window_records}-{DRAWS}"


def calibrate(baseline: Baseline, cfg, draws: int = DRAWS) -> Thresholds:
    """Every (feature, test)'s thresholds (``cfg``: StreamConfig)."""
    a = alpha(baseline, cfg)
    table: Dict[Tuple[str, str], Tuple[np.ndarray, np.ndarray]] = {}
    grids: List = list(baseline.numeric) + list(baseline.categorical)
    for g in grids:
        present = min(g.base.count, SKETCH_ROWS) if g in baseline.numeric else g.base.count
        ns = sizes(cfg.min_window_records, present)
        rows: Dict[str, List[float]] = {}
        for n in ns:
            rng = np.random.default_rng(noise._seed(g.name, int(present), int(n)))
            fn = noise.numeric if g in baseline.numeric else noise.categorical
            for test, s in fn(g.base, int(present), int(n), draws, rng).items():
                rows.setdefault(test, []).append(tail_threshold(s, a, test in SQUARED))
            rows.setdefault(MISSING, []).append(missing_threshold(g.missing_rate, g.rows, n, a))
        for test, ts in rows.items():
            table[(g.name, test)] = (ns, np.array(ts))
    return Thresholds(a, table, key(baseline, cfg))
