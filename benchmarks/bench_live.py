"""The live canary verdict: how long a canary must serve before it is judged,
and what asking Prometheus costs.

A. Time to a verdict (pure, ``components.canary.live.judge``): a canary at
   ``r`` inference requests a second failing a share ``e`` (stable at 0.1%),
   judged every minute from its push with the default margins: the first
   minute the verdict is no longer pending, and what it is. Counts are the
   expected ones (no sampling noise), so this is the judge's own arithmetic.
B. Query cost against a real Prometheus (Debian's, over series backfilled in
   TF Serving's names: ``tests/monitoring/prometheus_server.py``): the three
   queries of one live judgement for windows of 30 min, 6 h and 24 h (live_window_hours), with 3
   and 6 pods; median of 5, side by side, as ratios to 30 min with 3 pods.

    .venv/bin/python benchmarks/bench_live.py

Writes benchmarks/results/live.json.
"""

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def time_to_verdict(rps: float, share: float, cfg, stable_rps: float = 9.0, limit_min: int = 24 * 60):
    from components.canary import live
    from serving.health import TrackHealth

    for minute in range(1, limit_min + 1):
        n, sn = rps * 60 * minute, stable_rps * 60 * minute
        verdict, _ = live.judge(
            TrackHealth(sn, sn * 0.001, 20.0), TrackHealth(n, round(n * share), 20.0), cfg
        )
        if verdict != "pending":
            return minute, verdict
    return None, "pending"


def part_a(cfg) -> list:
    rows = []
    for rps in (0.1, 1.0, 10.0):
        for share in (0.001, 0.015, 0.02, 0.05):
            minute, verdict = time_to_verdict(rps, share, cfg)
            rows.append({"canary_rps": rps, "error_share": share, "minutes": minute, "verdict": verdict})
    return rows


def part_b(cfg) -> list:
    from components.canary import live
    from tests.monitoring import prometheus_server as ps

    end = time.time() - 60
    windows = {"30min": 1800, "6h": 6 * 3600, "24h": 24 * 3600}
    rows = []
    for pods in (3, 6):
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "data"
            data.mkdir()
            lines = []
            start = end - max(windows.values())
            for i in range(pods):
                track = "canary" if i == 0 else "stable"
                traffic = ps.Traffic(rps=1.0 if track == "canary" else 5.0)
                lines += ps.track_series("EWR", track, f"pod-{i}", traffic, start, end, seed=i)
            t0 = time.perf_counter()
            ps.backfill(ps.openmetrics(lines), data)
            backfill_s = time.perf_counter() - t0
            with ps.running(data) as url:
                for name, seconds in windows.items():
                    times, verdict = [], None
                    for _ in range(5):
                        t0 = time.perf_counter()
                        h = live.assess(
                            url, "EWR", "flights_late", cfg, end - seconds - live.POLL_WAIT_S, end
                        )
                        times.append(time.perf_counter() - t0)
                        verdict = h.verdict
                    rows.append(
                        {
                            "pods": pods,
                            "window": name,
                            "median_s": statistics.median(times),
                            "verdict": verdict,
                            "samples": len(lines),
                            "backfill_s": backfill_s,
                        }
                    )
    base = rows[0]["median_s"]
    for r in rows:
        r["ratio"] = r["median_s"] / base
    return rows


def main() -> int:
    from driftgate.core.config import load_region_config

    cfg = load_region_config("EWR").serving.canary
    a = part_a(cfg)
    print("A. minutes from push to a verdict (stable 9 req/s at 0.1% errors; margins: defaults)")
    print(f"{'canary req/s':>12} {'errors':>7} {'minutes':>8}  verdict")
    for r in a:
        print(f"{r['canary_rps']:>12} {r['error_share']:>7.1%} {str(r['minutes']):>8}  {r['verdict']}")
    b = part_b(cfg)
    print("\nB. one live judgement's queries against Prometheus (median of 5)")
    print(f"{'pods':>4} {'window':>7} {'seconds':>8} {'ratio':>6}  verdict")
    for r in b:
        print(f"{r['pods']:>4} {r['window']:>7} {r['median_s']:>8.3f} {r['ratio']:>6.2f}  {r['verdict']}")
    out = ROOT / "benchmarks" / "results" / "live.json"
    out.write_text(json.dumps({"time_to_verdict": a, "query_cost": b}, indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
