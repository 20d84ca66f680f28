"""How far the label-free estimate (``components.quality.estimate``, CBPE) is
from the AUC the serving model really gets, on the flights history.

For each region and span t in 2..12, the model trained on span t-1 (the
backtest's models on disk) is calibrated on span t-1's eval split (what its
push records) and estimates its AUC and accuracy on all rows of span t from
its scores alone; the realised numbers use span t's labels. The naive
estimate is the last one known at t without span t's labels: the model's AUC
(accuracy) on span t-1's eval split, its push reference. Prints a table per
region and the mean absolute error of both, and times ``estimate()`` at 10k
and 1M scores.

    .venv/bin/driftgate data flights --out /tmp/est/data
    .venv/bin/driftgate backtest --data /tmp/est/data --out /tmp/est/bt --policies never
    .venv/bin/python benchmarks/bench_estimate.py --data /tmp/est/data --backtest /tmp/est/bt

Writes benchmarks/results/estimate.json.
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]

CONFIDENCE, SAMPLES = 0.95, 200


def region_rows(region: str, data: str, backtest: str, spans) -> list:
    """One row per span t: realised, cbpe and naive AUC and accuracy of span t-1's model on span t."""
    import numpy as np

    from backtest.data import load_span
    from components.quality import estimate as est
    from components.quality.metrics import accuracy, auc
    from driftgate.core.config import load_region_config, region_data_dir, schema_file
    from pipelines.schema_store import load
    from serving import signature

    cfg = load_region_config(region)
    schema = load(schema_file(cfg))
    folder = region_data_dir(cfg, data)
    matrix = json.loads((Path(backtest) / region / "matrix.json").read_text())
    index = {s: i for i, s in enumerate(matrix["spans"])}
    loaded = {}

    def span(s):
        if s not in loaded:
            loaded[s] = load_span(cfg, folder, s, schema)
        return loaded[s]

    rows = []
    for t in spans[1:]:
        prev, cur = span(t - 1), span(t)
        model = signature.load(str(Path(backtest) / region / "models" / f"span-{t - 1}"))
        ref_scores = signature.predict(model, prev.eval)
        scores = signature.predict(model, cur.all)
        cal = est.fit(prev.eval_labels, ref_scores)
        e = est.estimate(cal, scores, confidence=CONFIDENCE, samples=SAMPLES, seed=t)
        realised = auc(cur.labels, scores)
        # the backtest's matrix holds the same two numbers: a check that the rows and models match
        i = index[t - 1]
        assert abs(realised - matrix["served"][str(i)][str(index[t])]) < 1e-5, (region, t)
        assert abs(auc(prev.eval_labels, ref_scores) - matrix["references"][str(i)]["auc"]) < 1e-5
        rows.append(
            {
                "span": t,
                "rows": e.rows,
                "reference_rows": cal.rows,
                "calibration_points": len(cal.scores),
                "realised_auc": round(realised, 6),
                "cbpe_auc": e.auc,
                "cbpe_auc_low": e.auc_low,
                "cbpe_auc_high": e.auc_high,
                "naive_auc": round(auc(prev.eval_labels, ref_scores), 6),
                "realised_accuracy": round(accuracy(cur.labels, scores), 6),
                "cbpe_accuracy": e.accuracy,
                "naive_accuracy": round(accuracy(prev.eval_labels, ref_scores), 6),
                "positive_rate": round(float(np.mean(cur.labels)), 4),
                "reference_positive_rate": round(float(np.mean(prev.eval_labels)), 4),
                "mean_calibrated_p": round(float(np.mean(cal.apply(scores))), 4),
            }
        )
    return rows


def errors(rows) -> dict:
    import numpy as np

    def mae(a, b):
        return round(float(np.mean([abs(r[a] - r[b]) for r in rows])), 4)

    def bias(a, b):
        return round(float(np.mean([r[a] - r[b] for r in rows])), 4)

    return {
        "spans": len(rows),
        "auc_mae_cbpe": mae("cbpe_auc", "realised_auc"),
        "auc_mae_naive": mae("naive_auc", "realised_auc"),
        "auc_bias_cbpe": bias("cbpe_auc", "realised_auc"),
        "auc_bias_naive": bias("naive_auc", "realised_auc"),
        "auc_cbpe_closer": sum(
            abs(r["cbpe_auc"] - r["realised_auc"]) < abs(r["naive_auc"] - r["realised_auc"]) for r in rows
        ),
        "auc_interval_covers": sum(
            r["cbpe_auc_low"] <= r["realised_auc"] <= r["cbpe_auc_high"] for r in rows
        ),
        "accuracy_mae_cbpe": mae("cbpe_accuracy", "realised_accuracy"),
        "accuracy_mae_naive": mae("naive_accuracy", "realised_accuracy"),
    }


def timing(rows_list=(10_000, 1_000_000)) -> list:
    """Wall time of ``estimate()`` (the point estimates alone, and with the
    200-draw interval) on uniform scores, and what one ``metrics.auc`` call
    (a fresh ranking) costs at that size, for comparison."""
    import numpy as np

    from components.quality import estimate as est
    from components.quality.metrics import auc

    rng = np.random.default_rng(0)
    ref = rng.random(5000)
    cal = est.fit(rng.random(5000) < ref, ref)
    out = []
    for n in rows_list:
        scores = rng.random(n)
        labels = rng.random(n) < scores
        repeat = 5 if n <= 100_000 else 2

        def best(fn, repeat=repeat):
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            return round(min(times), 4)

        out.append(
            {
                "rows": n,
                "point_s": best(lambda s=scores: est.estimate(cal, s, samples=0)),
                "with_interval_s": best(lambda s=scores: est.estimate(cal, s, samples=SAMPLES)),
                "samples": SAMPLES,
                "one_metrics_auc_s": best(lambda s=scores, y=labels: auc(y, s)),
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/tmp/est/data")
    ap.add_argument("--backtest", default="/tmp/est/bt")
    ap.add_argument("--regions", default="EWR,JFK,LGA")
    ap.add_argument("--spans", default="1-12")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "estimate.json"))
    args = ap.parse_args()
    lo, hi = (int(x) for x in args.spans.split("-"))
    spans = list(range(lo, hi + 1))

    regions, everything = {}, []
    for region in args.regions.split(","):
        rows = region_rows(region, args.data, args.backtest, spans)
        regions[region] = {"rows": rows, "errors": errors(rows)}
        everything += rows
        print(f"\n{region}: model of span t-1 on span t (AUC; cbpe interval {CONFIDENCE:.0%}; accuracy)")
        print(
            f"{'span':>4} {'realised':>9} {'cbpe':>7} {'interval':>17} {'naive':>7}  {'acc':>6} {'cbpe':>6} {'naive':>6}"
        )
        for r in rows:
            print(
                f"{r['span']:>4} {r['realised_auc']:>9.3f} {r['cbpe_auc']:>7.3f} "
                f"[{r['cbpe_auc_low']:.3f}, {r['cbpe_auc_high']:.3f}] {r['naive_auc']:>7.3f}  "
                f"{r['realised_accuracy']:>6.3f} {r['cbpe_accuracy']:>6.3f} {r['naive_accuracy']:>6.3f}"
            )
        err = regions[region]["errors"]
        print(
            f"AUC MAE cbpe {err['auc_mae_cbpe']:.4f} vs naive {err['auc_mae_naive']:.4f} "
            f"(bias {err['auc_bias_cbpe']:+.4f} vs {err['auc_bias_naive']:+.4f}; cbpe closer on "
            f"{err['auc_cbpe_closer']}/{err['spans']}; interval covers {err['auc_interval_covers']}/{err['spans']}); "
            f"accuracy MAE cbpe {err['accuracy_mae_cbpe']:.4f} vs naive {err['accuracy_mae_naive']:.4f}"
        )
    total = errors(everything)
    print(
        f"\nall regions ({total['spans']} spans): AUC MAE cbpe {total['auc_mae_cbpe']:.4f} vs naive "
        f"{total['auc_mae_naive']:.4f} (cbpe closer on {total['auc_cbpe_closer']}); accuracy MAE cbpe "
        f"{total['accuracy_mae_cbpe']:.4f} vs naive {total['accuracy_mae_naive']:.4f}"
    )
    times = timing()
    for t in times:
        print(
            f"estimate() on {t['rows']:,} scores: {t['point_s']:.3f}s point estimates, "
            f"{t['with_interval_s']:.3f}s with the {t['samples']}-draw interval "
            f"(one metrics.auc call: {t['one_metrics_auc_s']:.3f}s)"
        )
    doc = {
        "method": "cbpe: isotonic calibration on span t-1's eval split, estimate on span t's scores",
        "confidence": CONFIDENCE,
        "samples": SAMPLES,
        "regions": regions,
        "overall": total,
        "timing": times,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
