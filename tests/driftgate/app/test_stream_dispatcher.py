"""The stream's alert dispatcher against Slack and PagerDuty receivers on
loopback: each alert is recorded before it is sent and again once it was, so
a restart after a crash mid-send never posts a second Slack message, repeats
a PagerDuty trigger (folded by its dedup key), and retries a send that
failed."""

import dataclasses
import json

from driftgate.app.stream import SENDING, Dispatcher
from driftgate.core.config import load_region_config
from streaming.detector import Episode, Finding, Transition
from tests.components.monitor.test_alerts import _env, receiver  # noqa: F401  (the receiver fixture)


def _cfg(retries=0):
    cfg = load_region_config("EWR")
    alerts = dataclasses.replace(cfg.alerts, enabled=True, retries=retries, backoff_seconds=0.01)
    return dataclasses.replace(cfg, alerts=alerts)


def _open(severity):
    ep = Episode("temp", 100, severity, 1_000_000, 1_000_000)
    return Transition("open", ep, 1_010_000, Finding("ks", 30.0, 0.4, 0.2, 1500, severity))


def _dispatch(cfg, path, env, transition):
    d = Dispatcher(cfg, str(path), env)
    d([transition])
    d.drain()
    return d.outcomes


def _crashed_mid_send(sent, severity):
    """What a process killed between the record and the reply leaves."""
    record = {"at": 0, "severity": severity, "outcome": SENDING}
    sent.write_text(json.dumps({f"temp@100:open:{severity}": record}))


def test_a_sent_alert_is_recorded_and_never_sent_again(receiver, tmp_path):  # noqa: F811
    url, got, _ = receiver
    sent = tmp_path / "alerts.json"
    env = _env(url, tmp_path)
    assert _dispatch(_cfg(), sent, env, _open("warning"))[0]["outcome"] == "sent to slack"
    assert json.loads(sent.read_text())["temp@100:open:warning"]["outcome"] == "sent to slack"
    assert _dispatch(_cfg(), sent, env, _open("warning"))[0]["outcome"] == "already sent"
    assert [p for p, _, _ in got] == ["/slack/hook"]


def test_a_crash_mid_send_does_not_post_to_slack_twice(receiver, tmp_path):  # noqa: F811
    url, got, _ = receiver
    sent = tmp_path / "alerts.json"
    # what a process killed between the record and the reply leaves
    sent.write_text(
        json.dumps({"temp@100:open:warning": {"at": 0, "severity": "warning", "outcome": SENDING}})
    )
    out = _dispatch(_cfg(), sent, _env(url, tmp_path), _open("warning"))
    assert out[0]["outcome"] == "already sent (unconfirmed: the process stopped mid-send)"
    assert got == []


def test_a_crash_mid_send_repeats_the_pagerduty_trigger_under_its_dedup_key(receiver, tmp_path):  # noqa: F811
    url, got, _ = receiver
    sent = tmp_path / "alerts.json"
    sent.write_text(
        json.dumps({"temp@100:open:critical": {"at": 0, "severity": "critical", "outcome": SENDING}})
    )
    out = _dispatch(_cfg(), sent, _env(url, tmp_path), _open("critical"))
    assert out[0]["outcome"] == "sent to pagerduty"
    ((path, body, _),) = got
    assert path == "/v2/enqueue" and body["dedup_key"] == "driftgate/EWR/stream/temp"
    assert json.loads(sent.read_text())["temp@100:open:critical"]["outcome"] == "sent to pagerduty"


def test_a_failed_send_leaves_no_record_so_a_restart_sends_it(receiver, tmp_path):  # noqa: F811
    url, got, codes = receiver
    sent = tmp_path / "alerts.json"
    env = _env(url, tmp_path)
    codes.extend([500])  # no retries: the one attempt fails
    out = _dispatch(_cfg(retries=0), sent, env, _open("warning"))
    assert out[0]["outcome"].startswith("failed")
    assert json.loads(sent.read_text()) == {}
    assert _dispatch(_cfg(retries=0), sent, env, _open("warning"))[0]["outcome"] == "sent to slack"
    assert len(got) == 2
