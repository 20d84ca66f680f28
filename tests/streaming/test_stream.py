"""``driftgate stream`` against a real Kafka-protocol broker (Tansu, started by
the fixture on a free loopback port) and a real HTTP receiver standing in for
Slack's incoming webhook: records bootstrapped from EWR January at 50 per
second of event time, judged against January's own statistics as the
training baseline. A stationary stretch raises nothing; a 1-sigma mean shift
in temperature alerts within 30 s of its first event; a ``kill -9`` of the
command mid-episode and a restart send no second alert and end in the same
state as an uninterrupted run. What it does not prove: Slack's or
PagerDuty's own acceptance of the payloads (``tests/components/monitor``
checks their formats), a multi-broker cluster."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from components.state import RegionState
from streaming import kafka, replay, spans
from streaming.streamer import read_state
from tests.streaming.test_detector import rounded

START = spans.bounds(516, "monthly")[0] + 86_400_000  # 2013-01-02
RATE = 50
STATIONARY_S, SHIFTED_S, GAP_S = 600, 240, 60


class Webhook:
    """A real HTTP server recording what it is sent (Slack's webhook contract: JSON, 200)."""

    def __init__(self):
        self.bodies = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self):
        return [b["text"] for b in self.bodies]


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.server.shutdown()


@pytest.fixture(scope="module")
def january(flights_frame, stats_of, tmp_path_factory):
    """EWR January's rows (as the CSV has them) and a region state whose span 516 holds their statistics."""
    from driftgate.core.config import load_region_config

    cfg = load_region_config("EWR")
    cols = list(cfg.features.all) + [cfg.features.label]
    frame = flights_frame[(flights_frame.origin == "EWR") & (flights_frame.month == 1)][cols]
    root = tmp_path_factory.mktemp("root")
    RegionState(str(root / "EWR" / "state")).save_statistics(516, stats_of(frame))
    rows = [{k: (None if v != v else v) for k, v in r.items()} for r in frame.to_dict("records")]
    return rows, str(root), float(frame.temp.std())


def _yaml(folder, bootstrap, topic):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "EWR.yaml"), "w") as fh:
        fh.write(
            "region: EWR\nschema: {version: 1}\ndata: {source: kafka}\n"
            f"kafka: {{bootstrap: '{bootstrap}', topic_template: {topic}}}\n"
            "land: {span: monthly}\n"
            "stream: {allowed_lateness_s: 0, idle_partition_s: 1, checkpoint_s: 1000}\n"
            "alerts: {enabled: true, warning: slack, critical: slack, retries: 0}\n"
        )


def _stream(config_dir, data_dir, root, hook_url, idle=4):
    env = dict(os.environ, DRIFTGATE_SLACK_WEBHOOK_URL=hook_url)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "driftgate",
            "stream",
            "--region",
            "EWR",
            "--config-dir",
            config_dir,
            "--data",
            data_dir,
            "--root",
            root,
            "--baseline-span",
            "516",
            "--exit-when-idle",
            str(idle),
            "-o",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def _events(rows, std):
    def warmer(record, rng):
        if record.get("temp") is not None:
            record["temp"] = float(record["temp"]) + std

    calm = list(replay.sampled(rows, START, STATIONARY_S, RATE, "event_time", seed=1))
    shift_ms = START + (STATIONARY_S + GAP_S) * 1000
    shifted = list(replay.sampled(rows, shift_ms, SHIFTED_S, RATE, "event_time", seed=2, change=warmer))
    return calm, shifted, shift_ms


def _state(data_dir):
    """The committed state, every pane in it (the checkpoint file and its pane segments)."""
    return read_state(os.path.join(data_dir, "EWR"))


def _finish(proc, timeout=120):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err.decode()[-3000:]
    return json.loads(out)


def test_shift_alerts_within_30s_and_a_kill_9_mid_episode_alerts_once(broker, january, webhook, tmp_path):
    rows, root, std = january
    calm, shifted, shift_ms = _events(rows, std)
    # the run under test: stationary part, then the shift; killed once its alert went out
    kafka.create_topic(broker, "t.killed", 2)
    config_dir = str(tmp_path / "regions")
    _yaml(config_dir, broker, "t.killed")
    data = str(tmp_path / "data")
    replay.produce(broker, "t.killed", calm, 2)
    first = _finish(_stream(config_dir, data, root, webhook.url))
    assert first["counts"]["records"] == len(calm), first["counts"]
    assert webhook.bodies == [], "a stationary stretch raises nothing"
    replay.produce(broker, "t.killed", shifted, 2)
    proc = _stream(config_dir, data, root, webhook.url, idle=30)
    deadline = time.time() + 120
    while not webhook.bodies and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(webhook.bodies) == 1, webhook.texts()
    again = _finish(_stream(config_dir, data, root, webhook.url))
    # killed after the webhook got it: recorded as sent, or as sending when the
    # kill came before the reply was recorded; either way not sent to Slack again
    assert any(o["outcome"].startswith("already sent") for o in again["alerts"]), again["alerts"]
    opened = [t for t in webhook.texts() if "drifts" in t]
    assert len(opened) == 1 and "temp drifts" in opened[0], webhook.texts()
    # within 30 s of event time of the first shifted record
    episode = next(e for e in again["episodes"] if e["feature"] == "temp")
    opened_at_ms = (int(episode["episode"].split("@")[1]) + 1) * 10_000
    assert 0 < opened_at_ms - shift_ms <= 30_000
    killed = _state(data)

    # the same records in one uninterrupted run end in the same state
    kafka.create_topic(broker, "t.whole", 2)
    config_dir2 = str(tmp_path / "regions2")
    _yaml(config_dir2, broker, "t.whole")
    replay.produce(broker, "t.whole", calm + shifted, 2)
    data2 = str(tmp_path / "data2")
    whole = _finish(_stream(config_dir2, data2, root, webhook.url))
    assert whole["counts"]["records"] == len(calm) + len(shifted) == again["counts"]["records"]
    ref = _state(data2)
    assert len(ref["detector"]["panes"]) > 60  # the closed panes, read back from their segments
    for part in ("episodes", "cusum", "panes", "latest"):  # floats to rounding (how records were batched)
        assert rounded(killed["detector"][part]) == rounded(ref["detector"][part]), part
