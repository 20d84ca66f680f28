"""What the per-region run lease costs, and how fast a waiting run gets it.

- take + give back, one process: local root, and ``gs://`` through the real
  Cloud Storage client against the loopback server the tests use
  (``gcp-storage-emulator``; a real bucket adds its own round trips);
- hand-over: 4 processes each running 10 "runs" of one region back to back
  (``lease.held(..., wait_s=...)``); counts overlaps (must be 0) and the time
  from one holder's release to the next holder's start.

    .venv/bin/python benchmarks/bench_lease.py
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from driftgate.core import lease, storage  # noqa: E402

ROUNDS = 200


def take_and_release(path: str, rounds: int) -> float:
    t0 = time.perf_counter()
    for i in range(rounds):
        mine = lease.Lease(path, f"run-{i}")
        mine.acquire()
        mine.release()
    return (time.perf_counter() - t0) / rounds * 1000


def local_case() -> float:
    with tempfile.TemporaryDirectory() as d:
        return take_and_release(os.path.join(d, "EWR", "run.lease"), ROUNDS)


def gs_case() -> float:
    from gcp_storage_emulator.server import create_server

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket="bench")
    server.start()
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
    storage._client = None
    try:
        return take_and_release("gs://bench/runs/EWR/run.lease", ROUNDS // 4)
    finally:
        server.stop()
        storage._client = None


WORKER = textwrap.dedent(
    """
    import json, sys, time
    from driftgate.core import lease
    path, me, n, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    for i in range(n):
        with lease.held(path, f"{me}-{i}", wait_s=600):
            start = time.time()
            time.sleep(0.05)  # the run's work
            end = time.time()
        with open(log, "a") as fh:
            fh.write(json.dumps([start, end]) + "\\n")
    """
)


def handover_case(workers: int = 4, runs: int = 10) -> dict:
    with tempfile.TemporaryDirectory() as d:
        path, log = os.path.join(d, "run.lease"), os.path.join(d, "log")
        procs = [
            subprocess.Popen([sys.executable, "-c", WORKER, path, f"w{i}", str(runs), log])
            for i in range(workers)
        ]
        t0 = time.time()
        assert [p.wait(timeout=900) for p in procs] == [0] * workers
        wall = time.time() - t0
        spans = sorted(json.loads(line) for line in open(log))
    overlaps = sum(1 for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1])
    gaps = [b[0] - a[1] for a, b in zip(spans, spans[1:], strict=False)]
    return {
        "runs": len(spans),
        "overlaps": overlaps,
        "handover_median_ms": statistics.median(gaps) * 1000,
        "handover_p95_ms": sorted(gaps)[int(0.95 * (len(gaps) - 1))] * 1000,
        "wall_s": wall,
    }


def main() -> None:
    print(f"take + give back, local root: {local_case():.2f} ms ({ROUNDS} rounds)")
    print(f"take + give back, gs:// (loopback server): {gs_case():.1f} ms ({ROUNDS // 4} rounds)")
    h = handover_case()
    print(
        f"hand-over, 4 processes x 10 runs of one region: {h['runs']} runs, {h['overlaps']} overlaps, "
        f"next holder starts {h['handover_median_ms']:.0f} ms (median) / {h['handover_p95_ms']:.0f} ms (p95) "
        f"after the last one ends (poll every {lease.POLL_S:.0f}s); {h['wall_s']:.1f}s in all"
    )


if __name__ == "__main__":
    main()
