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
    small = dataclasses.replace(cfg, min_count=10)
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
