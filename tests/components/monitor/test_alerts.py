"""Direct notifier against HTTP receivers on loopback: Slack and PagerDuty
payload formats, retries with backoff, dedup, cooldown, escalation, secrets."""

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from components.monitor import alerts
from driftgate.core.config import load_region_config
from tests.components.monitor.test_metrics import _result


@pytest.fixture
def receiver():
    """Records POSTs; answers with the queued status codes (then 200)."""
    got, codes = [], []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            got.append((self.path, body, time.monotonic()))
            code = codes.pop(0) if codes else 200
            code, headers = code if isinstance(code, tuple) else (code, {})
            self.send_response(code)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", got, codes
    server.shutdown()


def _cfg(**kw):
    cfg = dataclasses.replace(load_region_config("EWR").alerts, enabled=True, backoff_seconds=0.01)
    return dataclasses.replace(cfg, **kw)


def _env(url, tmp_path):
    key_file = tmp_path / "pd-key"
    key_file.write_text("R0UT1NGKEY\n")
    return {
        "DRIFTGATE_SLACK_WEBHOOK_URL": f"{url}/slack/hook",
        "DRIFTGATE_PAGERDUTY_ROUTING_KEY_FILE": str(key_file),
        "DRIFTGATE_PAGERDUTY_URL": f"{url}/v2/enqueue",
    }


def test_critical_goes_to_pagerduty_in_events_v2_format(receiver, tmp_path):
    url, got, _ = receiver
    out = alerts.notify(_result(), [], _cfg(), str(tmp_path / "sent.json"), env=_env(url, tmp_path))
    assert out == [{"key": "driftgate/EWR/temp", "severity": "critical", "outcome": "sent to pagerduty"}]
    ((path, body, _),) = got
    assert path == "/v2/enqueue"
    assert body["routing_key"] == "R0UT1NGKEY" and body["event_action"] == "trigger"
    assert body["dedup_key"] == "driftgate/EWR/temp"
    p = body["payload"]
    assert p["severity"] == "critical" and p["source"] == "driftgate/EWR" and p["component"] == "temp"
    assert "temp drifts (critical)" in p["summary"] and p["custom_details"]["scores"]["psi"] == 1.2


def test_warning_goes_to_slack_with_text_and_blocks(receiver, tmp_path):
    url, got, _ = receiver
    res = _result(temp="warning")
    alerts.notify(res, [], _cfg(), str(tmp_path / "sent.json"), env=_env(url, tmp_path))
    ((path, body, _),) = got
    assert path == "/slack/hook"
    assert body["text"].startswith(":warning: [warning] EWR: temp drifts (warning)")
    assert body["blocks"][0]["type"] == "section" and body["blocks"][0]["text"]["type"] == "mrkdwn"


def test_retries_with_backoff_then_succeeds(receiver, tmp_path):
    url, got, codes = receiver
    codes.extend([503, 500])
    out = alerts.notify(_result(), [], _cfg(retries=3), str(tmp_path / "sent.json"), env=_env(url, tmp_path))
    assert len(got) == 3 and out[0]["outcome"] == "sent to pagerduty"


def test_gives_up_without_leaking_the_secret(receiver, tmp_path):
    url, got, codes = receiver
    codes.extend([500] * 5)
    with pytest.raises(alerts.NotifyError) as err:
        alerts.notify(_result(), [], _cfg(retries=2), str(tmp_path / "sent.json"), env=_env(url, tmp_path))
    assert len(got) == 3 and "R0UT1NGKEY" not in str(err.value) and url not in str(err.value)
    codes.clear()
    codes.append(400)  # a rejected payload is not retried
    with pytest.raises(alerts.NotifyError, match="rejected with HTTP 400"):
        alerts.notify(_result(), [], _cfg(retries=2), str(tmp_path / "sent2.json"), env=_env(url, tmp_path))
    assert len(got) == 4


def test_cooldown_deduplicates_and_escalation_breaks_through(receiver, tmp_path):
    url, got, _ = receiver
    env, state = _env(url, tmp_path), str(tmp_path / "sent.json")
    res = _result(temp="warning")
    alerts.notify(res, [], _cfg(), state, env=env, now=1000.0)
    again = alerts.notify(res, [], _cfg(), state, env=env, now=1000.0 + 60)
    assert again[0]["outcome"] == "cooldown" and len(got) == 1
    history = [{"span": s, "decision": "retrain", "drifted": {"training": ["temp"]}} for s in (1, 2, 3)]
    escalated = alerts.notify(res, history, _cfg(escalate_after_spans=3), state, env=env, now=1000.0 + 120)
    assert escalated[0] == {
        "key": "driftgate/EWR/temp",
        "severity": "critical",
        "outcome": "sent to pagerduty",
    }
    assert "escalated to critical" in got[-1][1]["payload"]["summary"]
    later = alerts.notify(res, [], _cfg(), state, env=env, now=1000.0 + 7 * 3600)
    assert later[0]["outcome"] == "sent to slack"


def test_blocked_span_pages_and_missing_secret_is_reported(tmp_path):
    out = alerts.notify(_result("block"), [], _cfg(), str(tmp_path / "sent.json"), env={})
    assert {o["key"] for o in out} == {"driftgate/EWR/<span>", "driftgate/EWR/temp"}
    assert all(o["outcome"] == "no pagerduty secret" for o in out)


def test_no_secret_in_committed_config():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "pipelines" / "regions" / "defaults.yaml").read_text()
    assert "hooks.slack.com" not in text and "routing_key" not in text


def _two_features(temp="critical", dewp="critical"):
    from components.drift.results import Comparison, FeatureDrift, TestResult
    from components.gate.decision import SpanReport

    def feature(sev):
        t = TestResult(score=0.3, verdict=sev, warning=0.1, critical=0.2)
        return FeatureDrift("numeric", sev, 5000.0, 5000.0, {"ks": t})

    drifting = tuple(f for f, sev in (("dewp", dewp), ("temp", temp)) if sev != "none")
    comp = Comparison(
        "training",
        2,
        "critical" if drifting else "none",
        drifting,
        {"temp": feature(temp), "dewp": feature(dewp)},
    )
    res = _result()
    res.drift = SpanReport(span=3, decision="retrain", rows={"train": 10}, drift={"training": comp})
    return res


def test_a_later_failure_keeps_earlier_alerts_recorded_and_the_rest_sent(receiver, tmp_path):
    url, got, codes = receiver
    env, state = _env(url, tmp_path), str(tmp_path / "sent.json")
    codes.extend([200, 400])  # dewp goes out, temp is rejected
    with pytest.raises(alerts.NotifyError) as err:
        alerts.notify(_two_features(), [], _cfg(retries=0), state, env=env, now=1000.0)
    outcomes = {o["key"]: o["outcome"] for o in err.value.outcomes}
    assert outcomes["driftgate/EWR/dewp"] == "sent to pagerduty"
    assert outcomes["driftgate/EWR/temp"].startswith("failed: pagerduty: rejected with HTTP 400")
    assert set(json.loads((tmp_path / "sent.json").read_text())) == {"driftgate/EWR/dewp"}
    again = alerts.notify(_two_features(), [], _cfg(retries=0), state, env=env, now=1060.0)
    assert {o["key"]: o["outcome"] for o in again} == {
        "driftgate/EWR/dewp": "cooldown",  # not sent twice
        "driftgate/EWR/temp": "sent to pagerduty",  # retried on the next run
    }
    assert [g[1]["dedup_key"] for g in got] == [
        "driftgate/EWR/dewp",
        "driftgate/EWR/temp",
        "driftgate/EWR/temp",
    ]


def test_429_waits_as_long_as_retry_after_says(receiver, tmp_path):
    url, got, codes = receiver
    codes.append((429, {"Retry-After": "1"}))
    out = alerts.notify(_result(), [], _cfg(retries=2), str(tmp_path / "sent.json"), env=_env(url, tmp_path))
    assert out[0]["outcome"] == "sent to pagerduty" and len(got) == 2
    assert got[1][2] - got[0][2] >= 1.0  # backoff alone would have been 0.01 s


def test_pagerduty_incident_is_resolved_when_the_feature_stops_drifting(receiver, tmp_path):
    url, got, _ = receiver
    env, state = _env(url, tmp_path), str(tmp_path / "sent.json")
    alerts.notify(_two_features(), [], _cfg(), state, env=env, now=1000.0)
    out = alerts.notify(_two_features(temp="none"), [], _cfg(), state, env=env, now=2000.0)
    assert {"key": "driftgate/EWR/temp", "severity": "critical", "outcome": "resolved in pagerduty"} in out
    resolve = got[-1][1]
    assert resolve == {
        "routing_key": "R0UT1NGKEY",
        "event_action": "resolve",
        "dedup_key": "driftgate/EWR/temp",
    }
    assert "driftgate/EWR/temp" not in json.loads((tmp_path / "sent.json").read_text())


def test_a_degraded_serving_model_and_prediction_drift_alert_with_the_sentence():
    from tests.monitoring.test_monitoring import QUALITY

    r = _result(decision="retrain", temp="none")
    r.canary = {
        "verdict": "none",
        "quality": dict(QUALITY, sentence="serving v2 scores AUC 0.610 [0.600, 0.620]"),
    }
    found = {a.feature: a for a in alerts.derive(r, [], 3)}
    degraded = found["<quality v2>"]
    assert degraded.severity == "warning"
    assert degraded.summary == "EWR: serving v2 scores AUC 0.610 [0.600, 0.620]; decision: retrain"
    moved = found["<predictions v2>"]
    assert moved.severity == "critical" and "PSI 0.300" in moved.summary
    fair, shift = found["<fairness v2>"], found["<importance v2>"]  # the parity finding; nDCG 0.8 < 0.9
    assert (
        fair.severity == shift.severity == "warning"
        and "carrier=EV: false positive rate 1.40x" in fair.summary
    )
