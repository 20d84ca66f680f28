"""Prometheus metrics of a running lander, read from its live state on every
scrape (``driftgate land --metrics-port``): records, late records, dead
letters, files, sealed spans (counters, kept across restarts in the
checkpoint), the watermark and its lag behind the wall clock, rows buffered,
the last checkpoint's time and duration."""

from __future__ import annotations

import time

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

COUNTERS = {
    "records": ("driftgate_land_records", "records landed into spans (late ones included)"),
    "late": ("driftgate_land_late_records", "records of an already sealed span (quarantined or dropped)"),
    "dead_letters": ("driftgate_land_dead_letters", "poison records sent to the dead-letter topic"),
    "files": ("driftgate_land_files", "span files written"),
    "sealed": ("driftgate_land_spans_sealed", "spans sealed (_SUCCESS written)"),
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


def serve(lander, port: int, addr: str = "0.0.0.0"):
    """Serves ``/metrics`` for the lander on ``port``; returns the registry."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(LanderCollector(lander))
    start_http_server(port, addr=addr, registry=registry)
    return registry
