"""Each drift test from TFDV statistics agrees with scipy on the raw samples.

Tolerances come from the sketch: with B = 100 quantile buckets each CDF is
known to about 1/B, so distances built on CDFs (KS) agree within 2/B; W1 is an
integral of quantile gaps and agrees within a few percent; chi-square on exact
value counts agrees to float precision.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from components.drift import stat_tests as T

B = 100
KS_TOL = 2.0 / B


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(20131)


@pytest.mark.parametrize(
    "make_a, make_b",
    [
        (lambda r: r.normal(0, 1, 20000), lambda r: r.normal(0.3, 1.2, 15000)),  # location + scale shift
        (lambda r: r.normal(0, 1, 20000), lambda r: r.normal(0, 1, 20000)),  # same distribution
        (lambda r: r.lognormal(0, 1, 12000), lambda r: r.lognormal(0.2, 1, 9000)),  # heavy tail
        (  # point mass at zero, like precipitation
            lambda r: np.where(r.random(20000) < 0.9, 0.0, r.exponential(0.1, 20000)),
            lambda r: np.where(r.random(20000) < 0.8, 0.0, r.exponential(0.1, 20000)),
        ),
    ],
    ids=["shift", "same", "lognormal", "point-mass"],
)
def test_numeric_tests_match_scipy_on_raw_samples(rng, summary_of, make_a, make_b):
    a, b = make_a(rng), make_b(rng)
    sa, sb = summary_of(pd.DataFrame({"x": a}))["x"], summary_of(pd.DataFrame({"x": b}))["x"]
    ks = T.ks(sa, sb)
    ref = sps.ks_2samp(a, b, method="asymp")
    assert abs(ks.value - ref.statistic) <= KS_TOL
    # p-values agree where they are not vanishingly small (same Smirnov formula)
    if ref.pvalue > 1e-6:
        assert abs(ks.p_value - ref.pvalue) < 0.15
    w = T.wasserstein(sa, sb).value
    w_ref = sps.wasserstein_distance(a, b) / sa.std
    # inside a bucket the sketch interpolates linearly: the error is at most a
    # bucket's mass (1/B) times its width, dominated by the two tail buckets
    tails = sum(s.values[1] - s.values[0] + s.values[-1] - s.values[-2] for s in (sa, sb))
    assert abs(w - w_ref) <= 0.02 * w_ref + tails / B / sa.std + 1e-3


def test_psi_and_js_on_baseline_quantile_bins_match_raw_binning(rng, summary_of):
    a, b = rng.normal(0, 1, 30000), rng.normal(0.5, 1, 30000)
    sa, sb = summary_of(pd.DataFrame({"x": a}))["x"], summary_of(pd.DataFrame({"x": b}))["x"]
    edges = np.quantile(a, np.linspace(0, 1, 11)[1:-1])
    pb = np.bincount(np.searchsorted(edges, a, side="right"), minlength=10) / len(a)
    pc = np.bincount(np.searchsorted(edges, b, side="right"), minlength=10) / len(b)
    psi_ref = float(np.sum((pc - pb) * np.log(pc / pb)))
    assert T.psi_numeric(sa, sb).value == pytest.approx(psi_ref, rel=0.05)
    assert T.js_numeric(sa, sb).value == pytest.approx(jensenshannon(pb, pc, base=2), rel=0.05)


def test_categorical_tests_match_scipy_exactly(rng, summary_of):
    a = rng.choice(list("abcde"), 10000, p=[0.3, 0.3, 0.2, 0.1, 0.1])
    b = rng.choice(list("abcdef"), 8000, p=[0.25, 0.3, 0.2, 0.1, 0.1, 0.05])
    sa, sb = summary_of(pd.DataFrame({"c": a}))["c"], summary_of(pd.DataFrame({"c": b}))["c"]
    table = pd.crosstab(np.r_[np.zeros(len(a)), np.ones(len(b))], np.r_[a, b]).to_numpy()
    stat, p, _, _ = sps.chi2_contingency(table, correction=False)
    chi = T.chi2(sa, sb)
    n, k = table.sum(), table.shape[1]
    v_corrected = np.sqrt(
        (stat / n - (k - 1) / (n - 1)) / min(k - (k - 1) ** 2 / (n - 1) - 1, 1 - 1 / (n - 1))
    )
    assert chi.value == pytest.approx(v_corrected, rel=1e-9)
    assert chi.value < np.sqrt(stat / n)  # the correction only removes the no-drift expectation
    assert chi.p_value == pytest.approx(p, rel=1e-6)
    fa, fb = table[0] / table[0].sum(), table[1] / table[1].sum()
    assert T.linf(sa, sb).value == pytest.approx(np.max(np.abs(fa - fb)), abs=1e-12)
    assert T.js_categorical(sa, sb).value == pytest.approx(jensenshannon(fa, fb, base=2), rel=1e-9)


def test_identical_samples_score_zero(rng, summary_of):
    frame = pd.DataFrame({"x": rng.normal(size=5000), "c": rng.choice(list("xyz"), 5000)})
    s = summary_of(frame)
    for name in ("x", "c"):
        for score in T.run_tests(s[name], s[name]).values():
            assert score.value == pytest.approx(0.0, abs=1e-12), score


def test_mixing_splits_equals_summarising_the_union(rng, summary_of):
    from components.drift.summaries import mix_numeric

    a, b = rng.normal(0, 1, 8000), rng.normal(2, 0.5, 4000)
    mixed = mix_numeric([summary_of(pd.DataFrame({"x": a}))["x"], summary_of(pd.DataFrame({"x": b}))["x"]])
    union = summary_of(pd.DataFrame({"x": np.r_[a, b]}))["x"]
    assert mixed.count == union.count
    assert mixed.mean == pytest.approx(union.mean, rel=1e-6)
    assert mixed.std == pytest.approx(union.std, rel=1e-6)
    assert T.ks(mixed, union).value <= KS_TOL


def test_numeric_vs_categorical_is_refused(summary_of):
    s = summary_of(pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}))
    with pytest.raises(TypeError, match="cannot compare"):
        T.run_tests(s["x"], s["c"])
