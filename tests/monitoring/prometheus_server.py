"""A real Prometheus server for tests, holding TF Serving series.

The series are written as TF Serving 2.16.1's exporter names them
(``serving/health.py``: ``:tensorflow:serving:request_count{model_name,status}``,
``:tensorflow:serving:request_latency_bucket{model_name,API,entrypoint,le}`` in
microseconds with its exponential buckets) plus the labels the PodMonitor's
scrape adds (``region``, ``track``, ``namespace``, ``pod``, ``instance``,
``job``), backfilled into TSDB blocks with ``promtool tsdb
create-blocks-from openmetrics``; then Debian's ``prometheus`` is started on
loopback over those blocks and asked over its HTTP API. No scrape happens:
what this does not show is that a live TF Serving pod is scraped (the
PodMonitor is validated against the operator's CRD instead).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List

import numpy as np

from driftgate.local.engines import free_ports
from serving import health

PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")
STEP_S = 15  # the scrape interval the series are written at


@dataclass(frozen=True)
class Traffic:
    """One pod's traffic: requests a second, the share failing (status
    ``INTERNAL``), and its latency: lognormal with this median (ms)."""

    rps: float
    error_share: float = 0.001
    median_ms: float = 20.0
    sigma: float = 0.35
    probes_per_min: float = 6  # the kubelet's readiness probe: GET /v1/models/<model>, OK, API ""


def _labels(**kv) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in kv.items()) + "}"


def track_series(
    region: str, track: str, pod: str, traffic: Traffic, start: float, end: float, seed: int = 0
) -> List[str]:
    """OpenMetrics sample lines of one pod's counters from ``start`` to ``end``
    every ``STEP_S`` seconds (cumulative, as the exporter serves them)."""
    rng = np.random.default_rng(seed)
    bounds = health.latency_buckets()
    base = dict(model_name="flights_late")
    scrape = dict(region=region, track=track, namespace="driftgate", pod=pod, instance=f"{pod}:8501")
    scrape["job"] = "driftgate/tfserving"
    ok = err = probes = 0
    buckets = {"predict": np.zeros(len(bounds) + 1, dtype=np.int64), "": np.zeros(len(bounds) + 1, np.int64)}
    total_us = {"predict": 0.0, "": 0.0}
    lines: List[str] = []
    carry = probe_carry = 0.0
    les = [f"{b:.6g}" for b in bounds] + ["+Inf"]
    for t in np.arange(start, end + 1e-9, STEP_S):
        carry += traffic.rps * STEP_S
        n, carry = int(carry), carry - int(carry)
        probe_carry += traffic.probes_per_min * STEP_S / 60
        p, probe_carry = int(probe_carry), probe_carry - int(probe_carry)
        fails = int(rng.binomial(n, traffic.error_share)) if n else 0
        err, ok, probes = err + fails, ok + n - fails + p, probes + p
        lat_us = rng.lognormal(np.log(traffic.median_ms * 1000), traffic.sigma, n - fails)
        for api, values in (("predict", lat_us), ("", np.full(p, 400.0))):
            buckets[api] += np.bincount(np.searchsorted(bounds, values), minlength=len(bounds) + 1)
            total_us[api] += float(values.sum())
        ts = f"{t:.3f}"
        for status, count in (("OK", ok), ("INTERNAL", err)):
            lines.append(f"{health.REQUESTS}{_labels(**base, status=status, **scrape)} {count} {ts}")
        for api in ("predict", ""):  # REST names the API by the URL's verb; a probe has none
            lat = dict(base, API=api, entrypoint="REST") if api else dict(base, entrypoint="REST")
            cum = np.cumsum(buckets[api])
            for bound, c in zip(les, cum, strict=True):
                lines.append(f"{health.LATENCY}_bucket{_labels(**lat, **scrape, le=bound)} {c} {ts}")
            lines.append(f"{health.LATENCY}_sum{_labels(**lat, **scrape)} {total_us[api]:.1f} {ts}")
            lines.append(f"{health.LATENCY}_count{_labels(**lat, **scrape)} {int(cum[-1])} {ts}")
    return lines


def openmetrics(lines: List[str]) -> str:
    """One OpenMetrics document: each metric family's lines together."""
    families = {health.REQUESTS: "unknown", health.LATENCY: "histogram"}  # counters: no _total in TF's names
    out = []
    for name, kind in families.items():
        out.append(f"# TYPE {name} {kind}")
        out += sorted(
            (ln for ln in lines if ln.split("{", 1)[0].startswith(name)),
            key=lambda ln: float(ln.rsplit(" ", 1)[1]),
        )
    return "\n".join(out) + "\n# EOF\n"


def backfill(text: str, data_dir: Path) -> None:
    src = data_dir.parent / "series.om"
    src.write_text(text)
    out = subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(src), str(data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr


@contextlib.contextmanager
def running(data_dir: Path) -> Iterator[str]:
    """Prometheus over ``data_dir``'s blocks on a free loopback port; yields its URL."""
    config = data_dir.parent / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\n")  # no scrape job: the blocks hold the series
    port = free_ports(1)[0]
    log = open(data_dir.parent / "prometheus.log", "w")
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=30d",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError((data_dir.parent / "prometheus.log").read_text()[-2000:]) from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
