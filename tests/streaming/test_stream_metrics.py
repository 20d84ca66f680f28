"""The stream watcher's Prometheus endpoint, scraped over real HTTP
(``prometheus_client``'s server, the one ``--metrics-port`` starts): after
records with a shift, the window scores and thresholds, the open episode,
the record counters, lag and the dispatch histogram are there. The records
are handed to the watcher as consumed messages (no broker here; the broker
path is ``test_stream.py``)."""

import json
import socket
import tempfile
import time
import urllib.request

import numpy as np
import pandas as pd

from driftgate.core.config import load_region_config
from streaming import replay

START = 1_357_084_800_000


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape_text() -> str:
    import tensorflow_data_validation as tfdv

    from driftgate.app.stream import Dispatcher
    from streaming import metrics, thresholds
    from streaming.baseline import from_statistics
    from streaming.detector import fixed_tiers
    from streaming.streamer import Streamer

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"temp": rng.normal(40, 10, 4000), "carrier": rng.choice(list("ABC"), 4000)})
    stats = tfdv.generate_statistics_from_dataframe(frame)
    cfg = load_region_config("EWR")
    base = from_statistics(stats, ["temp"], ["carrier"], span=1)
    th = thresholds.calibrate(base, cfg.stream, draws=100)
    work = tempfile.mkdtemp()
    dispatcher = Dispatcher(cfg, f"{work}/alerts.json", env={})
    s = Streamer(cfg, work, base, th, fixed_tiers(cfg.drift), sink=dispatcher)
    s.start_offsets([0], time.time())
    rows = frame.to_dict("records")

    def warm(r, _):
        r["temp"] += 30

    events = list(replay.sampled(rows, START, 120, 50, "event_time", seed=1))
    events += list(replay.sampled(rows, START + 120_000, 60, 50, "event_time", seed=2, change=warm))
    msgs = [replay.Message(0, i, json.dumps(r).encode(), t) for i, (t, r) in enumerate(events)]
    msgs.append(replay.Message(0, len(msgs), b"not json", START))
    for i in range(0, len(msgs), 1000):
        s.handle_batch(msgs[i : i + 1000], time.time())
        s.tick(time.time())
    s.lag = {0: 5}
    dispatcher.drain()
    port = _free_port()
    metrics.serve_stream(s, dispatcher, port, addr="127.0.0.1")
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def test_the_endpoint_shows_windows_episodes_and_counters():
    from prometheus_client.parser import text_string_to_metric_families

    fams = {f.name: f for f in text_string_to_metric_families(scrape_text())}
    scores = [x for x in fams["driftgate_stream_window_score"].samples if x.labels["feature"] == "temp"]
    assert {x.labels["window"] for x in scores} == {"30s", "300s", "3600s"}
    thresholds = {
        (x.labels["test"], x.labels["window"]): x.value
        for x in fams["driftgate_stream_window_threshold"].samples
    }
    assert all(v > 0 for v in thresholds.values())
    assert any(
        x.value > thresholds[(x.labels["test"], x.labels["window"])]
        for x in scores
        if x.labels["test"] == "ks"
    )
    alarm = [x for x in fams["driftgate_stream_alarm"].samples if x.labels["feature"] == "temp"]
    assert alarm and alarm[0].value == 1 and alarm[0].labels["severity"] == "critical"
    counts = {
        x.name: x.value
        for f in ("driftgate_stream_records", "driftgate_stream_refused")
        for x in fams[f].samples
    }
    assert counts["driftgate_stream_records_total"] == 9000 and counts["driftgate_stream_refused_total"] == 1
    assert fams["driftgate_stream_consumer_lag_records"].samples[0].value == 5
    sent = [x for x in fams["driftgate_stream_alert_dispatch_seconds"].samples if x.name.endswith("_count")]
    assert sent[0].value >= 1  # the episode's alert went through the dispatcher (alerts disabled: logged)


def test_each_window_exports_its_integrity_rates():
    """The warm minute (+30 on temp, ~N(40, 10) in the baseline) puts a good
    share of the newest window above the baseline's range; carrier keeps its
    three values; nothing is missing."""
    from prometheus_client.parser import text_string_to_metric_families

    fams = {f.name: f for f in text_string_to_metric_families(scrape_text())}
    rates = {
        (x.labels["feature"], x.labels["rate"], x.labels["window"]): x.value
        for x in fams["driftgate_stream_integrity_rate"].samples
    }
    assert rates[("temp", "out_of_range", "30s")] > 0.1
    assert rates[("temp", "out_of_range", "30s")] > rates[("temp", "out_of_range", "3600s")]
    assert rates[("carrier", "unseen", "30s")] == 0.0 and rates[("temp", "missing", "300s")] == 0.0
