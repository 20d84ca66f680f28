"""The four-fifths findings on the flights data: which carriers and hours the
serving model treats differently, per region and span.

For each region and span t in 2..12, the model trained on span t-1 (the
backtest's models on disk, trained by the production trainer) scores all
rows of span t, and ``components.quality.fairness.judge`` (what the canary
judge node runs on the newest labelled span) compares each slice of
``[[carrier], [sched_dep_hour]]`` with the whole span: false positive rate,
recall and positive rate ratios outside [0.8, 1.25] on slices of at least
200 rows. Also times the slicing and the judgement at one span.

    .venv/bin/driftgate data flights --out /tmp/est/data
    .venv/bin/driftgate backtest --data /tmp/est/data --out /tmp/est/bt --policies never
    .venv/bin/python benchmarks/bench_fairness.py --data /tmp/est/data --backtest /tmp/est/bt

Writes benchmarks/results/fairness.json.
"""

import argparse
import collections
import json
import math
import os
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
SLICES = [("carrier",), ("sched_dep_hour",)]


def region_findings(region: str, data: str, backtest: str, spans) -> list:
    from backtest.data import load_span
    from components.evaluator.slicing import slice_rows
    from components.quality import fairness
    from driftgate.core.config import load_region_config, region_data_dir, schema_file
    from pipelines.schema_store import load
    from serving import signature

    cfg = load_region_config(region)
    schema, folder = load(schema_file(cfg)), region_data_dir(cfg, data)
    out = []
    for t in spans[1:]:
        sd = load_span(cfg, folder, t, schema)
        model = signature.load(str(Path(backtest) / region / "models" / f"span-{t - 1}"))
        scores = signature.predict(model, sd.all)
        started = time.perf_counter()
        judged = fairness.judge(sd.labels, scores, slice_rows(sd.all, SLICES), min_rows=200)
        seconds = time.perf_counter() - started
        out.append(
            {
                "span": t,
                "rows": len(sd.all),
                "seconds": round(seconds, 3),
                "findings": [
                    {k: f[k] for k in ("slice", "value", "metric", "ratio", "rows")}
                    for f in judged["findings"]
                ],
            }
        )
        flagged = ", ".join(
            f"{f['slice']}={f['value']} {f['metric']} {f['ratio']:.2f}" for f in judged["findings"]
        )
        print(f"{region} span {t:2d} ({len(sd.all):,} rows, {seconds:.2f}s): {flagged or 'none'}", flush=True)
    return out


def summarize(results: dict) -> None:
    """Per region: the slice values flagged on most spans, with the range of their worst ratio."""
    print("\nslice values flagged on spans 2-12 (spans flagged; their most extreme ratio's range):")
    for region, rows in results.items():
        seen = collections.defaultdict(list)
        for r in rows:
            worst = {}
            for f in r["findings"]:
                key = f"{f['slice']}={f['value']}"
                if key not in worst or abs(math.log(max(f["ratio"], 1e-3))) > abs(
                    math.log(max(worst[key], 1e-3))
                ):
                    worst[key] = f["ratio"]
            for key, ratio in worst.items():
                seen[key].append(ratio)
        top = sorted(seen.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:8]
        print(f"  {region}: " + "; ".join(f"{k} {len(v)} ({min(v):.2f}-{max(v):.2f})" for k, v in top))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--backtest", required=True)
    parser.add_argument("--regions", default="EWR,JFK,LGA")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fairness.json"))
    args = parser.parse_args()
    spans = list(range(1, 13))
    results = {r: region_findings(r, args.data, args.backtest, spans) for r in args.regions.split(",")}
    summarize(results)
    Path(args.out).write_text(
        json.dumps({"slices": SLICES, "band": [0.8, 1.25], "min_rows": 200, "regions": results}, indent=1)
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
