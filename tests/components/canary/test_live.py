"""The canary's live verdict, asked of a real Prometheus server (Debian's
``prometheus``, started here over series backfilled in TF Serving's metric names
and labels: ``tests/monitoring/prometheus_server.py``), over its HTTP API.

Four recorded canary windows of one region: healthy, 5% errors, p99 three times
stable's, 20 requests. Not shown here: a live TF Serving being scraped."""

import time
from dataclasses import replace

import pytest

from components.canary import live
from driftgate.core.config import load_region_config
from driftgate.core.vocabulary import PENDING, PROMOTE, ROLLBACK
from driftgate.local.engines import free_ports
from serving import health
from tests.monitoring import prometheus_server as ps
from tests.monitoring.prometheus_server import Traffic

need_prometheus = pytest.mark.skipif(
    ps.PROMETHEUS is None or ps.PROMTOOL is None,
    reason="prometheus/promtool missing (make test installs them)",
)
CFG = load_region_config("EWR").serving.canary
WINDOW_S = 30 * 60
GAP_S = 40 * 60
HEALTHY = Traffic(rps=5.0)
CASES = {  # the canary pod's traffic per window; stable: two pods at HEALTHY
    "healthy": Traffic(rps=1.0),
    "errors_5pct": Traffic(rps=1.0, error_share=0.05),
    "p99_3x": Traffic(rps=1.0, median_ms=60.0),
    "20_requests": Traffic(rps=20 / WINDOW_S),
}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    """(url, {case: (pushed_at, judged_at)}): the windows in the last hours."""
    root = tmp_path_factory.mktemp("prom")
    data = root / "data"
    data.mkdir()
    end = time.time() - 60
    windows, lines = {}, []
    for i, (case, canary) in enumerate(CASES.items()):
        start = end - (len(CASES) - i) * (WINDOW_S + GAP_S)
        pushed, judged = start - live.POLL_WAIT_S, start + WINDOW_S
        windows[case] = (pushed, judged)
        for pod in ("stable-a", "stable-b"):
            lines += ps.track_series(
                "EWR", "stable", f"tfserving-ewr-{pod}-{i}", HEALTHY, start, judged, seed=i
            )
        lines += ps.track_series(
            "EWR", "canary", f"tfserving-ewr-canary-{i}", canary, start, judged, seed=10 + i
        )
    ps.backfill(ps.openmetrics(lines), data)
    with ps.running(data) as url:
        yield url, windows


def _assess(prometheus, case, cfg=CFG, region="EWR"):
    url, windows = prometheus
    pushed, judged = windows[case]
    return live.assess(url, region, "flights_late", cfg, pushed, judged, env={})


@need_prometheus
def test_healthy_canary_is_promoted_on_live_health(prometheus):
    h = _assess(prometheus, "healthy")
    assert h.verdict == PROMOTE, h.sentence
    stable, canary = h.tracks["stable"], h.tracks["canary"]
    assert stable["requests"] == pytest.approx(2 * 5.0 * WINDOW_S, rel=0.05)  # both stable pods summed
    assert canary["requests"] == pytest.approx(WINDOW_S, rel=0.05)
    assert 20 < canary["p99_ms"] < 80 and 20 < stable["p99_ms"] < 80
    assert live.combine(PROMOTE, h) == (PROMOTE, "offline and live")


@need_prometheus
def test_five_percent_errors_roll_back_even_when_offline_quality_holds(prometheus):
    h = _assess(prometheus, "errors_5pct")
    assert h.verdict == ROLLBACK, h.sentence
    assert 0.04 < h.tracks["canary"]["error_ratio"] < 0.06 and h.tracks["stable"]["error_ratio"] < 0.005
    c, s = h.tracks["canary"], h.tracks["stable"]
    assert f"error ratio canary {c['error_ratio']:.2%} ({c['errors']:.0f}/{c['requests']:.0f}" in h.sentence
    assert f"vs stable {s['error_ratio']:.2%}" in h.sentence and h.sentence.endswith("worse")
    assert live.combine(PROMOTE, h) == (ROLLBACK, "live")


@need_prometheus
def test_p99_three_times_stables_rolls_back(prometheus):
    h = _assess(prometheus, "p99_3x")
    assert h.verdict == ROLLBACK, h.sentence
    ratio = h.tracks["canary"]["p99_ms"] / h.tracks["stable"]["p99_ms"]
    assert 2.0 < ratio < 4.5, ratio  # the histogram's 1.8x buckets blur the 3x a little
    c, s = h.tracks["canary"], h.tracks["stable"]
    assert f"p99 latency canary {c['p99_ms']:.1f} ms vs stable {s['p99_ms']:.1f} ms (max x1.5)" in h.sentence
    assert h.tracks["canary"]["error_ratio"] < 0.01  # latency alone decided


@need_prometheus
def test_twenty_requests_keep_the_canary_pending(prometheus):
    h = _assess(prometheus, "20_requests")
    assert h.verdict == PENDING, h.sentence
    assert h.tracks["canary"]["requests"] == pytest.approx(20, abs=1)
    assert f"canary {h.tracks['canary']['requests']:.0f} requests, stable" in h.sentence
    assert "fewer than the 100 needed" in h.sentence
    assert live.combine(PROMOTE, h) == (PENDING, "live")


@need_prometheus
def test_margins_come_from_the_config(prometheus):
    lax = replace(CFG, max_live_p99_ratio=6.0)
    assert _assess(prometheus, "p99_3x", lax).verdict == PROMOTE
    # enough requests now, but 0 errors in 20 cannot show an error ratio within 1 point
    few = _assess(prometheus, "20_requests", replace(CFG, min_live_requests=10))
    assert few.verdict == PENDING and "inconclusive" in few.sentence and "fewer than" not in few.sentence
    lenient = replace(CFG, min_live_requests=10, max_live_error_increase=0.5)
    assert _assess(prometheus, "20_requests", lenient).verdict == PROMOTE


@need_prometheus
def test_another_regions_window_holds_no_traffic(prometheus):
    h = _assess(prometheus, "healthy", region="JFK")
    assert h.verdict == PENDING and h.tracks["canary"]["requests"] == 0


def test_without_a_url_the_verdict_says_offline_only():
    h = live.assess(None, "EWR", "flights_late", CFG, since=0.0)
    assert h.verdict == live.NOT_CONFIGURED and "judged offline only" in h.sentence
    assert live.combine(ROLLBACK, h) == (ROLLBACK, "offline (live health not configured)")
    assert live.combine(PROMOTE, h)[0] == PROMOTE


def test_an_unreachable_prometheus_keeps_the_canary_pending(tmp_path):
    port = free_ports(1)[0]  # nothing listens there
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    env = {health.TOKEN + "_FILE": str(token)}
    h = live.assess(f"http://127.0.0.1:{port}", "EWR", "flights_late", CFG, 0.0, 3600.0, env=env)
    assert h.verdict == live.UNAVAILABLE and "could not be asked" in h.sentence
    assert "s3cret" not in repr(h) and live.combine(PROMOTE, h) == (PENDING, "live")


def test_error_ratio_needs_evidence_not_a_point_estimate():
    few = health.TrackHealth(requests=120, errors=3, p99_ms=20.0)  # 2.5%: above 1% + 0.1%, but 120 requests
    stable = health.TrackHealth(requests=5000, errors=5, p99_ms=20.0)
    verdict, reasons = live.judge(stable, few, CFG)
    assert verdict == PENDING and "inconclusive" in reasons[0]
    many = health.TrackHealth(requests=12000, errors=300, p99_ms=20.0)
    assert live.judge(stable, many, CFG)[0] == ROLLBACK
    low, high = live.wilson(300, 12000, 0.95)
    assert low < 0.025 < high and high - low < 0.01


@need_prometheus
def test_the_window_is_the_last_live_window_hours_since_the_push(prometheus):
    url, windows = prometheus
    pushed, judged = windows["errors_5pct"]
    # pushed long before: only the last 10 minutes are judged (the query stays bounded)
    h = live.assess(url, "EWR", "flights_late", replace(CFG, live_window_hours=1 / 6), pushed - 86400, judged)
    assert (h.since, h.until) == (judged - 600, judged) and h.tracks["canary"]["requests"] == pytest.approx(
        600, rel=0.05
    )
