"""Data integrity rates (``components.drift.integrity``) on the flights data:
per region (EWR, JFK, LGA), spans 2..12 against span 1 as the training
baseline, from the statistics the backtest computes (``backtest.data.load_span``
+ ``backtest.data.statistics``: the region's schema, train/eval splits, the
configured quantile buckets).

Prints the (feature, span) cells above the 1% floor, the findings that remain
once the threshold comes from the region's own history (mean + 3 std of the
same rate in spans 2..s-1, from 3 known spans on), the largest gap between
each rate and the same rate counted exactly on the raw rows, and the time of
one ``rates()`` call.

    .venv/bin/driftgate data flights --out /tmp/int/data
    .venv/bin/python benchmarks/bench_integrity.py --data /tmp/int/data
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REGIONS = ("EWR", "JFK", "LGA")
BASELINE = 1
SPANS = range(2, 13)
FLOOR = 0.01


def raw_frame(cfg, data_dir, span):
    """The span's rows as ``load_span`` keeps them (label present), read again for the exact rates."""
    import pandas as pd

    from backtest.data import _span_files

    frame = pd.concat([pd.read_csv(f) for f in _span_files(cfg, data_dir, span).files], ignore_index=True)
    return frame[frame[cfg.features.label].notna()]


def raw_rates(base, cur, features, categorical):
    """The same rates counted on raw rows (float32, as tf.Example stores them)."""
    out = {}
    for f in features:
        b, c = base[f].dropna(), cur[f].dropna()
        r = {"missing": float(cur[f].isna().mean())}
        if f in categorical:
            r["unseen"] = float((~c.astype(str).isin(set(b.astype(str)))).mean()) if len(c) else None
        else:
            bv, cv = b.to_numpy(np.float32), c.to_numpy(np.float32)
            r["out_of_range"] = float(((cv < bv.min()) | (cv > bv.max())).mean()) if len(cv) else None
        out[f] = r
    return out


def region_bench(region, data_root):
    from backtest.data import load_span, statistics
    from components.drift import integrity
    from driftgate.core.config import load_region_config, region_data_dir, schema_file
    from pipelines.schema_store import load

    cfg = load_region_config(region)
    data_dir = region_data_dir(cfg, data_root)
    schema = load(schema_file(cfg))
    kinds = {f: "categorical" for f in cfg.features.categorical}
    kinds.update({f: "numeric" for f in cfg.features.numeric})
    t0 = time.time()
    stats = {}
    for s in [BASELINE, *SPANS]:
        stats[s] = statistics(load_span(cfg, data_dir, s, schema), schema, cfg.drift.quantile_buckets)
    stats_s = time.time() - t0

    base_raw = raw_frame(cfg, data_dir, BASELINE)
    per_span, floor_cells, history_findings, gaps, timings = {}, [], [], {}, []
    past = []
    for s in SPANS:
        t = time.perf_counter()
        r = integrity.rates(stats[BASELINE], stats[s], kinds)
        timings.append(time.perf_counter() - t)
        per_span[s] = r
        for f in integrity.judge(r, floor=FLOOR, min_history=10**9):  # the floor only
            floor_cells.append({"span": s, **f.to_json(), "resolution": round(r[f.feature].resolution, 4)})
        for f in integrity.judge(r, integrity.history_of(past), floor=FLOOR, k=3.0, min_history=3):
            history_findings.append({"span": s, **f.to_json()})
        past.append(r)
        exact = raw_rates(base_raw, raw_frame(cfg, data_dir, s), kinds, set(cfg.features.categorical))
        for feat, fr in r.items():
            for name, v in fr.rates().items():
                truth = exact[feat].get(name)
                if truth is None:
                    continue
                gap = abs(v - truth)
                g = gaps.setdefault(name, {"max_gap": 0.0, "where": None, "within_resolution": 0, "cells": 0})
                g["cells"] += 1
                g["within_resolution"] += gap <= fr.resolution + 1e-9
                if gap > g["max_gap"]:
                    g.update(
                        max_gap=gap,
                        where=f"{feat} span {s}: stats {v:.4f} raw {truth:.4f} ±{fr.resolution:.4f}",
                    )
    # time one call again, warmed up, many repeats
    reps = 200
    t = time.perf_counter()
    for _ in range(reps):
        integrity.rates(stats[BASELINE], stats[SPANS[-1]], kinds)
    one_call_ms = (time.perf_counter() - t) / reps * 1e3
    return {
        "statistics_s": round(stats_s, 1),
        "rates_ms_per_span": round(one_call_ms, 2),
        "rates_ms_first_calls_max": round(max(timings) * 1e3, 2),
        "above_floor": floor_cells,
        "findings_with_history": history_findings,
        "gap_vs_raw_rows": {k: dict(v, max_gap=round(v["max_gap"], 4)) for k, v in sorted(gaps.items())},
        "rates": {s: integrity.rates_to_json(r) for s, r in per_span.items()},
    }


def table(region, res):
    """Rows: features above the floor in at least one span; columns: spans."""
    cells = {}
    for c in res["above_floor"]:
        cells.setdefault((c["feature"], c["rate"]), {})[c["span"]] = c["value"]
    hist = {(c["feature"], c["rate"], c["span"]) for c in res["findings_with_history"]}
    lines = [
        f"{region}: rates above {FLOOR:.0%} vs span {BASELINE} (* = still a finding at the history threshold)"
    ]
    lines.append(f"  {'feature':<26}" + "".join(f"{s:>7}" for s in SPANS))
    for (feat, rate), by_span in sorted(cells.items()):
        row = ""
        for s in SPANS:
            v = by_span.get(s)
            mark = "*" if (feat, rate, s) in hist else " "
            row += f"{100 * v:>6.1f}{mark}" if v is not None else f"{'.':>6} "
        lines.append(f"  {feat + ' ' + rate:<26}" + row)
    if not cells:
        lines.append("  (none)")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/tmp/int/data", help="driftgate data flights --out DIR")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "integrity.json"))
    args = ap.parse_args()
    res = {}
    for region in REGIONS:
        res[region] = r = region_bench(region, args.data)
        print(table(region, r))
        print(
            f"  statistics of 12 spans {r['statistics_s']}s; rates() {r['rates_ms_per_span']} ms per span; "
            "gap vs raw rows: "
            + ", ".join(
                f"{k} max {v['max_gap']} ({v['within_resolution']}/{v['cells']} within resolution)"
                for k, v in r["gap_vs_raw_rows"].items()
            )
        )
        for k, v in r["gap_vs_raw_rows"].items():
            if v["where"]:
                print(f"    largest {k} gap: {v['where']}")
        print()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(res, fh, indent=1)
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
