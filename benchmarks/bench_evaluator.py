"""The in-process Evaluator with slices against without, and against the
overall-only Evaluator as it was before slices (its confusion matrices from
TFMA's Python histogram, rebin and count functions), at 10k and 1M rows.

Each variant runs ``components.evaluator.fast.evaluate`` with the eval config
``pipelines.pipeline.eval_config`` builds, on a real flights model (the
backtest's EWR span-1 model, production trainer) as candidate and baseline,
on EWR rows (span 2, repeated to 1M): what a retrain span's Evaluator does.
Timed in one process, the variants in turn (A B C A B C ...), medians
quoted: the whole process would mostly time TensorFlow's import.

    .venv/bin/python benchmarks/bench_evaluator.py --data /tmp/est/data --model /tmp/est/bt/EWR/models/span-1

Writes benchmarks/results/evaluator.json.
"""

import argparse
import dataclasses
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]


def tfma_histogram_matrices(labels, predictions, thresholds):
    """The confusion matrices as the Evaluator computed them before slices:
    TFMA's own calibration histogram, rebin and count functions."""
    import numpy as np
    from tensorflow_model_analysis.metrics import binary_confusion_matrices as bcm
    from tensorflow_model_analysis.metrics import calibration_histogram as ch

    n = ch.DEFAULT_NUM_BUCKETS
    index = predictions * n + 1
    ids = np.where(index < 0, 0, np.where(index >= n + 1, n + 1, np.floor(np.maximum(index, 0)))).astype(
        np.int64
    )
    counts = np.bincount(ids, minlength=n + 2)
    positives = np.bincount(ids, weights=labels.astype(float), minlength=n + 2)
    sums = np.bincount(ids, weights=predictions, minlength=n + 2)
    histogram = [
        ch.Bucket(int(b), float(positives[b]), float(sums[b]), float(counts[b]))
        for b in np.flatnonzero(counts)
    ]
    eps = bcm._EPSILON
    rebin = [t + eps if t != 0 else t for t in thresholds]
    rebin = ([-eps] if thresholds[0] >= 0 else []) + rebin + ([1.0 + eps] if thresholds[-1] < 1.0 else [])
    return bcm._histogram_to_binary_confusion_matrices(list(thresholds), ch.rebin(rebin, histogram))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--rows", default="10000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "evaluator.json"))
    args = parser.parse_args()

    import tensorflow_model_analysis as tfma

    from backtest.data import load_span
    from components.evaluator import fast
    from driftgate.core.config import load_region_config, region_data_dir, schema_file
    from pipelines.pipeline import eval_config
    from pipelines.schema_store import load

    cfg = load_region_config("EWR")
    pool = load_span(cfg, region_data_dir(cfg, args.data), 2, load(schema_file(cfg))).all
    sliced_cfg = dataclasses.replace(
        cfg, evaluation=dataclasses.replace(cfg.evaluation, slices=(("carrier",), ("sched_dep_hour",)))
    )

    def config(c):
        return tfma.utils.update_eval_config_with_defaults(eval_config(c), has_baseline=True)

    models = {"candidate": args.model, "baseline": args.model}
    new = fast.histogram_matrices
    variants = {
        "before (overall, TFMA histogram)": (config(cfg), tfma_histogram_matrices),
        "overall": (config(cfg), new),
        "sliced (carrier, sched_dep_hour)": (config(sliced_cfg), new),
    }
    results = {}
    for rows in [int(r) for r in args.rows.split(",")]:
        records = (pool * (rows // len(pool) + 1))[:rows]
        batches = [records[i : i + 65536] for i in range(0, rows, 65536)]
        times = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, (ec, matrices) in variants.items():
                fast.histogram_matrices = matrices
                with tempfile.TemporaryDirectory() as out:
                    started = time.perf_counter()
                    fast.evaluate(ec, models, iter(batches), out, "bench")
                    times[name].append(time.perf_counter() - started)
        fast.histogram_matrices = new
        med = {name: statistics.median(t) for name, t in times.items()}
        base = med["overall"]
        results[rows] = {
            name: {"median_s": round(m, 3), "vs_overall": round(m / base, 3)} for name, m in med.items()
        }
        print(
            f"{rows:>9,} rows: " + "; ".join(f"{n} {m:.2f}s ({m / base:.2f}x)" for n, m in med.items()),
            flush=True,
        )
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
