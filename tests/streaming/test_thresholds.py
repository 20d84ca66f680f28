"""Window thresholds from the baseline alone: the budget is one false event
per ert_days for the region; the tail fit agrees with a direct quantile where
one can be measured, and with Kolmogorov's distribution for KS; the missing
rate's bound holds."""

import math

import numpy as np
import pandas as pd
import pytest

from components.drift import noise
from driftgate.core.config import load_region_config
from streaming import thresholds
from streaming.baseline import from_statistics


@pytest.fixture(scope="module")
def base(stats_of):
    rng = np.random.default_rng(0)
    n = 8000
    frame = pd.DataFrame(
        {
            "temp": rng.normal(40, 10, n),
            "carrier": rng.choice(list("ABCDEFGHIJ"), n, p=np.r_[[0.3], [0.7 / 9] * 9]),
        }
    )
    return from_statistics(stats_of(frame), ["temp"], ["carrier"], span=1)


def test_the_budget_is_one_false_event_per_ert_days(base):
    cfg = load_region_config("EWR").stream
    a = thresholds.alpha(base, cfg)
    evaluations = cfg.ert_days * 86400 / cfg.pane_s
    assert a * thresholds.channels(base, len(cfg.windows_s)) * evaluations == pytest.approx(1.0)
    assert thresholds.channels(base, 3) == 3 * (5 + 5)


def test_ks_threshold_is_at_most_kolmogorovs_and_near_it(base):
    """KS between sketches is measured at the sketch boundaries, never above
    the continuous KS, so its threshold may lie below Kolmogorov's (most at
    small windows, where a bucket holds few records)."""
    cfg = load_region_config("EWR").stream
    th = thresholds.calibrate(base, cfg)
    big = min(base.numeric[0].base.count, thresholds.SKETCH_ROWS)
    for n in (400, 3000, 50_000):
        kolmogorov = math.sqrt(math.log(2 / th.alpha) / 2 * (1 / n + 1 / big))
        assert 0.8 * kolmogorov <= th.at("temp", "ks", n) <= 1.1 * kolmogorov, n


@pytest.mark.parametrize("test", ["psi", "js", "wasserstein", "ks"])
def test_the_tail_fit_matches_a_direct_quantile(base, test):
    g = base.numeric[0]
    draws = noise.numeric(g.base, int(g.base.count), 1500, 20_000, np.random.default_rng(1))[test]
    direct = float(np.quantile(draws, 1 - 1e-3))
    fitted = thresholds.tail_threshold(draws[:400], 1e-3, test in thresholds.SQUARED)
    assert fitted == pytest.approx(direct, rel=0.15)


def test_the_missing_rate_bound_holds():
    rng = np.random.default_rng(2)
    rate, rows, n, a = 0.05, 10_000, 1000, 1e-3
    thr = thresholds.missing_threshold(rate, rows, n, a)
    base_rate = rng.binomial(rows, rate, size=200_000) / rows
    window = rng.binomial(n, rate, size=200_000) / n
    assert np.mean(np.abs(window - base_rate) > thr) <= a


def test_thresholds_fall_with_the_window_size(base):
    th = thresholds.calibrate(base, load_region_config("EWR").stream)
    for test in ("ks", "psi", "js", "linf"):
        feature = "temp" if test != "linf" else "carrier"
        assert th.at(feature, test, 200) > th.at(feature, test, 5000) > th.at(feature, test, 100_000)
