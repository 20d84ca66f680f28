"""Scale: one region-span at 10k / 100k / 1M / 10M rows, fast executors against
TFX's stock ones side by side in the same run, and the floor.

Rows are EWR flights resampled (with replacement, fixed seed) into span 1 and
span 2 of one region. Each (size, executors) pair runs in its own process
(``--one``): span 1 (a retrain: no model serves yet), then span 2 (a skip: the
same distribution, the span-1 model serving), under LocalDagRunner with the
region's own config, ``executors: fast`` or ``stock``. Per component: wall
seconds and the process's peak RSS while it ran (sampled every 20 ms).

The floor at each size (``--floor``, own process): pyarrow reads the CSV,
tfx_bsl's ``RecordBatchToExamplesEncoder`` encodes it to tf.Examples, TFDV
computes its statistics in memory (``generate_statistics_in_memory`` with the
pipeline's StatsOptions) from the Arrow batch.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 10000,100000,1000000,10000000]
        [--stock-up-to 1000000] [--out benchmarks/results/bench_scale.json]

Prints a table and writes JSON. Stock executors above ``--stock-up-to`` rows
are not run (about 7 minutes a span at 1M rows; hours at 10M).
"""

import argparse
import json
import os
import resource
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

STEPS = ("example_gen", "statistics_gen", "trainer", "evaluator", "release_recorder")


def make_data(pool_dir: str, out: str, rows: int) -> str:
    """``out/EWR/span-{1,2}/data.csv``: ``rows`` lines each, resampled from the
    EWR CSV lines of ``pool_dir`` (seed 1 and 2)."""
    import glob

    import numpy as np

    lines, header = [], None
    for path in sorted(glob.glob(os.path.join(pool_dir, "EWR", "span-*", "*.csv"))):
        with open(path) as fh:
            header = fh.readline()
            lines.extend(line for line in fh if line.strip())
    for span in (1, 2):
        folder = os.path.join(out, "EWR", f"span-{span}")
        os.makedirs(folder, exist_ok=True)
        pick = np.random.default_rng(span).integers(0, len(lines), rows)
        with open(os.path.join(folder, "data.csv"), "w") as fh:
            fh.write(header)
            for start in range(0, rows, 1_000_000):
                fh.write("".join(lines[i] for i in pick[start : start + 1_000_000]))
    return out


def one(data: str, executors: str, spans=(1, 2)) -> dict:
    """Spans 1 then 2 (or ``spans``) of the region, in this process."""
    import dataclasses

    from driftgate.core.config import load_region_config
    from pipelines.local_runner import run_region

    cfg = dataclasses.replace(load_region_config("EWR"), executors=executors)
    root = tempfile.mkdtemp(prefix="driftgate-scale-")
    runs = []
    with Sampler() as sampler:
        for span in spans:
            sampler.phase, sampler.peaks = "preflight", {}
            t0 = time.time()
            r = run_region(cfg, root=root, data=data, span=span, progress=sampler.progress)
            runs.append(
                {
                    "span": span,
                    "decision": r.decision,
                    "blessed": r.blessed,
                    "auc": r.metrics.get("auc"),
                    "rows": r.rows,
                    "wall_s": round(time.time() - t0, 1),
                    "runner_s": r.duration_s,
                    "components": {
                        c: {"seconds": s, "peak_rss_mb": round(sampler.peaks.get(c, 0.0))}
                        for c, s in r.component_seconds.items()
                    },
                    "peak_rss_mb": round(max(sampler.peaks.values())),
                }
            )
    return {"executors": executors, "runs": runs}


def _lists(table):
    """The table as TFDV and the encoder take it: a list array a column."""
    import numpy as np
    import pyarrow as pa

    arrays = []
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        if pa.types.is_floating(col.type):
            col = col.cast(pa.float32())
        elif pa.types.is_string(col.type):
            col = col.cast(pa.binary())
        valid = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(valid)]).astype(np.int32)
        arrays.append(pa.ListArray.from_arrays(pa.array(offsets), col.drop_null()))
    return pa.RecordBatch.from_arrays(arrays, table.column_names)


def floor(data: str) -> dict:
    """Read, encode and in-memory statistics of span 1, timed apart. The read
    is timed before TensorFlow is imported (with TensorFlow loaded, pyarrow's
    ``read_csv`` runs ~15x slower here; its streaming reader, which the fast
    ingest uses, does not), warm: the second of two reads."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    path = os.path.join(data, "EWR", "span-1", "data.csv")
    convert = pcsv.ConvertOptions(null_values=[""], strings_can_be_null=True)
    for _ in range(2):
        t0 = time.time()
        table = pcsv.read_csv(path, convert_options=convert)
        read_s = time.time() - t0
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.statistics import stats_impl
    from tfx_bsl.coders import example_coder

    from driftgate.core.config import load_region_config

    options = tfdv.StatsOptions(
        num_quantiles_histogram_buckets=load_region_config("EWR").drift.quantile_buckets
    )
    warm = _lists(table.slice(0, 1000))  # first-call costs, not timed
    stats_impl.generate_statistics_in_memory(warm, options)
    example_coder.RecordBatchToExamplesEncoder().encode(warm)
    t0 = time.time()
    batch = pa.Table.from_batches([_lists(table)])
    encoder = example_coder.RecordBatchToExamplesEncoder()
    n = sum(len(encoder.encode(b)) for b in batch.to_batches(max_chunksize=100_000))
    encode_s = time.time() - t0
    t0 = time.time()
    stats_impl.generate_statistics_in_memory(batch.combine_chunks().to_batches()[0], options)
    stats_s = time.time() - t0
    return {
        "rows": n,
        "read_s": round(read_s, 2),
        "encode_s": round(encode_s, 2),
        "stats_s": round(stats_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _child(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode:
        sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"bench_scale {' '.join(args)} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def seconds(run: dict, step: str) -> float:
    return run["components"].get(step, {}).get("seconds", 0.0)


def table(results: list) -> str:
    lines = [
        f"{'rows':>10} {'exec':<6} {'span':<8} {'ingest':>7} {'stats':>6} {'train':>6} {'eval':>6} "
        f"{'release':>7} {'runner':>7} {'wall':>7} {'peak MB':>8}  decision"
    ]
    for r in results:
        for mode in r["modes"]:
            for run in mode["runs"]:
                kind = "retrain" if run["span"] == 1 else "skip"
                lines.append(
                    f"{r['rows']:>10,} {mode['executors']:<6} {kind:<8} "
                    + " ".join(
                        f"{seconds(run, s):>{w}.1f}" for s, w in zip(STEPS, (7, 6, 6, 6, 7), strict=True)
                    )
                    + f" {run['runner_s']:>7.1f} {run['wall_s']:>7.1f} {run['peak_rss_mb']:>8,}  {run['decision']}"
                )
        f = r["floor"]
        lines.append(
            f"{r['rows']:>10,} floor  read {f['read_s']:.2f}s + encode {f['encode_s']:.2f}s; "
            f"TFDV in memory {f['stats_s']:.2f}s; peak {f['peak_rss_mb']:,} MB"
        )
    return "\n".join(lines)


def ratios(r: dict) -> dict:
    """Fast against the floor and against stock, at one size."""
    by = {m["executors"]: m["runs"] for m in r["modes"]}
    fast, f = by["fast"], r["floor"]
    out = {
        "ingest_vs_floor": round(seconds(fast[0], "example_gen") / (f["read_s"] + f["encode_s"]), 2),
        "statistics_vs_tfdv_in_memory": round(seconds(fast[0], "statistics_gen") / f["stats_s"], 2),
    }
    if "stock" in by:
        stock = by["stock"]
        for i, kind in enumerate(("retrain", "skip")):
            out[f"{kind}_speedup_vs_stock"] = round(stock[i]["runner_s"] / fast[i]["runner_s"], 1)
        for step in STEPS[:2] + STEPS[3:4]:
            out[f"{step}_speedup_vs_stock"] = round(
                seconds(stock[0], step) / max(seconds(fast[0], step), 1e-3), 1
            )
        out["same_decisions"] = [x["decision"] for x in fast] == [x["decision"] for x in stock]
        out["same_blessing"] = [x["blessed"] for x in fast] == [x["blessed"] for x in stock]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000,10000000")
    ap.add_argument("--stock-up-to", type=int, default=1_000_000)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "bench_scale.json"))
    ap.add_argument("--one-executors", default="fast", help=argparse.SUPPRESS)
    ap.add_argument("--one", nargs=2, metavar=("DATA", "EXECUTORS"), help=argparse.SUPPRESS)
    ap.add_argument("--floor", metavar="DATA", help=argparse.SUPPRESS)
    ap.add_argument("--parity", metavar="DATA", help=argparse.SUPPRESS)
    ap.add_argument("--no-parity", action="store_true", help="skip the flights-demo parity runs")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(*args.one)))
        return
    if args.floor:
        print(json.dumps(floor(args.floor)))
        return
    if args.parity:
        print(json.dumps(one(args.parity, args.one_executors, range(1, 7))))
        return
    from driftgate.app import datasets

    work = tempfile.mkdtemp(prefix="driftgate-scale-data-")
    datasets.prepare_flights(os.path.join(work, "pool"), months=list(range(1, 13)))
    results = []
    for rows in (int(s) for s in args.sizes.split(",")):
        data = make_data(os.path.join(work, "pool"), os.path.join(work, str(rows)), rows)
        print(f"{rows:,} rows: floor", file=sys.stderr, flush=True)
        r = {"rows": rows, "floor": _child("--floor", data), "modes": []}
        for executors in ("fast", "stock") if rows <= args.stock_up_to else ("fast",):
            print(f"{rows:,} rows: {executors} executors", file=sys.stderr, flush=True)
            r["modes"].append(_child("--one", data, executors))
        r["ratios"] = ratios(r)
        results.append(r)
        subprocess.run(["rm", "-rf", data])
        print(f"{rows:,} rows: {json.dumps(r['ratios'])}", file=sys.stderr, flush=True)
    parity = None
    if not args.no_parity:  # the flights demo's EWR spans 1-6 with each executor setting
        print("flights EWR spans 1-6: fast and stock", file=sys.stderr, flush=True)
        demo = {
            e: _child("--parity", os.path.join(work, "pool"), "--one-executors", e) for e in ("fast", "stock")
        }
        parity = {
            e: [(x["span"], x["decision"], x["blessed"], x["runner_s"]) for x in d["runs"]]
            for e, d in demo.items()
        }
        parity["same_decisions_and_blessings"] = [p[1:3] for p in parity["fast"]] == [
            p[1:3] for p in parity["stock"]
        ]
    print(table(results))
    if parity:
        print("flights EWR spans 1-6 (span, decision, blessed, runner s):")
        for e in ("fast", "stock"):
            print(f"  {e:<6}{parity[e]}")
        print(f"  same decisions and blessings: {parity['same_decisions_and_blessings']}")
    for r in results:
        print(f"{r['rows']:>10,} {json.dumps(r['ratios'])}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(
            {"machine": f"{os.cpu_count()} cores", "results": results, "flights_parity": parity}, fh, indent=1
        )


if __name__ == "__main__":
    main()
