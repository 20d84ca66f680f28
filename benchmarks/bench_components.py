"""Wall time and peak memory per component for one region-span.

Runs the real pipeline in-process with LocalDagRunner on the full flights span
(default EWR span 1, about 10k rows), then each further span of ``--spans``
with the models before it serving (``--spans 1,2,5``: a first retrain, a
skip, a retrain with a baseline). Prints the cost of each skip span as a
share of the retrain spans of the same run.
A sampler thread reads this process's RSS every 20 ms and attributes the peak
to the component running at the time. Also times ``driftgate --help``.

    .venv/bin/python benchmarks/bench_components.py [--region EWR] [--spans 1,2] [--out FILE]

Prints a table and writes JSON beside it (default benchmarks/results/components.json).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """Peak RSS per phase; ``phase`` is switched by the progress callback."""

    def __init__(self):
        self.phase = "startup"
        self.peaks = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            mb = rss_mb()
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), mb)
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def progress(self, line: str):
        line = line.strip()
        if line.startswith("[") and line.endswith("..."):
            self.phase = line.split("]", 1)[1].strip().rstrip(".").strip()


def time_help() -> float:
    t0 = time.time()
    subprocess.run([sys.executable, "-m", "driftgate", "--help"], capture_output=True, check=True)
    return time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--region", default="EWR")
    ap.add_argument("--spans", default="1,2")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "components.json"))
    args = ap.parse_args()

    help_s = time_help()
    t0 = time.time()
    from tfx import v1 as tfx  # noqa: F401  (measured: the import is part of every run)

    import_s = time.time() - t0
    from driftgate.app import datasets
    from driftgate.core.config import load_region_config
    from pipelines.local_runner import run_region

    spans = [int(s) for s in args.spans.split(",")]
    work = tempfile.mkdtemp(prefix="driftgate-bench-")
    datasets.prepare_flights(os.path.join(work, "data"), months=spans)
    cfg = load_region_config(args.region)
    runs = []
    with Sampler() as sampler:
        for span in spans:
            sampler.phase = "preflight"
            sampler.peaks = {}
            t0 = time.time()
            r = run_region(
                cfg,
                root=os.path.join(work, "runs"),
                data=os.path.join(work, "data"),
                span=span,
                progress=sampler.progress,
            )
            wall = time.time() - t0
            runs.append(
                {
                    "span": span,
                    "decision": r.decision,
                    "rows": r.rows,
                    "baseline_version": r.baseline_version,
                    "blessed": r.blessed,
                    "pushed_version": r.pushed_version,
                    "wall_s": round(wall, 1),
                    "runner_s": r.duration_s,
                    "components": {
                        c: {"seconds": s, "peak_rss_mb": round(sampler.peaks.get(c, 0.0))}
                        for c, s in r.component_seconds.items()
                    },
                    "peak_rss_mb": round(max(sampler.peaks.values())),
                }
            )

    print(f"driftgate --help: {help_s:.2f}s   first `from tfx import v1`: {import_s:.1f}s\n")
    comps = list(runs[0]["components"])
    head = f"{'component':<18}" + "".join(
        f"{'span ' + str(r['span']) + ' s':>10}{'peak MB':>9}" for r in runs
    )
    print(head)
    print("-" * len(head))
    for c in comps:
        print(
            f"{c:<18}"
            + "".join(
                f"{r['components'].get(c, {}).get('seconds', 0):>10.1f}{r['components'].get(c, {}).get('peak_rss_mb', 0):>9}"
                for r in runs
            )
        )
    print("-" * len(head))
    print(f"{'runner total':<18}" + "".join(f"{r['runner_s']:>10.1f}{r['peak_rss_mb']:>9}" for r in runs))
    for r in runs:
        print(
            f"span {r['span']}: {r['decision']}, {r['rows']:,} rows, baseline version {r['baseline_version']}, "
            f"blessed {r['blessed']}, pushed {r['pushed_version']}, wall {r['wall_s']}s"
        )
    retrains = [r["runner_s"] for r in runs if r["decision"] == "retrain"]
    skip_ratios = {}
    for r in runs:
        if r["decision"] == "skip" and retrains:
            skip_ratios[r["span"]] = round(r["runner_s"] / (sum(retrains) / len(retrains)), 3)
            print(
                f"skip span {r['span']} costs {skip_ratios[r['span']]:.0%} of a retrain span "
                f"(mean of {len(retrains)} in this run)"
            )
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(
            {
                "region": args.region,
                "help_s": round(help_s, 2),
                "tfx_import_s": round(import_s, 1),
                "cpus": os.cpu_count(),
                "runs": runs,
                "skip_to_retrain": skip_ratios,
            },
            fh,
            indent=1,
        )
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
