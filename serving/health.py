"""TF Serving's own metrics in Prometheus: their names, and a window of one
region's two tracks read back over Prometheus' HTTP API.

The names and labels are those of ``tensorflow/serving`` 2.16.1 (the image the
manifests run), read from its source, not from memory:

- ``servables/tensorflow/util.cc`` registers ``/tensorflow/serving/request_count``
  (Counter, labels ``model_name``, ``status``: ``error::Code_Name`` of the
  request's status, ``OK`` on success) and ``/tensorflow/serving/request_latency``
  (Sampler, labels ``model_name``, ``API``, ``entrypoint``; microseconds in
  ``Buckets::Exponential(10, 1.8, 33)``). ``model_servers/http_server.cc`` and
  ``prediction_service_impl.cc`` count every request and record the latency of
  successful ones only (``entrypoint`` ``REST`` or ``GRPC``).
- TensorFlow's ``cc/saved_model/loader.cc`` counts loads in
  ``/tensorflow/cc/saved_model/load_attempt_count`` (labels ``model_path``,
  ``status`` ``success``/``fail``): the versions a server has loaded.
- ``util/prometheus_exporter.cc`` names a metric by replacing every character
  outside ``[a-zA-Z0-9_]`` with ``:`` (so ``:tensorflow:serving:request_count``)
  and writes a Sampler as a Prometheus histogram (``_bucket{le}``, ``_sum``,
  ``_count``).

TF Serving labels no series with a model version: the track tells the canary
from stable, added from the pods' ``track`` label by the PodMonitor
(``serving/manifests.py``) together with ``region``.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple

from driftgate.core.errors import DriftgateError

REQUESTS = ":tensorflow:serving:request_count"
LATENCY = ":tensorflow:serving:request_latency"  # _bucket / _sum / _count, microseconds
LOADS = ":tensorflow:cc:saved_model:load_attempt_count"
READ = (REQUESTS, LATENCY + "_bucket", LATENCY + "_count", LOADS)  # every TF Serving series driftgate reads
OK = "OK"
TRACKS = ("stable", "canary")
TOKEN = "DRIFTGATE_PROMETHEUS_TOKEN"  # or a file named by DRIFTGATE_PROMETHEUS_TOKEN_FILE


def latency_buckets() -> List[float]:
    """The upper bounds (microseconds) of the latency histogram's finite buckets:
    ``Buckets::Exponential(10, 1.8, 33)``."""
    return [10 * 1.8**i for i in range(33)]


class PrometheusError(DriftgateError, RuntimeError):
    """Prometheus could not be asked, or did not answer a query."""


@dataclass(frozen=True)
class TrackHealth:
    """One track over a window: requests counted, those not ``OK``, and the p99
    latency of the successful ones (None: no latency observed)."""

    requests: float
    errors: float
    p99_ms: Optional[float]

    @property
    def error_ratio(self) -> float:
        return self.errors / self.requests if self.requests > 0 else 0.0

    def to_json(self) -> dict:
        return dict(asdict(self), error_ratio=self.error_ratio)


def _selector(region: str, model_name: str, extra: str = "") -> str:
    quote = json.dumps  # a PromQL string literal accepts JSON's escapes
    return f'{{region={quote(region)},model_name={quote(model_name)},track=~"stable|canary"{extra}}}'


def window_queries(region: str, model_name: str, seconds: int) -> Dict[str, str]:
    """PromQL per measure, ``by (track)``, over the ``seconds`` before the query time.

    Inference requests only: ``request_count`` also counts the readiness probes
    (``GET /v1/models/<model>``, answered ``OK``), which time into the latency
    histogram with an empty ``API``; those successful requests are taken off
    the count and out of the latency."""
    sel, err = _selector(region, model_name), _selector(region, model_name, f',status!="{OK}"')
    probes, calls = _selector(region, model_name, ',API=""'), _selector(region, model_name, ',API!=""')
    w = f"[{int(seconds)}s]"
    total = f"sum by (track) (increase({REQUESTS}{sel}{w}))"
    return {
        "requests": f"{total} - (sum by (track) (increase({LATENCY}_count{probes}{w})) or {total} * 0)",
        "errors": f"sum by (track) (increase({REQUESTS}{err}{w}))",
        "p99_ms": f"histogram_quantile(0.99, sum by (track, le) (increase({LATENCY}_bucket{calls}{w}))) / 1000",
    }


class Prometheus:
    """A Prometheus server's HTTP API (``/api/v1/query``), with an optional bearer token."""

    def __init__(self, url: str, token: Optional[str] = None, timeout_s: float = 10.0):
        self.url, self._token, self.timeout_s = url.rstrip("/"), token, timeout_s

    def __repr__(self) -> str:  # never the token
        return f"Prometheus({self.url!r})"

    def query(self, promql: str, at: float) -> List[Tuple[dict, float]]:
        """An instant query at ``at`` (Unix seconds): [(labels, value)] of its vector."""
        body = urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"}).encode()
        req = urllib.request.Request(f"{self.url}/api/v1/query", data=body, method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        if self._token:
            req.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                answer = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise PrometheusError(f"{self.url} answered HTTP {exc.code} to a query: {detail}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise PrometheusError(f"{self.url} could not be asked: {exc}") from None
        if answer.get("status") != "success":
            raise PrometheusError(f"{self.url}: {answer.get('errorType')}: {answer.get('error')}")
        data = answer["data"]
        if data.get("resultType") != "vector":
            raise PrometheusError(f"{self.url}: expected a vector, got {data.get('resultType')}")
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]


def measure(
    prom: Prometheus, region: str, model_name: str, since: float, until: float
) -> Dict[str, TrackHealth]:
    """Each track's requests, errors and p99 latency over ``[since, until]``."""
    seconds = max(1, math.ceil(until - since))
    found: Dict[str, Dict[str, float]] = {t: {} for t in TRACKS}
    for name, promql in window_queries(region, model_name, seconds).items():
        for labels, value in prom.query(promql, until):
            if labels.get("track") in found and math.isfinite(value):
                found[labels["track"]][name] = value
    return {
        t: TrackHealth(v.get("requests", 0.0), v.get("errors", 0.0), v.get("p99_ms"))
        for t, v in found.items()
    }
