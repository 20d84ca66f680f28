"""run_span records a run and its side channels; a failing side channel (a
Pushgateway that is not there, an alert receiver that refuses) leaves the run
done, with a warning in its result. The pipeline run itself is the subject of
tests/e2e; here ``run_region`` hands back a finished run's result so that only
what happens after it is exercised, against real sockets and files."""

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


def test_failing_side_channels_leave_the_run_done_with_warnings(tmp_path, monkeypatch, refusing_receiver):
    from driftgate.app import run_span as app
    from pipelines import local_runner

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
    monkeypatch.setattr(local_runner, "run_region", lambda config, **kw: finished)
    cfg = load_region_config("EWR")
    cfg = dataclasses.replace(cfg, alerts=dataclasses.replace(cfg.alerts, enabled=True, retries=0))
    env = {"DRIFTGATE_PAGERDUTY_ROUTING_KEY": "k", "DRIFTGATE_PAGERDUTY_URL": f"{url}/v2/enqueue"}
    out = app.run_span(cfg, root=str(tmp_path), pushgateway=f"127.0.0.1:{_closed_port()}", environ=env)
    assert [w.split(":")[0] for w in out.warnings] == ["metrics", "alerts"]
    assert (
        "rejected with HTTP 400" in out.warnings[1] and "k" not in out.warnings[1].split("rejected")[0][-3:]
    )
    assert got == ["/v2/enqueue"]
    saved = json.loads((tmp_path / "EWR" / "results" / "span-3.json").read_text())
    assert saved["warnings"] == out.warnings and saved["decision"] == "retrain"
    assert (tmp_path / "EWR" / "reports" / "span-3.html").is_file()
    assert saved["driftgate_version"]
