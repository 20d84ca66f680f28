"""``driftgate backtest`` on the whole flights history: wall time and peak
memory from nothing (every model trained) and again with the matrix on disk;
and the fidelity check: the AUC the backtest's model gets on its span's eval
split against the AUC TFX's Evaluator reports for the model the pipeline
(LocalDagRunner) trains on the same span.

    .venv/bin/python benchmarks/bench_backtest.py --data demo/data [--regions EWR,JFK,LGA] [--spans 1-12]

Writes benchmarks/results/backtest.json. Run ``make demo`` (or
``driftgate data flights --out demo/data``) first.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]


LAUNCH = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _cli(args, out: Path) -> dict:
    """One ``driftgate backtest -o json`` process: its wall time and its own
    peak RSS (measured by a launcher that has only that child)."""
    t0 = time.time()
    cmd = [sys.executable, "-m", "driftgate", "backtest", *args, "--out", str(out), "-o", "json"]
    proc = subprocess.run([sys.executable, "-c", LAUNCH, *cmd], capture_output=True, text=True)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    peak_kb = int(proc.stderr.strip().splitlines()[-1])
    return {"wall_s": round(wall, 1), "peak_rss_mb": round(peak_kb / 1024), "doc": json.loads(proc.stdout)}


def fidelity(data: str, region: str, span: int, out: Path) -> dict:
    """Evaluator AUC of the pipeline's model vs the backtest model's eval AUC, same span."""
    from driftgate.core.config import load_region_config
    from pipelines.local_runner import run_region

    cfg = load_region_config(region)
    with tempfile.TemporaryDirectory() as root:
        r = run_region(cfg, root=root, data=data, span=span, progress=lambda _: None)
    matrix = json.loads((out / region / "matrix.json").read_text())
    i = matrix["spans"].index(span)
    return {
        "region": region,
        "span": span,
        "pipeline_evaluator_auc": round(r.metrics["auc"], 4),
        "backtest_eval_auc": round(matrix["evals"][str(i)][str(i)][0], 4),
        "difference": round(abs(r.metrics["auc"] - matrix["evals"][str(i)][str(i)][0]), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT / "demo" / "data"))
    ap.add_argument("--regions", default="EWR,JFK,LGA")
    ap.add_argument("--spans", default="1-12")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "backtest.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bt"
        common = ["--data", args.data, "--regions", args.regions, "--spans", args.spans]
        cold = _cli(common, out)
        warm = _cli(common, out)
        fid = fidelity(args.data, args.regions.split(",")[0], int(args.spans.split("-")[0]), out)
    result = {
        "regions": args.regions,
        "spans": args.spans,
        "from_nothing": {k: v for k, v in cold.items() if k != "doc"},
        "matrix_cached": {k: v for k, v in warm.items() if k != "doc"},
        "same_result_cached": cold["doc"]["overall"] == warm["doc"]["overall"],
        "fidelity": fid,
        "overall": cold["doc"]["overall"],
        "per_region": {r["region"]: r["policies"] for r in cold["doc"]["regions"]},
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(
        json.dumps(
            {k: result[k] for k in ("from_nothing", "matrix_cached", "same_result_cached", "fidelity")},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
