"""Fairness of a model across slices (components.quality.fairness): the
four-fifths rule on false positive rate, recall and positive rate, small
slices listed but not judged, many slice values folded for the metrics."""

import numpy as np
import pytest

from components.quality import fairness


def _data(seed=0):
    rng = np.random.default_rng(seed)
    n = 3000
    carrier = rng.choice(["AA", "B6", "EV"], size=n, p=[0.45, 0.45, 0.10])
    carrier[:30] = "OO"  # a rare carrier
    y = (rng.random(n) < 0.3).astype(float)
    p = np.where(y > 0, rng.uniform(0.4, 1.0, n), rng.uniform(0.0, 0.6, n))
    # EV: the model calls far more of its on-time flights late
    ev = carrier == "EV"
    p[ev & (y == 0)] = rng.uniform(0.2, 0.8, (ev & (y == 0)).sum())
    slices = {(("carrier", c.encode()),): np.flatnonzero(carrier == c) for c in np.unique(carrier)}
    return y, p, slices, carrier


def test_a_slice_whose_false_positive_rate_breaks_the_four_fifths_rule_is_a_finding():
    y, p, slices, carrier = _data()
    got = fairness.judge(y, p, slices, band=(0.8, 1.25), min_rows=100)
    overall = fairness.rates(y, p)
    ev_rows = carrier == "EV"
    ev_fpr = ((p >= 0.5) & (y == 0) & ev_rows).sum() / ((y == 0) & ev_rows).sum()
    (found,) = [f for f in got["findings"] if f["value"] == "EV" and f["metric"] == "fpr"]
    assert found["ratio"] == pytest.approx(ev_fpr / overall["fpr"], abs=1e-5) and found["ratio"] > 1.25
    assert found["sentence"].startswith("carrier=EV: false positive rate ")
    assert "x the region's" in found["sentence"]
    assert not [f for f in got["findings"] if f["value"] in ("AA", "B6") and f["metric"] == "fpr"]
    rare = next(s for s in got["slices"] if s["value"] == "OO")
    assert rare["rows"] == 30 and not rare["judged"]  # listed, not judged
    assert not [f for f in got["findings"] if f["value"] == "OO"]
    assert "carrier=EV" in fairness.describe(got)


def test_identical_slices_give_no_finding():
    rng = np.random.default_rng(1)
    y = (rng.random(4000) < 0.3).astype(float)
    p = np.clip(y * 0.4 + rng.random(4000) * 0.6, 0, 1)
    slices = {(("half", i),): np.arange(i, 4000, 2) for i in (0, 1)}
    got = fairness.judge(y, p, slices, min_rows=100)
    assert got["findings"] == [] and "no parity finding on 2 slices" in fairness.describe(got)


def test_slice_values_beyond_the_bound_are_folded_into_other():
    y, p, _, _ = _data()
    slices = {(("dest", f"D{i:02d}".encode()),): np.arange(i, 3000, 25) for i in range(25)}
    slices[(("dest", b"D00"),)] = np.arange(0, 3000, 2)  # the largest
    got = fairness.judge(y, p, slices, max_exported=5, min_rows=50)
    values = [s["value"] for s in got["slices"]]
    assert len(values) == 6 and values[0] == "D00" and values[-1] == fairness.OTHER
    other = got["slices"][-1]
    assert other["rows"] == 20 * 120 and not other["judged"]


def test_undefined_rates_are_none_not_nan():
    r = fairness.rates(np.ones(10), np.full(10, 0.7))
    assert r["fpr"] is None and r["auc"] is None and r["recall"] == 1.0


def test_a_slice_below_its_push_time_auc_by_the_margin_is_degraded():
    rng = np.random.default_rng(3)
    y = (rng.random(2000) < 0.3).astype(float)
    good = np.clip(y * 0.5 + rng.random(2000) * 0.5, 0, 1)
    slices = {(("carrier", b"AA"),): np.arange(0, 1000), (("carrier", b"EV"),): np.arange(1000, 2000)}
    slices[(("carrier", b"OO"),)] = np.arange(0, 50)  # too small: no AUC recorded
    then = fairness.slice_aucs(y, good, slices, min_rows=100)
    assert set(then) == {"carrier=AA", "carrier=EV"} and then["carrier=EV"] > 0.9
    worse = good.copy()
    worse[1000:] = rng.random(1000)  # EV's scores become noise
    now = fairness.slice_aucs(y, worse, slices, min_rows=100)
    (found,) = fairness.degraded(then, now, margin=0.15)
    assert found["slice"] == "carrier=EV" and found["auc"] < found["reference_auc"] - 0.15
    assert found["sentence"].startswith("carrier=EV: AUC 0.") and fairness.degraded(then, then, 0.15) == []


def test_a_crossed_slice_is_named_as_its_push_time_auc_is_keyed():
    rng = np.random.default_rng(4)
    y = (rng.random(1000) < 0.3).astype(float)
    p = np.clip(y * 0.4 + rng.random(1000) * 0.6, 0, 1)
    slices = {
        (("carrier", b"EV"), ("hour", 6)): np.arange(0, 500),
        (("carrier", b"AA"), ("hour", 7)): np.arange(500, 1000),
    }
    got = fairness.judge(y, p, slices, min_rows=100)
    assert (
        {s["name"] for s in got["slices"]}
        == set(fairness.slice_aucs(y, p, slices, 100))
        == {
            "carrier=EV,hour=6",
            "carrier=AA,hour=7",
        }
    )
