"""Label-free performance estimation (``components.quality.estimate``, CBPE) on
synthetic scores whose labels are drawn from a known P(y | score): the
isotonic fit against brute force, the estimate against the realised AUC and
accuracy, and the limit the method has (concept drift goes unseen)."""

import itertools
import json

import numpy as np
import pytest

from components.quality import estimate as est
from components.quality.metrics import accuracy, auc


def _truth(s):
    """P(y = 1 | score): a model that ranks well but is not calibrated."""
    return np.asarray(s) ** 2


def _span(n, seed, low=0.0, high=1.0, truth=_truth):
    """Scores uniform on [low, high] and labels drawn from ``truth``."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(low, high, n)
    return (rng.random(n) < truth(s)).astype(int), s


def _brute_isotonic(y, w):
    """The non-decreasing fit with the least weighted squared error, by trying
    every split of the points into consecutive blocks (each block at its mean)."""
    n, best = len(y), (np.inf, None)
    for cuts in itertools.product([0, 1], repeat=n - 1):
        edges = [0] + [i + 1 for i, c in enumerate(cuts) if c] + [n]
        blocks = list(itertools.pairwise(edges))
        means = [np.average(y[a:b], weights=w[a:b]) for a, b in blocks]
        if any(m2 < m1 - 1e-12 for m1, m2 in itertools.pairwise(means)):
            continue
        fitted = np.concatenate([[m] * (b - a) for m, (a, b) in zip(means, blocks, strict=True)])
        sse = float(np.sum(w * (y - fitted) ** 2))
        if sse < best[0] - 1e-12:
            best = (sse, fitted)
    return best[1]


def test_pav_on_a_hand_worked_case():
    labels = [1, 0, 1, 0, 0, 1, 1]
    scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    cal = est.fit(labels, scores)
    assert cal.apply(scores) == pytest.approx([0.4] * 5 + [1.0, 1.0])
    assert cal.scores == (0.1, 0.5, 0.6, 0.7) and cal.rows == 7


def test_tied_scores_share_one_value():
    cal = est.fit([1, 0, 0, 0, 1], [0.2, 0.2, 0.5, 0.5, 0.9])
    assert cal.apply([0.2, 0.5, 0.9]) == pytest.approx([0.25, 0.25, 1.0])


@pytest.mark.parametrize("seed", range(6))
def test_pav_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random(10), 1)  # some ties
    labels = rng.integers(0, 2, 10)
    labels[:2] = [0, 1]
    distinct, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    means = np.bincount(inverse, weights=labels) / counts
    want = _brute_isotonic(means, counts.astype(float))
    got = est.fit(labels, scores).apply(distinct)
    assert got == pytest.approx(want, abs=1e-12)


def test_fit_is_monotone_compact_and_calibrated_in_the_large():
    labels, scores = _span(20000, 1)
    cal = est.fit(labels, scores, max_points=20)
    assert len(cal.scores) <= 20
    assert np.all(np.diff(cal.scores) > 0) and np.all(np.diff(cal.values) >= 0)
    grid = est.fit(labels, scores).apply(np.linspace(-1, 2, 3001))
    assert np.all(np.diff(grid) >= 0) and grid.min() >= 0 and grid.max() <= 1
    # each pooled block keeps its rows' mean: the mean calibrated probability is the positive rate
    assert cal.apply(scores).mean() == pytest.approx(labels.mean(), abs=1e-9)
    # and it recovers P(y | score) = score ** 2
    mid = np.linspace(0.2, 0.9, 8)
    assert est.fit(labels, scores).apply(mid) == pytest.approx(_truth(mid), abs=0.06)


def test_expected_auc_is_the_mean_auc_of_label_draws():
    rng = np.random.default_rng(3)
    scores = np.round(rng.random(300), 1)  # heavy ties
    p = np.clip(scores + rng.normal(0, 0.1, 300), 0.02, 0.98)
    mc = np.mean([auc(rng.random(300) < p, scores) for _ in range(4000)])
    assert est.expected_auc(scores, p) == pytest.approx(mc, abs=0.002)
    assert est.expected_accuracy(scores, p) == pytest.approx(np.mean(np.where(scores >= 0.5, p, 1 - p)))


def test_rank_auc_is_metrics_auc():
    from scipy.stats import rankdata

    rng = np.random.default_rng(4)
    scores = np.round(rng.random(500), 2)
    ranks = rankdata(scores)
    for _ in range(5):
        y = rng.random(500) < scores
        assert est.rank_auc(ranks, y) == auc(y, scores)


def test_on_calibrated_labels_the_estimate_is_close_and_its_interval_covers():
    cal = est.fit(*_span(20000, 100))
    covered_auc = covered_acc = 0
    for seed in range(20):
        labels, scores = _span(5000, seed)
        e = est.estimate(cal, scores, samples=200, seed=seed)
        real_auc, real_acc = auc(labels, scores), accuracy(labels, scores)
        assert abs(e.auc - real_auc) < 0.025 and abs(e.accuracy - real_acc) < 0.025
        covered_auc += e.auc_low <= real_auc <= e.auc_high
        covered_acc += e.accuracy_low <= real_acc <= e.accuracy_high
    assert covered_auc >= 16 and covered_acc >= 16  # 95% nominal: 19 of 20 expected


def test_under_covariate_shift_it_tracks_the_realised_auc_better_than_the_reference():
    ref_labels, ref_scores = _span(10000, 7)
    cal, ref_auc = est.fit(ref_labels, ref_scores), auc(ref_labels, ref_scores)
    for low, high in ((0.3, 0.7), (0.6, 1.0), (0.0, 0.5)):  # rows move; P(y | score) stays
        labels, scores = _span(10000, 8, low, high)
        real = auc(labels, scores)
        e = est.estimate(cal, scores, samples=50)
        assert abs(e.auc - real) < 0.03
        assert abs(e.auc - real) < abs(ref_auc - real) / 3


def test_under_concept_drift_the_estimate_is_wrong():
    """The documented limit: when the same scores now mean other outcomes
    (here the labels of the rows scored above 0.5 are flipped), the estimate
    still reports the reference's relation and misses the drop."""
    cal = est.fit(*_span(10000, 11))
    labels, scores = _span(10000, 12)
    before = est.estimate(cal, scores, samples=50)
    flipped = np.where(scores > 0.5, 1 - labels, labels)
    real_auc, real_acc = auc(flipped, scores), accuracy(flipped, scores)
    assert real_auc < auc(labels, scores) - 0.2
    assert before.auc - real_auc > 0.2 and before.accuracy - real_acc > 0.05
    assert not before.auc_low <= real_auc <= before.auc_high


def test_deterministic_for_a_seed_and_no_interval_without_samples():
    cal = est.fit(*_span(3000, 21))
    _, scores = _span(2000, 22)
    assert est.estimate(cal, scores, seed=5) == est.estimate(cal, scores, seed=5)
    a, b = est.estimate(cal, scores, seed=5), est.estimate(cal, scores, seed=6)
    assert (a.auc, a.accuracy) == (b.auc, b.accuracy) and a.auc_low != b.auc_low
    none = est.estimate(cal, scores, samples=0)
    assert none.auc == a.auc and np.isnan(none.auc_low) and np.isnan(none.accuracy_high)


def test_json_round_trip():
    cal = est.fit(*_span(5000, 31), max_points=50)
    cal2 = est.Calibration.from_json(json.loads(json.dumps(cal.to_json())))
    assert cal2 == cal
    _, scores = _span(1000, 32)
    assert np.array_equal(cal2.apply(scores), cal.apply(scores))
    e = est.estimate(cal, scores, samples=20)
    assert est.Estimate.from_json(json.loads(json.dumps(e.to_json()))) == e
    assert e.to_json()["method"] == "cbpe"


def test_describe():
    e = est.Estimate(1234, 0.7123, 0.701, 0.7234, 0.8, 0.79, 0.81)
    assert est.describe(e) == (
        "estimated AUC 0.712 [0.701, 0.723], accuracy 0.800 [0.790, 0.810] on 1,234 rows (cbpe, no labels)"
    )


@pytest.mark.parametrize(
    "labels, scores, message",
    [
        ([1, 1, 1], [0.1, 0.5, 0.9], "both classes"),
        ([0, 0], [0.1, 0.2], "both classes"),
        ([1], [0.3], "at least 2"),
        ([0, 1, 1], [0.1, 0.2], "3 labels for 2 scores"),
        ([0, 2], [0.1, 0.2], "0 or 1"),
        ([0, 1], [0.1, float("nan")], "finite"),
    ],
)
def test_fit_says_what_is_wrong(labels, scores, message):
    with pytest.raises(ValueError, match=message):
        est.fit(labels, scores)


def test_estimate_says_what_is_wrong():
    cal = est.fit([0, 1], [0.2, 0.8])
    with pytest.raises(ValueError, match="at least one score"):
        est.estimate(cal, [])
    with pytest.raises(ValueError, match="finite"):
        est.estimate(cal, [0.5, float("inf")])
    with pytest.raises(ValueError, match="confidence"):
        est.estimate(cal, [0.5], confidence=95)
    with pytest.raises(ValueError, match="max_points"):
        est.fit([0, 1], [0.2, 0.8], max_points=1)
