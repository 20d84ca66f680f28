"""Data integrity rates (``components.drift.integrity``) from real TFDV
statistics of small frames, computed with the options the pipeline uses
(100-bucket quantile sketches, as ``backtest.data.statistics`` with
``drift.quantile_buckets``)."""

import numpy as np
import pandas as pd
import pytest

tfdv = pytest.importorskip("tensorflow_data_validation")

from tensorflow_metadata.proto.v0 import statistics_pb2  # noqa: E402

from components.drift import integrity  # noqa: E402

N = 5000
BUCKETS = 100  # pipelines/regions/defaults.yaml drift.quantile_buckets
RESOLUTION = 1.0 / BUCKETS  # one straddling quantile bucket


def stats(frame, schema=None):
    opts = tfdv.StatsOptions(num_quantiles_histogram_buckets=BUCKETS, schema=schema)
    return tfdv.generate_statistics_from_dataframe(frame, stats_options=opts)


@pytest.fixture(scope="module")
def baseline_frame():
    rng = np.random.default_rng(7)
    return pd.DataFrame({"dep_delay": rng.uniform(-12.0, 410.0, N), "carrier": rng.choice(list("ABCD"), N)})


@pytest.fixture(scope="module")
def baseline(baseline_frame):
    return stats(baseline_frame)


def test_three_percent_beyond_the_baseline_max_is_a_finding_at_the_floor(baseline, baseline_frame):
    rng = np.random.default_rng(8)
    x = rng.uniform(-11.0, 409.0, N)  # inside the baseline's range: only the max is crossed
    x[: int(0.03 * N)] = rng.uniform(411.0, 500.0, int(0.03 * N))
    r = integrity.rates(baseline, stats(pd.DataFrame({"dep_delay": x})), ["dep_delay"])["dep_delay"]
    base = baseline_frame["dep_delay"].to_numpy(np.float32)
    exact = float(np.mean((x.astype(np.float32) < base.min()) | (x.astype(np.float32) > base.max())))
    assert exact == 0.03
    assert r.out_of_range == pytest.approx(0.03, abs=RESOLUTION)
    assert r.kind == "numeric" and r.missing == 0.0
    assert r.out_of_range == pytest.approx(exact, abs=RESOLUTION)
    assert 0.0 < r.resolution <= RESOLUTION + 1e-9
    assert abs(r.out_of_range - exact) <= r.resolution
    assert r.baseline_range == pytest.approx((base.min(), base.max()))
    [f] = integrity.judge({"dep_delay": r})
    assert (f.feature, f.rate, f.threshold) == ("dep_delay", "out_of_range", 0.01)
    assert f.sentence.startswith(
        f"dep_delay: {100 * r.out_of_range:.1f}% of values outside the training range [-"
    )
    assert f.sentence.endswith("(threshold 1.0%)")


def test_values_below_the_baseline_min_count_too(baseline):
    x = np.linspace(-12.0, 410.0, N)
    x[:100] = -50.0  # 2% below the min: a point mass, exact at a sketch boundary
    r = integrity.rates(baseline, stats(pd.DataFrame({"dep_delay": x})), ["dep_delay"])["dep_delay"]
    assert r.out_of_range == pytest.approx(0.02, abs=RESOLUTION)


def test_an_identical_span_has_no_outliers_and_no_finding(baseline):
    r = integrity.rates(baseline, baseline, ["dep_delay", "carrier"])
    assert r["dep_delay"].out_of_range == 0.0 and r["dep_delay"].resolution == 0.0
    assert r["carrier"].unseen == 0.0 and r["carrier"].resolution == 0.0
    assert r["dep_delay"].missing == 0.0 and r["carrier"].missing == 0.0
    assert integrity.judge(r) == []


def test_missing_rate_is_exact(baseline):
    x = np.linspace(0.0, 100.0, 1000)
    x[:37] = np.nan
    c = np.array(["A"] * 1000, dtype=object)
    c[:12] = None
    r = integrity.rates(
        baseline, stats(pd.DataFrame({"dep_delay": x, "carrier": c})), ["dep_delay", "carrier"]
    )
    assert r["dep_delay"].missing == 0.037 and r["dep_delay"].values == 963
    assert r["carrier"].missing == 0.012 and r["carrier"].values == 988
    assert [(f.feature, f.rate) for f in integrity.judge(r)] == [
        ("carrier", "missing"),
        ("dep_delay", "missing"),
    ]
    assert integrity.judge(r)[0].sentence == "carrier: 1.2% of examples missing (threshold 1.0%)"


def test_unseen_share_is_exact_for_a_small_vocabulary(baseline):
    c = np.array(list("ABCD") * 250, dtype=object)
    c[:15] = "Z"
    c[15:20] = "Y"
    r = integrity.rates(baseline, stats(pd.DataFrame({"carrier": c})), ["carrier"])["carrier"]
    assert r.kind == "categorical" and r.unseen == 0.02 and r.resolution == 0.0
    [f] = integrity.judge({"carrier": r})
    assert f.sentence == "carrier: 2.0% of values not seen in training (threshold 1.0%)"


def test_int_feature_the_schema_marks_categorical_gets_an_unseen_rate():
    base = pd.DataFrame({"hour": np.arange(1000) % 20})
    schema = tfdv.infer_schema(stats(base))
    tfdv.get_feature(schema, "hour").int_domain.is_categorical = True
    cur = pd.DataFrame({"hour": np.where(np.arange(1000) < 30, 23, np.arange(1000) % 20)})
    r = integrity.rates(stats(base, schema), stats(cur, schema), {"hour": "categorical"})["hour"]
    assert r.unseen == 0.03
    # without the schema TFDV writes numeric statistics: no value counts, so no unseen rate
    r = integrity.rates(stats(base), stats(cur), {"hour": "categorical"})["hour"]
    assert r.unseen is None and "no value counts" in r.note


def test_history_threshold_rises_above_the_floor_and_absorbs_the_usual_rate(baseline):
    past = [0.017, 0.020, 0.023, 0.021, 0.019]  # ~2% +- 0.3%
    limit = integrity.threshold(past)
    assert limit == pytest.approx(np.mean(past) + 3 * np.std(past))
    assert limit > 0.01
    c = np.array(list("ABCD") * 250, dtype=object)
    c[:22] = "Z"  # 2.2%
    r = integrity.rates(baseline, stats(pd.DataFrame({"carrier": c})), ["carrier"])
    assert r["carrier"].unseen == pytest.approx(0.022)
    assert [f.rate for f in integrity.judge(r)] == ["unseen"]  # at the floor
    assert integrity.judge(r, {"carrier": {"unseen": past}}) == []
    # too short a history: the floor
    assert integrity.threshold(past[:2]) == 0.01
    assert [f.threshold for f in integrity.judge(r, {"carrier": {"unseen": past[:2]}})] == [0.01]
    # a history of clean spans never lowers the threshold below the floor
    assert integrity.threshold([0.0, 0.0, 0.0]) == 0.01


def test_history_of_collects_past_rates(baseline):
    r = integrity.rates(baseline, baseline, ["dep_delay", "carrier"])
    h = integrity.history_of([r, r])
    assert h["dep_delay"] == {"missing": [0.0, 0.0], "out_of_range": [0.0, 0.0]}
    assert h["carrier"] == {"missing": [0.0, 0.0], "unseen": [0.0, 0.0]}


def test_a_feature_absent_from_the_current_stats_is_all_missing(baseline):
    cur = stats(pd.DataFrame({"carrier": ["A"] * 100}))
    r = integrity.rates(baseline, cur, ["dep_delay"])["dep_delay"]
    assert r.missing == 1.0 and r.out_of_range is None and r.kind == "numeric"
    [f] = integrity.judge({"dep_delay": r})
    assert f.sentence == "dep_delay: 100.0% of examples missing (threshold 1.0%)"


def test_splits_of_a_span_count_as_one_sample(baseline):
    """A List of train/eval datasets (StatisticsGen) sums their counts."""
    a = np.linspace(0.0, 100.0, 300)
    a[:30] = np.nan
    b = np.linspace(0.0, 100.0, 100)
    both = statistics_pb2.DatasetFeatureStatisticsList()
    for name, x in (("train", a), ("eval", b)):
        ds = both.datasets.add()
        ds.CopyFrom(stats(pd.DataFrame({"dep_delay": x})).datasets[0])
        ds.name = name
    r = integrity.rates(baseline, both, ["dep_delay"])["dep_delay"]
    assert r.missing == 30 / 400 and r.values == 370 and r.out_of_range == 0.0
    # and as a baseline: the union of the splits' ranges
    lo, hi = integrity.rates(both, baseline, ["dep_delay"])["dep_delay"].baseline_range
    assert (lo, hi) == (0.0, 100.0)


def test_json_round_trip(baseline):
    c = np.array(list("ABCD") * 250, dtype=object)
    c[:50] = "Z"
    cur = stats(pd.DataFrame({"carrier": c, "dep_delay": np.full(1000, 999.0)}))
    r = integrity.rates(baseline, cur, ["carrier", "dep_delay", "gone"])
    back = integrity.rates_from_json(integrity.rates_to_json(r))
    assert back == r
    found = integrity.judge(r)
    assert [integrity.Finding.from_json(f.to_json()) for f in found] == found
    assert {f.rate for f in found} == {"unseen", "out_of_range", "missing"}
