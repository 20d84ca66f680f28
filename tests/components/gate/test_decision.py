"""Gate logic on small Anomalies protos: what blocks, what only warns."""

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
    assert report.findings == [] and "400 rows" in report.reasons[0]


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
    again = decision.GateReport.from_json_dict(report.to_json_dict())
    assert again == report
