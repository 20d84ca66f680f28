"""The exit task of a Kubeflow run (components/monitor/finalizer.py), on a temp
region root: its three cases, and what it records, alerts and pushes."""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from components.monitor import finalizer
from components.state import RegionState
from driftgate.core import lease
from driftgate.core.config import AlertsConfig
from driftgate.core.layout import RegionLayout


@pytest.fixture
def layout(tmp_path):
    return RegionLayout(str(tmp_path / "root"), "EWR", "flights_late")


def _uri(layout, run):
    return f"{layout.pipeline_root}/driftgate-ewr/{run}/run_finalizer/outcome"


def _alerts(enabled: bool) -> AlertsConfig:
    return AlertsConfig(
        enabled=enabled,
        warning="slack",
        critical="pagerduty",
        cooldown_minutes=0,
        escalate_after_spans=3,
        retries=0,
        backoff_seconds=0.0,
    )


def _finalize(layout, run, alerts=None, environ=None):
    return finalizer.finalize(
        layout,
        _uri(layout, run),
        alerts_cfg=alerts or _alerts(False),
        pushgateway=None,
        environ=environ or {},
    )


def test_a_completed_run_is_left_as_it_is(layout):
    taken = lease.Lease(layout.lease_file, "run-1", 900, lease.NO_PID)
    taken.acquire()
    lease.release_run(layout.lease_file, "run-1")  # what the run recorder does
    before = open(layout.lease_file).read()
    out = _finalize(layout, "run-1")
    assert out.state == finalizer.COMPLETED and not out.failed
    assert open(layout.lease_file).read() == before
    assert not os.path.exists(finalizer.failure_file(layout, "run-1"))
    with open(_uri(layout, "run-1")) as fh:  # the Markdown card, a file at the URI
        assert "completed" in fh.read()


def test_a_run_that_died_holding_the_lease_frees_the_region_at_once(layout):
    lease.Lease(layout.lease_file, "run-2", 900, lease.NO_PID).acquire()
    RegionState(layout.state_dir).record_span({"span": 3, "decision": "retrain", "completed": False})
    out = _finalize(layout, "run-2")
    assert out.state == finalizer.FREED and out.failed
    assert not lease.holds(layout.lease_file, "run-2")
    lease.Lease(layout.lease_file, "run-3").acquire()  # the next run starts at once, not after the TTL
    record = json.loads(open(finalizer.failure_file(layout, "run-2")).read())
    assert record["state"] == finalizer.FREED and "ended without a run record" in record["summary"]
    assert RegionState(layout.state_dir).processed_spans() == []  # span 3 is taken again


def test_a_run_refused_by_the_lease_leaves_the_holders_lease_alone(layout):
    lease.Lease(layout.lease_file, "run-other", 900, lease.NO_PID).acquire()
    before = open(layout.lease_file).read()
    out = _finalize(layout, "run-4")
    assert out.state == finalizer.NOT_HELD and out.failed
    assert open(layout.lease_file).read() == before
    assert "run-other" in out.holder and "left alone" in out.summary


def test_a_completed_history_entry_counts_even_after_another_run_took_the_lease(layout):
    state = RegionState(layout.state_dir)
    state.record_span({"span": 1, "decision": "skip", "completed": False})
    state.mark_completed(1, "run-5")
    lease.Lease(layout.lease_file, "run-6", 900, lease.NO_PID).acquire()
    assert _finalize(layout, "run-5").state == finalizer.COMPLETED


def test_a_failure_is_alerted_as_critical_to_pagerduty(layout):
    got = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(202)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        lease.Lease(layout.lease_file, "run-7", 900, lease.NO_PID).acquire()
        env = {
            "DRIFTGATE_PAGERDUTY_ROUTING_KEY": "rk",
            "DRIFTGATE_PAGERDUTY_URL": f"http://127.0.0.1:{server.server_address[1]}/v2/enqueue",
        }
        out = _finalize(layout, "run-7", alerts=_alerts(True), environ=env)
    finally:
        server.shutdown()
    assert out.failed and not out.warnings
    (event,) = got
    assert event["routing_key"] == "rk" and event["payload"]["severity"] == "critical"
    assert event["dedup_key"] == "driftgate/EWR/<run run-7>"
    assert "EWR run run-7 ended without a run record" in event["payload"]["summary"]


def test_the_task_fails_in_one_line(layout):
    lease.Lease(layout.lease_file, "run-8", 900, lease.NO_PID).acquire()
    out = _finalize(layout, "run-8")
    assert out.failed and "\n" not in out.summary


def test_a_failure_reaches_a_real_pushgateway_beside_the_last_runs_metrics(layout, pushgateway):
    import urllib.request

    from prometheus_client import CollectorRegistry, Gauge, push_to_gateway
    from prometheus_client.parser import text_string_to_metric_families

    last = CollectorRegistry()  # what the last recorded run pushed for the region
    Gauge("driftgate_span_number", "span", ["region"], registry=last).labels("EWR").set(3)
    push_to_gateway(pushgateway, job="driftgate", grouping_key={"region": "EWR"}, registry=last)
    lease.Lease(layout.lease_file, "run-9", 900, lease.NO_PID).acquire()
    out = finalizer.finalize(
        layout, _uri(layout, "run-9"), alerts_cfg=_alerts(False), pushgateway=pushgateway, environ={}
    )
    assert out.failed and not out.warnings
    text = urllib.request.urlopen(f"http://{pushgateway}/metrics", timeout=5).read().decode()
    samples = {
        (s.name, s.labels.get("run_id")): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.labels.get("region") == "EWR"
    }
    assert samples[("driftgate_run_failed", "run-9")] == 1
    assert samples[("driftgate_span_number", None)] == 3  # pushadd: the run's other metrics stay
