"""The stream's window scores are the batch gate's tests (stat_tests.run_tests)
on the window's summary, for numeric features with and without point masses
and for categorical ones with unseen values."""

import numpy as np
import pandas as pd
import pytest

from components.drift.stat_tests import run_tests
from components.drift.summaries import CategoricalSummary
from streaming import scores
from streaming.baseline import categorical_vectors, from_statistics


@pytest.fixture(scope="module")
def baseline(stats_of):
    rng = np.random.default_rng(0)
    n = 5000
    frame = pd.DataFrame(
        {
            "temp": rng.normal(40, 10, n).round(1),
            "precip": np.where(rng.random(n) < 0.8, 0.0, rng.exponential(0.1, n).round(2)),
            "gust": np.where(rng.random(n) < 0.3, np.nan, rng.normal(20, 4, n)),
            "carrier": rng.choice(list("ABCDEFG"), n, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.05, 0.05]),
        }
    )
    return from_statistics(stats_of(frame), ["temp", "precip", "gust"], ["carrier"], span=1), frame


def window_counts(grid, values):
    v = values[np.isfinite(values)]
    u = grid.knots.astype(np.float32).astype(np.float64)
    below, above = np.maximum(u[0] - v, 0).sum(), np.maximum(v - u[-1], 0).sum()
    return np.bincount(grid.cell_of(v), minlength=grid.cells), v, below, above


@pytest.mark.parametrize("feature", ["temp", "precip", "gust"])
@pytest.mark.parametrize("shift", [0.0, 0.5, 3.0])
def test_numeric_scores_equal_the_batch_tests(baseline, feature, shift):
    base, frame = baseline
    grid = next(g for g in base.numeric if g.name == feature)
    rng = np.random.default_rng(1)
    sample = frame[feature].to_numpy()[rng.integers(0, len(frame), 800)] + shift * np.nanstd(frame[feature])
    counts, v, below, above = window_counts(grid, sample)
    got = scores.numeric(grid, counts, below, above)
    want = run_tests(grid.base, grid.summary(counts, below, above, v.sum(), (v**2).sum()))
    for test, score in want.items():
        assert got[test] == pytest.approx(score.value, rel=2e-3, abs=2e-4), test
    if shift >= 3.0:
        assert got["ks"] > 0.5
        # beyond the baseline's range W1 is exact: the mean distance past it, plus inside
        inside = scores.numeric(grid, counts)["wasserstein"] * grid.base.std
        assert got["wasserstein"] * grid.base.std == pytest.approx(inside + (below + above) / len(v))


def test_point_masses_are_cells_of_their_own(baseline):
    base, frame = baseline
    grid = next(g for g in base.numeric if g.name == "precip")
    assert grid.point[0], "precipitation's zeros are a point mass of the baseline"
    # the same rows as the baseline score (near) nothing: zeros are not smeared over a bucket
    counts, v, below, above = window_counts(grid, frame["precip"].to_numpy())
    got = scores.numeric(grid, counts, below, above)
    assert got["ks"] < 0.02 and got["psi"] < 0.01


def test_categorical_scores_equal_the_batch_tests(baseline):
    base, frame = baseline
    grid = base.categorical[0]
    rng = np.random.default_rng(2)
    sample = list(frame["carrier"].to_numpy()[rng.integers(0, len(frame), 600)]) + ["NEW"] * 150
    counts = {k: float(sample.count(k)) for k in set(sample)}
    b, c = categorical_vectors(grid, counts)
    got = scores.categorical(b, c)
    want = run_tests(grid.base, CategoricalSummary(float(len(sample)), counts))
    for test, score in want.items():
        assert got[test] == pytest.approx(score.value, rel=1e-9, abs=1e-12), test
    assert got["linf"] == pytest.approx(150 / 750, abs=0.01)


def test_many_windows_at_once_score_as_one_by_one(baseline):
    base, _ = baseline
    grid = base.numeric[0]
    rng = np.random.default_rng(3)
    many = rng.multinomial(500, grid.probabilities(), size=7)
    together = scores.numeric(grid, many)
    for i in range(7):
        alone = scores.numeric(grid, many[i])
        for test in together:
            assert together[test][i] == pytest.approx(float(alone[test]))


def test_missing_rate_change(baseline):
    base, _ = baseline
    gust = next(g for g in base.numeric if g.name == "gust")
    assert gust.missing_rate == pytest.approx(0.3, abs=0.03)
    assert float(scores.missing(gust.missing_rate, 500, 500)) == pytest.approx(0.5 - gust.missing_rate)


@pytest.mark.parametrize("feature", ["temp", "precip"])
def test_wasserstein_with_the_cells_sums_is_the_exact_distance(baseline, feature):
    """Per-cell sums place a bucket's mass inside it: W1 matches scipy's on the
    raw values (the baseline's own sketch error aside), also where the
    baseline's buckets are wide (precipitation: zeros, then a long tail)."""
    from scipy.stats import wasserstein_distance

    base, frame = baseline
    grid = next(g for g in base.numeric if g.name == feature)
    rng = np.random.default_rng(4)
    raw = frame[feature].to_numpy()
    window = raw[rng.integers(0, len(raw), 2000)] * 1.5 + 0.5 * np.nanstd(raw)
    v = window[np.isfinite(window)]
    counts, _, below, above = window_counts(grid, v)
    sums = np.bincount(grid.cell_of(v), weights=v, minlength=grid.cells)
    got = float(scores.numeric(grid, counts, below, above, sums)["wasserstein"])
    exact = wasserstein_distance(raw[np.isfinite(raw)], v) / grid.base.std
    assert got == pytest.approx(exact, rel=0.03, abs=0.01)
