"""Comparing a span with a baseline: severities, precedence, p-value gate,
insufficient data, and a real flights span with one injected shift."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from components.drift import evaluate
from driftgate.core.config import FeatureTestThresholds, Tier, load_region_config, schema_file


@pytest.fixture(scope="module")
def cfg():
    return load_region_config("EWR").drift


@pytest.fixture(scope="module")
def schema():
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    return text_format.Parse(schema_file(load_region_config("EWR")).read_text(), schema_pb2.Schema())


@pytest.fixture(scope="module")
def ewr_march(flights_frame):
    rows = flights_frame[(flights_frame.origin == "EWR") & (flights_frame.month == 3)]
    return rows.drop(columns=["origin", "month", "late"]).reset_index(drop=True)


def test_identical_real_span_flags_nothing(cfg, schema, summary_of, ewr_march):
    s = summary_of(ewr_march, schema=schema)
    out = evaluate.compare(s, s, cfg, "previous", 2).to_json()
    assert out["severity"] == "none" and out["drifted"] == []
    assert set(out["features"]) == set(ewr_march.columns)
    for f in out["features"].values():
        assert f["severity"] == "none" and f["tests"], f


def test_injected_shift_is_flagged_on_that_feature_alone(cfg, schema, summary_of, ewr_march):
    shifted = ewr_march.copy()
    shifted["temp"] = shifted["temp"] + 0.6 * shifted["temp"].std()
    out = evaluate.compare(
        summary_of(ewr_march, schema=schema), summary_of(shifted, schema=schema), cfg, "training", 3
    ).to_json()
    assert out["drifted"] == ["temp"]
    assert out["features"]["temp"]["severity"] in ("warning", "critical")
    assert out["features"]["temp"]["tests"]["wasserstein"]["score"] == pytest.approx(0.6, abs=0.05)


def test_injected_category_shift_is_flagged_alone(cfg, schema, summary_of, ewr_march):
    shifted = ewr_march.copy()
    ua = shifted.index[shifted["carrier"] == "UA"][: len(shifted) // 5]
    shifted.loc[ua, "carrier"] = "B6"  # a fifth of the flights move from United to JetBlue
    out = evaluate.compare(
        summary_of(ewr_march, schema=schema), summary_of(shifted, schema=schema), cfg, "training", 3
    ).to_json()
    assert out["drifted"] == ["carrier"]
    assert out["features"]["carrier"]["tests"]["linf"]["score"] == pytest.approx(0.2, abs=0.01)


def test_every_score_is_reported_even_without_breach(cfg, summary_of):
    rng = np.random.default_rng(1)
    a = summary_of(pd.DataFrame({"x": rng.normal(size=3000)}))
    b = summary_of(pd.DataFrame({"x": rng.normal(size=3000)}))
    tests = evaluate.compare(a, b, cfg, "previous").to_json()["features"]["x"]["tests"]
    assert set(tests) == {"ks", "wasserstein", "psi", "js"}
    for t in tests.values():
        assert {"score", "warning", "critical", "verdict"} <= set(t) and t["score"] >= 0


def test_too_few_values_is_insufficient_data_not_drift(cfg, summary_of):
    a = summary_of(pd.DataFrame({"x": np.arange(50.0)}))
    b = summary_of(pd.DataFrame({"x": np.arange(50.0) + 100}))
    out = evaluate.compare(a, b, cfg, "previous").to_json()
    assert out["features"]["x"]["severity"] == "insufficient_data"
    assert out["severity"] == "none" and out["drifted"] == []


def test_feature_override_takes_precedence_over_test_default(cfg, summary_of):
    rng = np.random.default_rng(2)
    a = summary_of(pd.DataFrame({"x": rng.normal(size=5000), "y": rng.normal(size=5000)}))
    b = summary_of(pd.DataFrame({"x": rng.normal(0.5, 1, 5000), "y": rng.normal(0.5, 1, 5000)}))
    lenient = Tier(warning=5.0, critical=9.0)
    relaxed = dataclasses.replace(
        cfg,
        feature_thresholds={
            "x": FeatureTestThresholds(ks=lenient, wasserstein=lenient, psi=lenient, js=lenient)
        },
    )
    out = evaluate.compare(a, b, relaxed, "previous").to_json()
    assert out["features"]["x"]["severity"] == "none"
    assert out["features"]["x"]["tests"]["ks"]["warning"] == 5.0
    assert out["features"]["y"]["severity"] != "none"
    assert evaluate.thresholds_for(relaxed, "y", "ks") == cfg.thresholds.ks


def test_p_value_gate_needs_significance_after_correction(cfg, summary_of):
    # tiny samples: a large KS distance that is not significant
    rng = np.random.default_rng(3)
    a = summary_of(pd.DataFrame({"x": rng.normal(size=200)}))
    b = summary_of(pd.DataFrame({"x": rng.normal(0.25, 1, 200)}))
    # noise off: at 200 rows the noise floor alone would lift KS above this shift
    small = dataclasses.replace(cfg, min_count=10, noise=dataclasses.replace(cfg.noise, enabled=False))
    plain = evaluate.compare(a, b, small, "previous").to_json()["features"]["x"]["tests"]["ks"]
    gated_cfg = dataclasses.replace(
        small, p_values=dataclasses.replace(cfg.p_values, enabled=True, alpha=1e-6)
    )
    gated = evaluate.compare(a, b, gated_cfg, "previous").to_json()["features"]["x"]["tests"]["ks"]
    assert plain["verdict"] != "none" and gated["verdict"] == "none"
    assert gated["p_adjusted"] >= gated["p_value"]


def test_benjamini_hochberg_matches_the_textbook_example():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005, 0.01, 0.03, 0.04 -> *4/rank: 0.02, 0.02, 0.04, 0.04
    assert evaluate.benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert evaluate.benjamini_hochberg([]) == []


def test_small_samples_of_one_month_do_not_alarm_once_the_noise_is_in_the_thresholds(
    cfg, schema, summary_of, ewr_march
):
    # two 1,000-row samples of the same month: PSI and JS on ~100 destinations
    # exceed their fixed thresholds on sampling noise alone
    rng = np.random.default_rng(7)
    a, b = (
        summary_of(
            ewr_march.iloc[rng.integers(0, len(ewr_march), 1000)].reset_index(drop=True), schema=schema
        )
        for _ in range(2)
    )
    off = dataclasses.replace(cfg, noise=dataclasses.replace(cfg.noise, enabled=False))
    dest_off = evaluate.compare(a, b, off, "training", 1).features["dest"]
    assert dest_off.tests["psi"].verdict != "none"  # the problem
    out = evaluate.compare(a, b, cfg, "training", 1)
    assert out.severity == "none", out.drifted
    psi = out.features["dest"].tests["psi"]
    mean, std = psi.noise
    assert psi.warning == pytest.approx(mean + cfg.noise.z * std, abs=1e-6)
    assert psi.warning > cfg.thresholds.psi.warning
    assert psi.critical - psi.warning == pytest.approx(
        cfg.thresholds.psi.critical - cfg.thresholds.psi.warning, abs=1e-6
    )


def test_a_real_shift_in_a_small_span_is_still_found(cfg, schema, summary_of, ewr_march):
    rng = np.random.default_rng(8)
    a = ewr_march.iloc[rng.integers(0, len(ewr_march), 1000)].reset_index(drop=True)
    b = ewr_march.iloc[rng.integers(0, len(ewr_march), 1000)].reset_index(drop=True)
    b["temp"] = b["temp"] + 15.0  # a broken sensor: +15 F
    out = evaluate.compare(summary_of(a, schema=schema), summary_of(b, schema=schema), cfg, "training", 1)
    assert out.drifted == ("temp",) and out.features["temp"].severity == "critical"


def test_large_spans_keep_the_configured_thresholds(cfg, schema, summary_of, ewr_march):
    # at a month's size (~10k rows) the noise lies below every fixed threshold
    s = summary_of(ewr_march, schema=schema)
    out = evaluate.compare(s, s, cfg, "previous", 2)
    for name, f in out.features.items():
        for test, t in f.tests.items():
            assert t.noise is not None and t.noise[0] + cfg.noise.z * t.noise[1] < t.warning, (name, test)
            assert t.warning == pytest.approx(evaluate.thresholds_for(cfg, name, test).warning), (name, test)
