"""A span with ``inf`` / ``-inf`` in a numeric column goes through ingest,
statistics, drift tests, integrity rates and the report's plot without a
numpy RuntimeWarning, and with numbers the gate can judge (no NaN score)."""

import warnings

import numpy as np

from components.drift import integrity, stat_tests
from components.drift.summaries import NumericSummary, summarize

FEATURES = ["carrier", "temp", "distance", "late"]


def _span_stats(tmp_path, name, bad=()):
    """50 rows through the fast ingest and the in-process statistics."""
    import tensorflow_data_validation as tfdv

    from components.ingest import fast
    from components.statistics import generate
    from components.statistics.executor import _decoded

    lines = ["carrier,temp,distance,late"]
    for i in range(50):
        temp = bad[(i // 10) % len(bad)] if bad and i % 10 == 3 else f"{40 + (i * 7) % 13}.25"
        lines.append(f"{'ABC'[i % 3]},{temp},{100 + i},{i % 2}")
    (tmp_path / f"{name}.csv").write_text("\n".join(lines) + "\n")
    out = str(tmp_path / f"examples-{name}")
    fast.ingest("csv", [str(tmp_path / f"{name}.csv")], [("train", 1)], out)
    return generate.statistics(_decoded(out, "train"), tfdv.StatsOptions(num_quantiles_histogram_buckets=20))


def test_inf_values_go_through_statistics_drift_and_report_without_runtime_warnings(tmp_path):
    from components.monitor import report

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # before the fix: "invalid value encountered"
        base = _span_stats(tmp_path, "base")
        cur = _span_stats(tmp_path, "inf", bad=("inf", "-inf"))
        sb, sc = summarize(base.datasets, FEATURES), summarize(cur.datasets, FEATURES)
        scores = stat_tests.run_tests(sb["temp"], sc["temp"])
        rates = integrity.rates(base, cur, FEATURES)["temp"]
        svg = report._svg_numeric("temp", sb["temp"], sc["temp"])
    assert np.isinf(sc["temp"].values).any()
    assert 0 < scores["ks"].value < 1 and scores["wasserstein"].value == np.inf  # still drift: blocked
    # the five inf / -inf values, at least (a sketch bucket holding one also holds finite values)
    assert 5 / 50 <= rates.out_of_range < 0.2
    assert "nan" not in svg and "inf" not in svg


def test_an_infinite_knot_is_a_point_mass_not_a_ramp():
    s = NumericSummary(4, 0.0, 1.0, np.array([-np.inf, 0.0, 1.0, np.inf]), np.array([0.0, 0.25, 0.75, 1.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        f = s.cdf([-np.inf, -5.0, 0.0, 0.5, 1.0, 7.0, np.inf])
    # the limits of the ramps from -inf and to +inf: the buckets' mass sits at the infinities
    assert f.tolist() == [0.0, 0.25, 0.25, 0.5, 0.75, 0.75, 1.0]
