"""Run metrics: Prometheus textfile content and naming, and the Pushgateway request."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client.parser import text_string_to_metric_families

from components.monitor import metrics
from components.monitor.result import RunResult
from serving.release import ReleaseState


def _result(decision="retrain", temp="critical"):
    from components.drift.results import Comparison, FeatureDrift, TestResult
    from components.gate.decision import SpanReport

    def test(score, verdict):
        return TestResult(score=score, verdict=verdict, warning=0.1, critical=0.2)

    training = Comparison(
        baseline="training",
        span=2,
        severity=temp,
        drifted=("temp",),
        features={
            "temp": FeatureDrift(
                "numeric", temp, 5000.0, 5000.0, {"ks": test(0.31, temp), "psi": test(1.2, temp)}
            ),
            "carrier": FeatureDrift("categorical", "none", 5000.0, 5000.0, {"linf": test(0.01, "none")}),
        },
    )
    drift = SpanReport(
        span=3, decision=decision, rows={"train": 7500, "eval": 2515}, drift={"training": training}
    )
    return RunResult(
        region="EWR",
        span=3,
        rows=10015,
        anomalies=[{"feature": "dest"}],
        blocked=False,
        blessed=True,
        pushed_version=3,
        serving_dir="/r/serving/EWR/flights_late",
        metrics={},
        decision=decision,
        drift=drift,
        duration_s=61.5,
    )


def _families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def _sample(fam, **labels):
    return next(s.value for s in fam.samples if all(s.labels.get(k) == v for k, v in labels.items()))


def test_metrics_follow_prometheus_naming_and_carry_the_run():
    from prometheus_client import generate_latest

    state = ReleaseState(
        model_name="flights_late",
        base_path="/b",
        stable=2,
        canary=3,
        history=[{"action": "rollback", "version": 1}, {"action": "promote", "version": 2}],
    )
    history = [
        {"span": 1, "decision": "retrain"},
        {"span": 2, "decision": "block"},
        {"span": 3, "decision": "retrain"},
    ]
    text = generate_latest(metrics.build_registry(_result(), history, state)).decode()
    fams = _families(text)
    assert all(name.startswith("driftgate_") for name in fams)
    assert _sample(fams["driftgate_drift_score"], feature="temp", test="psi", baseline="training") == 1.2
    assert _sample(fams["driftgate_drift_severity"], feature="temp", baseline="training") == 2
    assert _sample(fams["driftgate_drift_severity"], feature="carrier", baseline="training") == 0
    assert _sample(fams["driftgate_span_decision"], decision="retrain") == 1
    assert _sample(fams["driftgate_span_decision"], decision="skip") == 0
    assert _sample(fams["driftgate_span_anomalies"], region="EWR") == 1
    assert _sample(fams["driftgate_model_version"], label="stable") == 2
    assert _sample(fams["driftgate_model_version"], label="canary") == 3
    assert _sample(fams["driftgate_canary_verdict"], verdict="promote") == 1
    assert fams["driftgate_runs"].type == "counter"
    assert 'driftgate_runs_total{decision="retrain",region="EWR"} 2.0' in text
    assert 'driftgate_canary_rollbacks_total{region="EWR"} 1.0' in text
    assert _sample(fams["driftgate_run_duration_seconds"], region="EWR") == 61.5
    assert "driftgate_last_success_timestamp_seconds" in fams


def test_blocked_run_reports_the_last_success_and_drift_streaks():
    from prometheus_client import generate_latest

    assert (
        "driftgate_last_success_timestamp_seconds"
        not in generate_latest(metrics.build_registry(_result("block"))).decode()
    )
    history = [
        {
            "span": 1,
            "decision": "retrain",
            "recorded_at": "2026-11-20T06:00:00Z",
            "drifted": {"training": []},
            "scores": {"training": {"temp": {}, "dest": {}}},
        },
        {
            "span": 2,
            "decision": "retrain",
            "recorded_at": "2026-11-21T06:00:00Z",
            "drifted": {"training": ["temp"]},
            "scores": {"training": {"temp": {}, "dest": {}}},
        },
        {"span": 3, "decision": "block", "recorded_at": "2026-11-22T06:00:00Z", "drifted": {}, "scores": {}},
        {
            "span": 4,
            "decision": "skip",
            "recorded_at": "2026-11-23T06:00:00Z",
            "drifted": {"training": ["temp", "dest"]},
            "scores": {"training": {"temp": {}, "dest": {}}},
        },
    ]
    fams = _families(generate_latest(metrics.build_registry(_result("block"), history)).decode())
    assert _sample(fams["driftgate_span_decision"], decision="block") == 1
    assert (
        _sample(fams["driftgate_last_success_timestamp_seconds"], region="EWR") == 1795413600
    )  # 2026-11-23 06:00Z
    assert (
        _sample(fams["driftgate_drift_consecutive_spans"], feature="temp") == 2
    )  # spans 2 and 4; 3 was blocked
    assert _sample(fams["driftgate_drift_consecutive_spans"], feature="dest") == 1


@pytest.fixture
def gateway():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_PUT(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, body.decode()))
            self.send_response(200)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}", received
    server.shutdown()


def test_export_writes_textfile_and_pushes_grouped_by_region(tmp_path, gateway):
    url, received = gateway
    from driftgate.core.layout import RegionLayout

    path = metrics.export(_result(), RegionLayout(str(tmp_path), "EWR", "flights_late"), pushgateway=url)
    assert path == str(tmp_path / "metrics" / "driftgate_ewr.prom")
    fams = _families(open(path).read())
    assert _sample(fams["driftgate_span_rows"], region="EWR") == 10015
    ((push_path, body),) = received
    assert push_path == "/metrics/job/driftgate/region/EWR"
    assert "driftgate_drift_score" in body


def test_serving_model_quality_and_prediction_drift_are_exported():
    from prometheus_client import generate_latest

    from tests.monitoring.test_monitoring import QUALITY

    r = _result()
    r.canary = {"verdict": "none", "quality": QUALITY}
    fams = _families(generate_latest(metrics.build_registry(r)).decode())
    labels = {"region": "EWR", "version": "2"}
    assert _sample(fams["driftgate_serving_model_auc"], **labels) == 0.61
    assert _sample(fams["driftgate_serving_model_auc_lower"], **labels) == 0.6
    assert _sample(fams["driftgate_serving_model_auc_upper"], **labels) == 0.62
    assert _sample(fams["driftgate_serving_model_reference_auc"], **labels) == 0.8
    assert _sample(fams["driftgate_serving_model_degraded"], **labels) == 1
    assert _sample(fams["driftgate_prediction_drift_psi"], **labels) == 0.3
    assert _sample(fams["driftgate_prediction_drift_severity"], **labels) == 2
    assert _sample(fams["driftgate_prediction_overlap"], **labels) == 0.71


def test_a_span_where_the_model_was_not_judged_exports_no_quality():
    from prometheus_client import generate_latest

    r = _result()
    r.canary = {"verdict": "none", "quality": {"verdict": "not_judged", "sentence": "quality not judged: x"}}
    text = generate_latest(metrics.build_registry(r)).decode()
    assert "driftgate_serving_model_auc" not in text and "driftgate_prediction_drift_psi" not in text


def test_staleness_against_the_challenger_is_exported_when_measured():
    from prometheus_client import generate_latest

    from tests.monitoring.test_monitoring import QUALITY

    staleness = {"span": 7, "rows": 2000, "challenger_auc": 0.79, "lost": 0.098, "lost_low": 0.08}
    r = _result()
    r.canary = {"verdict": "none", "quality": dict(QUALITY, staleness=staleness)}
    fams = _families(generate_latest(metrics.build_registry(r)).decode())
    labels = {"region": "EWR", "version": "2"}
    assert _sample(fams["driftgate_serving_model_advantage_lost"], **labels) == 0.098
    assert _sample(fams["driftgate_serving_model_advantage_lost_lower"], **labels) == 0.08
    assert _sample(fams["driftgate_challenger_auc"], **labels) == 0.79
    # no push-time advantage recorded: nothing lost can be said, nothing exported
    r.canary = {"verdict": "none", "quality": dict(QUALITY, staleness=dict(staleness, lost=None))}
    assert "driftgate_serving_model_advantage_lost" not in generate_latest(metrics.build_registry(r)).decode()
