"""``publish`` (what the run recorder node does with a run's result): a
failing side channel (a Pushgateway that is not there, an alert receiver that
refuses) leaves the run done, with a warning in its result JSON. The node in
a real pipeline run is the subject of tests/e2e; here a finished run's result
is published against real sockets and files."""

import dataclasses
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from driftgate.core.config import load_region_config
from tests.components.monitor.test_metrics import _result


@pytest.fixture
def refusing_receiver():
    got = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            got.append(self.path)
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(400)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", got
    server.shutdown()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_failing_side_channels_leave_the_run_done_with_warnings(tmp_path, refusing_receiver):
    from components.monitor.publish import publish
    from driftgate.core.layout import RegionLayout

    url, got = refusing_receiver
    finished = _result()
    finished.anomalies = [
        {
            "split": "train",
            "feature": "dest",
            "types": ["ENUM_TYPE_UNEXPECTED_STRING_VALUES"],
            "severity": "WARNING",
            "description": "new values",
            "blocking": False,
        }
    ]
    cfg = load_region_config("EWR")
    cfg = dataclasses.replace(cfg, alerts=dataclasses.replace(cfg.alerts, enabled=True, retries=0))
    env = {"DRIFTGATE_PAGERDUTY_ROUTING_KEY": "k", "DRIFTGATE_PAGERDUTY_URL": f"{url}/v2/enqueue"}
    finished.driftgate_version = "0.1.0"
    publish(
        finished,
        RegionLayout(str(tmp_path), "EWR", cfg.serving.model_name),
        features=cfg.features.all,
        alerts_cfg=cfg.alerts,
        pushgateway=f"127.0.0.1:{_closed_port()}",
        environ=env,
    )
    out = finished
    assert [w.split(":")[0] for w in out.warnings] == ["metrics", "alerts"]
    assert (
        "rejected with HTTP 400" in out.warnings[1] and "k" not in out.warnings[1].split("rejected")[0][-3:]
    )
    assert got == ["/v2/enqueue"]
    saved = json.loads((tmp_path / "EWR" / "results" / "span-3.json").read_text())
    assert saved["warnings"] == out.warnings and saved["decision"] == "retrain"
    assert (tmp_path / "EWR" / "reports" / "span-3.html").is_file()
    assert saved["driftgate_version"]


def test_a_rolled_back_canary_alerts_and_shows_in_the_metrics():
    from components.monitor import alerts, metrics

    run = _result()
    run.canary = {
        "verdict": "rollback",
        "span": 3,
        "stable_version": 1,
        "canary_version": 2,
        "rows": 9000,
        "reasons": ["FAILED: AUC canary - stable -0.2100, 95% CI [-0.23, -0.19] vs margin -0.01: worse"],
    }
    derived = [a for a in alerts.derive(run, [], 3) if a.feature.startswith("<canary")]
    assert len(derived) == 1 and derived[0].severity == "warning"
    assert "canary v2 rolled back on span 3" in derived[0].summary and "AUC" in derived[0].summary
    reg = metrics.build_registry(run)
    got = {
        v: reg.get_sample_value("driftgate_canary_verdict", {"region": "EWR", "verdict": v})
        for v in ("promote", "rollback", "pending")
    }
    assert got == {"promote": 0.0, "rollback": 1.0, "pending": 0.0}
    run.canary = {"verdict": "none"}  # nothing judged: no verdict series at all
    assert (
        metrics.build_registry(run).get_sample_value(
            "driftgate_canary_verdict", {"region": "EWR", "verdict": "promote"}
        )
        is None
    )
    assert not [a for a in alerts.derive(run, [], 3) if a.feature.startswith("<canary")]
