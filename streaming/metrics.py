"""Prometheus metrics of a running lander (``driftgate land --metrics-port``)
and stream watcher (``driftgate stream --metrics-port``), read from their
live state on every scrape. Lander: records, late records, dead letters,
files, sealed spans (counters, kept across restarts in the checkpoint), the
watermark and its lag behind the wall clock, rows buffered, the last
checkpoint's time and duration, consumer lag per partition. Stream: records, late and refused records,
panes judged, events, transitions dropped from the result's list, consumer
lag per partition, watermark lag, every window's newest score and threshold,
open episodes, CUSUM, alert outcomes and the dispatch-time histogram (both
kept as running counts, so a watcher that runs for months holds no list of
its alerts)."""

from __future__ import annotations

import threading
import time

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

COUNTERS = {
    "records": ("driftgate_land_records", "records landed into spans (late ones included)"),
    "late": ("driftgate_land_late_records", "records of an already sealed span (quarantined or dropped)"),
    "dead_letters": ("driftgate_land_dead_letters", "poison records sent to the dead-letter topic"),
    "files": ("driftgate_land_files", "span files written"),
    "sealed": ("driftgate_land_spans_sealed", "spans sealed (_SUCCESS written)"),
    "skipped_offsets": (
        "driftgate_land_skipped_offsets",
        "offsets past the checkpoint the broker no longer had when the lander resumed (retention)",
    ),
}


class LanderCollector:
    def __init__(self, lander, clock=time.time):
        self.lander = lander
        self.clock = clock

    def collect(self):
        region = self.lander.cfg.region
        for key, (name, doc) in COUNTERS.items():
            c = CounterMetricFamily(name, doc, labels=["region"])
            c.add_metric([region], float(self.lander.counts.get(key, 0)))
            yield c
        gauges = {
            "driftgate_land_buffered_records": (
                "rows consumed, not yet in a file",
                float(self.lander.buffered()),
            ),
            "driftgate_land_last_checkpoint_timestamp_seconds": (
                "wall clock of the last checkpoint",
                float(self.lander.last_checkpoint),
            ),
            "driftgate_land_checkpoint_duration_seconds": (
                "how long the last checkpoint took (files, manifests, commit point)",
                float(self.lander.checkpoint_seconds),
            ),
        }
        mark = self.lander.watermark.value
        if mark is not None:
            gauges["driftgate_land_watermark_seconds"] = ("the event-time watermark (epoch s)", mark / 1000)
            gauges["driftgate_land_watermark_lag_seconds"] = (
                "wall clock minus the watermark",
                self.clock() - mark / 1000,
            )
        for name, (doc, value) in gauges.items():
            g = GaugeMetricFamily(name, doc, labels=["region"])
            g.add_metric([region], value)
            yield g
        yield consumer_lag("driftgate_land_consumer_lag_records", region, self.lander.lag)


def consumer_lag(name: str, region: str, lag) -> GaugeMetricFamily:
    """Per partition: the high watermark minus the checkpointed (and committed) offset."""
    g = GaugeMetricFamily(
        name,
        "records on the broker past the checkpointed offset (high watermark minus committed offset)",
        labels=["region", "partition"],
    )
    for p, n in sorted(lag.items()):
        g.add_metric([region, str(p)], float(n))
    return g


def serve(lander, port: int, addr: str = "0.0.0.0"):
    """Serves ``/metrics`` for the lander on ``port``; returns the registry."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(LanderCollector(lander))
    start_http_server(port, addr=addr, registry=registry)
    return registry


DISPATCH_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Durations:
    """A histogram's cumulative bucket counts, sum and count, kept as they
    come (constant memory however many are observed)."""

    def __init__(self, buckets=DISPATCH_BUCKETS):
        self.buckets = tuple(buckets)
        self.counts = [0] * len(self.buckets)
        self.sum, self.count = 0.0, 0
        self.lock = threading.Lock()  # observed by the dispatcher's thread, read by a scrape's

    def observe(self, seconds: float) -> None:
        with self.lock:
            for i, b in enumerate(self.buckets):
                if seconds <= b:
                    self.counts[i] += 1
            self.sum += seconds
            self.count += 1

    def snapshot(self):
        """(cumulative count per bucket, sum, count)."""
        with self.lock:
            return list(self.counts), self.sum, self.count


class StreamCollector:
    """Metrics of a running stream watcher (``driftgate stream --metrics-port``),
    read from its live state on every scrape."""

    def __init__(self, streamer, dispatcher, clock=time.time):
        self.streamer, self.dispatcher, self.clock = streamer, dispatcher, clock

    def collect(self):
        s = self.streamer
        region = s.cfg.region
        det = s.detector
        counts = {**det.counts, **s.counts, "transitions_dropped": s.transitions_dropped}
        for key, doc in (
            ("records", "records counted into panes"),
            ("late", "records of a pane already judged (counted here only)"),
            ("refused", "records without a JSON object or an event time"),
            ("panes", "panes judged"),
            ("events", "feature-panes with a score over its threshold"),
            (
                "transitions_dropped",
                "episode transitions sent, then dropped from the result's list "
                "(past stream.keep_transitions; this process)",
            ),
        ):
            c = CounterMetricFamily(f"driftgate_stream_{key}", doc, labels=["region"])
            c.add_metric([region], float(counts.get(key, 0)))
            yield c
        yield consumer_lag("driftgate_stream_consumer_lag_records", region, s.lag)
        mark = s.watermark.value
        if mark is not None:
            g = GaugeMetricFamily(
                "driftgate_stream_watermark_lag_seconds", "wall clock minus the watermark", labels=["region"]
            )
            g.add_metric([region], self.clock() - mark / 1000)
            yield g
        score = GaugeMetricFamily(
            "driftgate_stream_window_score",
            "the newest window's score",
            labels=["region", "feature", "test", "window"],
        )
        thr = GaugeMetricFamily(
            "driftgate_stream_window_threshold",
            "its threshold (noise alone passes it at most once per ert_days in the region)",
            labels=["region", "feature", "test", "window"],
        )
        for (feature, test, window), x in sorted(det.latest.items()):
            labels = [region, feature, test, f"{window:g}s"]
            score.add_metric(labels, x.score)
            thr.add_metric(labels, x.threshold)
        yield score
        yield thr
        rates = GaugeMetricFamily(
            "driftgate_stream_integrity_rate",
            "a window's share of a feature missing, outside the baseline's range or unseen in it",
            labels=["region", "feature", "rate", "window"],
        )
        for k, w_s in zip(det.window_panes, det.cfg.windows_s, strict=False):
            if k in det.sums:
                for feature, found in sorted(det.sums[k][1].integrity().items()):
                    for name, value in sorted(found.items()):
                        rates.add_metric([region, feature, name, f"{w_s:g}s"], value)
        yield rates
        alarm = GaugeMetricFamily(
            "driftgate_stream_alarm",
            "1 while a feature's episode is open",
            labels=["region", "feature", "severity"],
        )
        for feature, ep in sorted(det.episodes.items()):
            alarm.add_metric([region, feature, ep.severity], 1.0)
        yield alarm
        cusum = GaugeMetricFamily(
            "driftgate_stream_cusum",
            "CUSUM of pane means (baseline std)",
            labels=["region", "feature", "side"],
        )
        for feature, (up, down) in sorted(det.cusum.items()):
            cusum.add_metric([region, feature, "up"], up)
            cusum.add_metric([region, feature, "down"], down)
        yield cusum
        sent = CounterMetricFamily(
            "driftgate_stream_alerts", "alert transitions handled, by outcome", labels=["region", "outcome"]
        )
        for k, n in sorted(dict(self.dispatcher.by_outcome).items()):
            sent.add_metric([region, k], float(n))
        yield sent
        cumulative, total, count = self.dispatcher.dispatch.snapshot()
        h = HistogramMetricFamily(
            "driftgate_stream_alert_dispatch_seconds",
            "from the judged pane to the alert handled",
            labels=["region"],
        )
        buckets = [(str(b), float(n)) for b, n in zip(DISPATCH_BUCKETS, cumulative, strict=True)]
        buckets.append(("+Inf", float(count)))
        h.add_metric([region], buckets, sum_value=total)
        yield h


def serve_stream(streamer, dispatcher, port: int, addr: str = "0.0.0.0"):
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(StreamCollector(streamer, dispatcher))
    start_http_server(port, addr=addr, registry=registry)
    return registry
