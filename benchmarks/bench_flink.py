"""One span three ways, side by side in one run: the in-process (fast)
executors, TFX's stock Beam executors on the DirectRunner, and the same stock
executors on a real Apache Flink session cluster (1 JobManager, 2 TaskManagers
of one slot, started here with ``driftgate.local.flink``) at parallelism 2, and
with ``--p1`` also at parallelism 1 (what the second TaskManager buys).

Rows are EWR flights resampled to ``--rows`` (``bench_scale.make_data``); span
1 of the region (a retrain: ExampleGen, StatisticsGen, Trainer, Evaluator all
run) under LocalDagRunner, each mode in its own process. Flink runs with
``--environment_type=LOOPBACK``: the Python SDK harness, where TFX's Beam
code runs, is the ``driftgate run`` process itself, on the same 2 cores as
both TaskManagers. Per component: wall seconds; per mode: the runner's and
the process's seconds, the peak RSS of the driving process (not the JVMs'),
and for Flink the jobs its REST API lists (state, the largest vertex
parallelism).

    .venv/bin/python benchmarks/bench_flink.py [--rows 1000000] [--p1]
        [--out benchmarks/results/bench_flink.json]

Flink is left out, saying why, where its jars or Beam's Flink job server
are missing (``driftgate.local.flink_jars``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from bench_components import Sampler  # noqa: E402
from bench_scale import make_data, seconds  # noqa: E402

STEPS = ("example_gen", "statistics_gen", "trainer", "evaluator")
BEAM_STEPS = ("example_gen", "statistics_gen", "evaluator")


def one(data: str, mode: str, master: str = "", parallelism: int = 2) -> dict:
    """Span 1 in this process: ``fast``, ``direct`` (stock on the DirectRunner)
    or ``flink`` (stock on the cluster at ``master``)."""
    import dataclasses

    from driftgate.core.config import load_region_config
    from driftgate.local import flink
    from pipelines.local_runner import run_region

    cfg = load_region_config("EWR")
    if mode == "fast":
        cfg = dataclasses.replace(cfg, executors="fast")
    elif mode == "direct":
        cfg = dataclasses.replace(cfg, executors="stock")
    else:
        cfg = dataclasses.replace(
            cfg, executors="stock", beam_args=tuple(flink.beam_args(master, parallelism))
        )
    root = tempfile.mkdtemp(prefix="driftgate-bench-flink-")
    with Sampler() as sampler:
        sampler.phase, sampler.peaks = "preflight", {}
        t0 = time.time()
        r = run_region(cfg, root=root, data=data, span=1, progress=sampler.progress)
        wall = time.time() - t0
    subprocess.run(["rm", "-rf", root])
    return {
        "mode": mode,
        "parallelism": parallelism if mode == "flink" else None,
        "decision": r.decision,
        "blessed": r.blessed,
        "auc": r.metrics.get("auc"),
        "rows": r.rows,
        "wall_s": round(wall, 1),
        "runner_s": r.duration_s,
        "components": {c: {"seconds": s} for c, s in r.component_seconds.items()},
        "peak_rss_mb": round(max(sampler.peaks.values() or [0])),
    }


def _child(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode:
        sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"bench_flink {' '.join(args)} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _flink_jobs(cluster, since_ms: float) -> list:
    jobs = []
    for j in cluster.jobs():
        if j["start-time"] >= since_ms:
            detail = cluster.job(j["jid"])
            jobs.append(
                {
                    "state": j["state"],
                    "seconds": round(j["duration"] / 1000, 1),
                    "parallelism": max((v["parallelism"] for v in detail["vertices"]), default=0),
                }
            )
    return jobs


def label(run: dict) -> str:
    return {"fast": "fast", "direct": "stock/Direct"}.get(run["mode"]) or f"stock/Flink p{run['parallelism']}"


def table(runs: list) -> str:
    head = f"{'mode':<15} {'ingest':>7} {'stats':>6} {'train':>6} {'eval':>6} {'runner':>7} {'wall':>7} {'peak MB':>8}"
    lines = [head + "  decision  blessed  auc     Flink jobs"]
    for run in runs:
        jobs = run.get("flink_jobs")
        jobs_cell = (
            f"{len(jobs)} ({', '.join(sorted({j['state'] for j in jobs}))}, p{max(j['parallelism'] for j in jobs)})"
            if jobs
            else "-"
        )
        lines.append(
            f"{label(run):<15} "
            + " ".join(f"{seconds(run, s):>{w}.1f}" for s, w in zip(STEPS, (7, 6, 6, 6), strict=True))
            + f" {run['runner_s']:>7.1f} {run['wall_s']:>7.1f} {run['peak_rss_mb']:>8,}  {run['decision']:<8}  "
            f"{str(run['blessed']):<7}  {run['auc'] or 0:.4f}  {jobs_cell}"
        )
    return "\n".join(lines)


def ratios(runs: list) -> dict:
    by = {label(r): r for r in runs}
    out = {}

    def beam_s(run):
        return sum(seconds(run, s) for s in BEAM_STEPS)

    pairs = [
        ("stock/Direct", "fast"),
        ("stock/Flink p2", "stock/Direct"),
        ("stock/Flink p1", "stock/Flink p2"),
    ]
    for slow, fast in pairs:
        if slow in by and fast in by:
            key = f"{slow} / {fast}"
            out[key] = {
                "runner": round(by[slow]["runner_s"] / by[fast]["runner_s"], 2),
                "beam_components": round(beam_s(by[slow]) / max(beam_s(by[fast]), 1e-3), 2),
                **{s: round(seconds(by[slow], s) / max(seconds(by[fast], s), 1e-3), 2) for s in BEAM_STEPS},
            }
    out["same_decision_and_blessing"] = len({(r["decision"], r["blessed"]) for r in runs}) == 1
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--p1", action="store_true", help="also run Flink at parallelism 1")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "bench_flink.json"))
    ap.add_argument("--one", nargs=4, metavar=("DATA", "MODE", "MASTER", "P"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        data, mode, master, p = args.one
        print(json.dumps(one(data, mode, master, int(p))))
        return
    from driftgate.app import datasets
    from driftgate.local import engines, flink

    work = tempfile.mkdtemp(prefix="driftgate-bench-flink-data-")
    datasets.prepare_flights(os.path.join(work, "pool"), months=list(range(1, 13)))
    data = make_data(os.path.join(work, "pool"), os.path.join(work, str(args.rows)), args.rows)
    runs = []
    for mode in ("fast", "direct"):
        print(f"{args.rows:,} rows: {mode}", file=sys.stderr, flush=True)
        runs.append(_child("--one", data, mode, "-", "0"))
    cache = engines.cache_dir()
    why = flink.runtime_missing(cache) or flink.job_server_missing(cache)
    if why:
        print(f"Flink left out: {why}", file=sys.stderr, flush=True)
    else:
        with flink.cluster(taskmanagers=2) as cluster:
            for p in (2, 1) if args.p1 else (2,):
                print(f"{args.rows:,} rows: Flink, parallelism {p}", file=sys.stderr, flush=True)
                since = time.time() * 1000
                run = _child("--one", data, "flink", cluster.master, str(p))
                run["flink_jobs"] = _flink_jobs(cluster, since)
                runs.append(run)
    subprocess.run(["rm", "-rf", work])
    print(f"{args.rows:,} rows, span 1 (retrain), seconds per component; {os.cpu_count()} cores")
    print(table(runs))
    rat = ratios(runs)
    for key, value in rat.items():
        print(f"  {key}: {json.dumps(value)}")
    if why:
        print(f"  Flink: not run ({why})")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        result = {"rows": args.rows, "machine": f"{os.cpu_count()} cores", "runs": runs, "ratios": rat}
        json.dump(dict(result, flink_left_out=why), fh, indent=1)


if __name__ == "__main__":
    main()
