"""Gate logic on small Anomalies protos: what blocks, what only warns."""

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.gate import decision


def _anomalies(feature, type_name, severity="ERROR", desc="Out-of-range values"):
    a = anomalies_pb2.Anomalies()
    info = a.anomaly_info[feature]
    info.severity = anomalies_pb2.AnomalyInfo.Severity.Value(severity)
    info.short_description = desc
    info.reason.add(type=anomalies_pb2.AnomalyInfo.Type.Value(type_name), short_description=desc)
    return a


def test_no_anomalies_retrains():
    report = decision.decide(
        3, {"train": 300, "eval": 100}, decision.classify({"train": anomalies_pb2.Anomalies()})
    )
    assert report.decision == decision.RETRAIN
    assert report.findings == [] and any("400 rows" in r for r in report.reasons)
    assert "no model serves" in report.reasons[0]


def test_error_anomaly_blocks_and_names_feature_and_split():
    findings = decision.classify({"train": _anomalies("temp", "FLOAT_TYPE_BIG_FLOAT")})
    report = decision.decide(2, {"train": 10}, findings)
    assert report.decision == decision.BLOCK
    assert findings[0].feature == "temp" and findings[0].split == "train"
    assert findings[0].types == ("FLOAT_TYPE_BIG_FLOAT",)
    assert "temp (train)" in report.reasons[0]


def test_warn_only_type_and_feature_do_not_block():
    by_type = decision.classify(
        {"eval": _anomalies("dest", "ENUM_TYPE_UNEXPECTED_STRING_VALUES")},
        warn_only_types=["ENUM_TYPE_UNEXPECTED_STRING_VALUES"],
    )
    by_feature = decision.classify(
        {"eval": _anomalies("wind_gust", "FEATURE_TYPE_LOW_NUMBER_VALUES")}, warn_only_features=["wind_gust"]
    )
    for findings in (by_type, by_feature):
        assert len(findings) == 1 and not findings[0].blocking
        assert decision.decide(1, {"eval": 5}, findings).decision == decision.RETRAIN


def test_tfdv_warning_severity_does_not_block():
    findings = decision.classify(
        {"train": _anomalies("carrier", "ENUM_TYPE_UNEXPECTED_STRING_VALUES", "WARNING")}
    )
    assert not findings[0].blocking


def test_empty_span_blocks():
    report = decision.decide(4, {"train": 0, "eval": 0}, [])
    assert report.decision == decision.BLOCK and "no rows" in report.reasons[0]


def test_report_round_trips_through_json():
    findings = decision.classify({"train": _anomalies("temp", "FLOAT_TYPE_BIG_FLOAT")})
    report = decision.decide(2, {"train": 10}, findings)
    again = decision.SpanReport.from_json_dict(report.to_json_dict())
    assert again == report


def _drift(baseline, severity, drifted=("temp",), span=1):
    from components.drift.results import Comparison

    return Comparison(baseline=baseline, span=span, severity=severity, drifted=tuple(drifted), features={})


SERVING = decision.Policy(serving_version=3, training_span=5, max_model_age_spans=3)


def test_no_drift_with_a_serving_model_skips():
    report = decision.decide(
        6, {"train": 10}, [], drift={"training": _drift("training", "none", ())}, policy=SERVING
    )
    assert report.decision == decision.SKIP and "serving version 3 stays" in report.reasons[0]


def test_training_drift_at_retrain_on_severity_retrains():
    warn = {"training": _drift("training", "warning")}
    assert decision.decide(6, {"t": 10}, [], drift=warn, policy=SERVING).decision == decision.RETRAIN
    strict = decision.Policy(serving_version=3, training_span=5, retrain_on="critical")
    assert decision.decide(6, {"t": 10}, [], drift=warn, policy=strict).decision == decision.SKIP


def test_previous_span_drift_alone_does_not_retrain():
    report = decision.decide(
        6, {"t": 10}, [], drift={"previous": _drift("previous", "critical")}, policy=SERVING
    )
    assert report.decision == decision.SKIP


def test_critical_skew_blocks_even_when_drift_asks_for_retraining():
    drift = {
        "serving": _drift("serving", "critical", ("distance",)),
        "training": _drift("training", "critical"),
    }
    report = decision.decide(6, {"t": 10}, [], drift=drift, policy=SERVING)
    assert report.decision == decision.BLOCK and "skew critical on distance" in report.reasons[0]
    never = decision.Policy(serving_version=3, training_span=5, block_on_skew="never")
    assert decision.decide(6, {"t": 10}, [], drift=drift, policy=never).decision == decision.RETRAIN


@pytest.mark.parametrize(
    "policy, reason",
    [
        (decision.Policy(), "no model serves"),
        (decision.Policy(serving_version=3, training_span=None), "no recorded training span"),
        (decision.Policy(serving_version=3, training_span=1, max_model_age_spans=3), "more than 3 spans ago"),
        (decision.Policy(serving_version=3, training_span=5, force_retrain=True), "forced"),
    ],
)
def test_policy_forces_retraining(policy, reason):
    report = decision.decide(6, {"t": 10}, [], policy=policy)
    assert report.decision == decision.RETRAIN and reason in report.reasons[0]


def test_gradual_finding_retrains():
    g = {
        "feature": "temp",
        "direction": "up",
        "total_shift_std": 0.9,
        "spans": [2, 6],
        "cusum": 0.6,
        "threshold": 0.5,
    }
    report = decision.decide(6, {"t": 10}, [], gradual=[g], policy=SERVING)
    assert report.decision == decision.RETRAIN and "gradual drift: temp crept up" in report.reasons[0]
    import dataclasses

    drifted = decision.decide(
        6,
        {"t": 10},
        [],
        drift={"training": _drift("training", "warning")},
        gradual=[g, dict(g, feature="dewp")],
        policy=dataclasses.replace(SERVING, gradual_retrains=False),
    )
    assert drifted.decision == decision.RETRAIN and "more reason" not in drifted.summary  # reported only
    quiet = decision.decide(
        6, {"t": 10}, [], gradual=[g], policy=dataclasses.replace(SERVING, gradual_retrains=False)
    )
    assert quiet.decision == decision.SKIP and quiet.summary.startswith("skip: no drift")
    assert any("reported only (drift.gradual.retrain: false)" in r for r in quiet.reasons)


def test_blocking_anomaly_beats_everything():
    findings = decision.classify({"train": _anomalies("temp", "FLOAT_TYPE_BIG_FLOAT")})
    report = decision.decide(6, {"t": 10}, findings, policy=decision.Policy(force_retrain=True))
    assert report.decision == decision.BLOCK


def _feature(severity):
    from components.drift.results import FeatureDrift

    return FeatureDrift(kind="numeric", severity=severity, count_baseline=9000, count_current=63)


def test_a_span_too_small_to_judge_says_so_instead_of_no_drift():
    from components.drift.results import Comparison

    small = Comparison(
        baseline="training",
        span=5,
        severity="insufficient_data",
        drifted=(),
        features={"temp": _feature("insufficient_data"), "dewp": _feature("insufficient_data")},
    )
    policy = decision.Policy(serving_version=1, training_span=5, min_count=200)
    report = decision.decide(6, {"train": 50, "eval": 13}, [], drift={"training": small}, policy=policy)
    assert report.decision == decision.SKIP
    assert report.reasons[0].startswith("insufficient data: 63 rows, below drift.min_count 200")
    assert "serving version 1 stays" in report.reasons[0] and "no drift reaching" not in report.reasons[0]
    # some features judged, some not: the verdict stands and the short ones are named
    partly = Comparison(
        baseline="training",
        span=5,
        severity="none",
        drifted=(),
        features={"temp": _feature("none"), "wind_gust": _feature("insufficient_data")},
    )
    report = decision.decide(6, {"train": 5000}, [], drift={"training": partly}, policy=policy)
    assert report.reasons[0].startswith("no drift reaching")
    assert report.reasons[1] == "insufficient data (below drift.min_count 200) on 1 of 2 features: wind_gust"


QUALITY_DEGRADED = {
    "version": 3,
    "span": 7,
    "verdict": "degraded",
    "prediction_severity": "warning",
    "prediction_drift": {"psi": 0.12, "ks": 0.1},
    "sentence": "serving v3 scores AUC 0.641 [0.628, 0.655] (95%) on span 7, below its reference 0.802 (span 5) "
    "by more than 0.15; prediction PSI 0.120 vs span 5",
}


def test_a_degraded_serving_model_retrains_and_the_summary_quotes_the_evidence():
    import dataclasses

    policy = dataclasses.replace(SERVING, quality=QUALITY_DEGRADED)
    report = decision.decide(
        7, {"all": 9000}, [], drift={"training": _drift("training", "none", ())}, policy=policy
    )
    assert report.decision == decision.RETRAIN
    assert report.summary == f"retrain: {QUALITY_DEGRADED['sentence']}"


def test_prediction_drift_retrains_only_when_configured():
    import dataclasses

    ok = dict(QUALITY_DEGRADED, verdict="ok", sentence="serving v3 scores AUC 0.80 ...; within margin 0.15")
    quiet = decision.decide(7, {"all": 9000}, [], policy=dataclasses.replace(SERVING, quality=ok))
    assert quiet.decision == decision.SKIP and quiet.summary.startswith("skip: serving v3 scores AUC 0.80")
    loud = decision.decide(
        7,
        {"all": 9000},
        [],
        policy=dataclasses.replace(SERVING, quality=ok, retrain_on_prediction_drift="warning"),
    )
    assert loud.decision == decision.RETRAIN and "prediction drift warning" in loud.summary


def _features(**severities):
    from components.drift.results import Comparison, FeatureDrift

    feats = {n: FeatureDrift("numeric", s, 1000.0, 1000.0, {}) for n, s in severities.items()}
    drifted = tuple(n for n, s in severities.items() if s != "none")
    worst = "critical" if "critical" in severities.values() else "warning" if drifted else "none"
    return Comparison("training", 5, worst, drifted, feats)


def test_calibrated_drift_retrains_only_on_enough_features():
    import dataclasses

    calibrated = dataclasses.replace(SERVING, calibration="calibrated", min_features=3)
    two = decision.decide(
        7,
        {"all": 9000},
        [],
        drift={"training": _features(temp="warning", dewp="warning", wind_speed="none")},
        policy=calibrated,
    )
    assert two.decision == decision.SKIP
    assert (
        "on 2 feature(s) (dewp, temp), fewer than drift.calibration.min_features 3 and none critical"
        in two.summary
    )
    one_break = decision.decide(
        7, {"all": 9000}, [], drift={"training": _features(visib="critical")}, policy=calibrated
    )
    assert one_break.decision == decision.RETRAIN and "on visib" in one_break.summary
    three = decision.decide(
        7,
        {"all": 9000},
        [],
        drift={"training": _features(temp="warning", dewp="critical", humid="warning")},
        policy=calibrated,
    )
    assert three.decision == decision.RETRAIN
    assert three.summary.startswith(
        "retrain: drift critical beyond this region's normal span-to-span range vs training baseline (span 5) on dewp, humid, temp"
    )


def test_until_calibrated_hold_reports_drift_without_retraining():
    import dataclasses

    hold = dataclasses.replace(SERVING, calibration="hold", calibration_history=1, calibration_min_history=3)
    report = decision.decide(
        7, {"all": 9000}, [], drift={"training": _features(temp="critical")}, policy=hold
    )
    assert report.decision == decision.SKIP
    assert "thresholds calibrate after 3 span-to-span comparisons (1 so far" in report.summary
    fixed = dataclasses.replace(hold, calibration="fixed")
    assert (
        decision.decide(
            7, {"all": 9000}, [], drift={"training": _features(temp="critical")}, policy=fixed
        ).decision
        == decision.RETRAIN
    )


def test_a_blocked_span_says_serving_stays_in_its_summary():
    findings = decision.classify({"train": _anomalies("temp", "FLOAT_TYPE_BIG_FLOAT")})
    report = decision.decide(2, {"train": 10}, findings, policy=SERVING)
    assert report.summary.startswith("block: temp (train)") and report.summary.endswith(
        "serving version 3 stays"
    )


def test_a_serving_model_not_judged_does_not_lead_the_skip_sentence():
    import dataclasses

    q = {"verdict": "not_judged", "sentence": "quality not judged: span 7 has 2 blocking data anomalies"}
    report = decision.decide(7, {"all": 9000}, [], policy=dataclasses.replace(SERVING, quality=q))
    assert report.decision == decision.SKIP and report.summary.startswith("skip: no drift")
    assert report.reasons[1] == q["sentence"]


def test_retrain_run_parameter():
    assert decision.parse_retrain_parameter("auto") is False
    assert decision.parse_retrain_parameter("") is False
    assert decision.parse_retrain_parameter("force") is True
    with pytest.raises(ValueError, match='retrain="yes": expected "auto"'):
        decision.parse_retrain_parameter("yes")


# the January -> July case of a young EWR: the serving model's numbers on span 3 (July)
QUALITY_JULY = {
    "version": 1,
    "span": 3,
    "rows": 2800,
    "verdict": "ok",
    "auc": 0.675,
    "auc_low": 0.665,
    "auc_high": 0.685,
    "reference_auc": 0.739,
    "reference_span": 1,
    "prediction_severity": "critical",
    "prediction_drift": {"psi": 3.12, "ks": 0.5, "overlap": 0.38},
    "sentence": "serving v1 scores AUC 0.675 [0.665, 0.685] (95%) on span 3; reference 0.739 (span 1), "
    "within margin 0.15; prediction PSI 3.120 vs span 1",
}


def test_a_young_region_retrains_on_a_certain_large_shift_and_names_the_evidence():
    import dataclasses

    hold = dataclasses.replace(
        SERVING, calibration="certain", calibration_history=1, calibration_min_history=3, quality=QUALITY_JULY
    )
    report = decision.decide(
        3, {"all": 9000}, [], drift={"training": _features(temp="critical", dewp="critical")}, policy=hold
    )
    assert report.decision == decision.RETRAIN
    assert report.summary.startswith(
        "retrain: certain shift before calibration: serving v1's predictions drift critically "
        "(PSI 3.120 vs span 1, 38% of their histogram in common, at most 50%) "
        "and its AUC 0.675 [0.665, 0.685] on span 3 lies wholly below its reference 0.739"
    )
    calibrated = dataclasses.replace(hold, calibration="calibrated", min_features=3)
    assert "certain shift" not in " ".join(
        decision.decide(
            3, {"all": 9000}, [], drift={"training": _features(temp="none")}, policy=calibrated
        ).reasons
    )  # once calibrated, the calibrated thresholds judge


@pytest.mark.parametrize(
    "change, why",
    [
        ({"prediction_severity": "warning"}, "predictions drift only a little"),
        ({"auc_high": 0.745}, "the interval reaches the reference"),
        (
            {"prediction_drift": {"psi": 0.46, "ks": 0.2, "overlap": 0.77}},
            "a critical shift, but most predictions still where training put them (LGA January -> April)",
        ),
        ({"prediction_drift": {"psi": 3.12, "ks": 0.5}}, "no overlap measured (a judge before overlap)"),
        (
            {"prediction_severity": "none", "auc": 0.74, "auc_low": 0.73, "auc_high": 0.75},
            "the same span again",
        ),
    ],
)
def test_a_young_region_still_holds_on_anything_less_than_a_certain_shift(change, why):
    import dataclasses

    hold = dataclasses.replace(
        SERVING,
        calibration="certain",
        calibration_history=1,
        calibration_min_history=3,
        quality=dict(QUALITY_JULY, **change),
    )
    report = decision.decide(
        3, {"all": 9000}, [], drift={"training": _features(temp="critical")}, policy=hold
    )
    assert report.decision == decision.SKIP, why
    assert "thresholds calibrate after 3" in " ".join(report.reasons)


def test_certain_overlap_sets_how_far_the_predictions_must_move():
    import dataclasses

    april = dict(QUALITY_JULY, prediction_drift={"psi": 0.46, "ks": 0.2, "overlap": 0.77})
    young = dataclasses.replace(
        SERVING, calibration="certain", calibration_history=2, calibration_min_history=3, quality=april
    )
    drift = {"training": _features(temp="critical")}
    assert decision.decide(4, {"all": 9000}, [], drift=drift, policy=young).decision == decision.SKIP
    anywhere = dataclasses.replace(young, certain_overlap=1.0)  # any critical prediction drift
    report = decision.decide(4, {"all": 9000}, [], drift=drift, policy=anywhere)
    assert (
        report.decision == decision.RETRAIN
        and "77% of their histogram in common, at most 100%" in report.summary
    )


def test_every_signal_is_one_named_rule_in_the_documented_order():
    from pathlib import Path

    from components.gate.rules import RULES

    names = list(RULES)
    assert names == [
        "no_rows",
        "blocking_anomalies",
        "serving_skew",
        "forced",
        "model_age",
        "serving_quality",
        "slice_quality",
        "prediction_drift",
        "certain_shift",
        "training_drift",
        "schema_comparators",
        "gradual_drift",
        "importance_drift",
    ]
    doc = (Path(__file__).resolve().parents[3] / "docs" / "drift-and-gate.md").read_text()
    para = doc[doc.index("Each signal is one named rule") :]
    places = [para.index(f"`{n}`") for n in names]  # each documented, in the order they run
    assert places == sorted(places)


def test_a_rule_switched_off_no_longer_decides():
    from components.gate.rules import RULES

    without_age = {n: r for n, r in RULES.items() if n != "model_age"}
    decide, Policy = decision.decide, decision.Policy
    young = decide(5, {"train": 90, "eval": 10}, [], policy=Policy(serving_version=None))
    assert young.decision == "retrain" and young.reasons[0] == "no model serves in this region yet"
    off = decide(5, {"train": 90, "eval": 10}, [], policy=Policy(serving_version=None), rules=without_age)
    assert off.decision == "skip"
    assert not decide(5, {"train": 0}, [], rules={}).decision == "block"  # no rule: nothing blocks
