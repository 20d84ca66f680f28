"""Serving-signature latency, stable vs canary (p50/p99 for 1 and 1000 examples).

Calls each SavedModel's ``serving_default`` signature on serialized
tf.Examples of a real span, as TF Serving would. Reads the region's release
state under ``--root`` (after ``make demo``: demo/runs); without a canary it
compares the stable version with the previous stable.

    .venv/bin/python benchmarks/bench_serving.py --root demo/runs --region EWR --data demo/data --span 3
"""

import argparse
import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="demo/runs")
    ap.add_argument("--region", default="EWR")
    ap.add_argument("--data", default="demo/data")
    ap.add_argument("--span", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "serving.json"))
    args = ap.parse_args()

    import tensorflow as tf

    from components.canary import analysis
    from components.ingest import fast
    from driftgate.core.config import load_region_config
    from serving import release

    cfg = load_region_config(args.region)
    from driftgate.core import storage
    from driftgate.core.layout import RegionLayout

    sdir = RegionLayout(storage.absolute(args.root), cfg.region, cfg.serving.model_name).serving_dir
    state = release.load_state(sdir, cfg.serving.model_name)
    if state.stable is None:
        raise SystemExit(f"no release state in {sdir}: run `make demo` (or pass --root)")
    other = state.canary or (state.previous_stables[-1] if state.previous_stables else None)
    versions = {"stable": state.stable, "canary" if state.canary else "previous stable": other}
    path = os.path.join(args.data, cfg.region, f"span-{args.span}", "data.csv")
    examples = fast.span_records("csv", [path])[:1000]  # as ingest encodes them
    results = {}
    print(
        f"{cfg.region}: serving_default latency on span {args.span} rows, {args.repeats} calls each (warm)\n"
    )
    print(f"{'model':<18}{'version':>8}{'p50 1 ex':>11}{'p99 1 ex':>11}{'p50 1000':>11}{'p99 1000':>11}")
    for label, v in versions.items():
        if v is None:
            continue
        serve = tf.saved_model.load(os.path.join(state.base_path, str(v))).signatures["serving_default"]
        one = analysis.latency_ms(serve, examples, 1, repeats=args.repeats)
        big = analysis.latency_ms(serve, examples, 1000, repeats=max(20, args.repeats // 10))
        results[label] = {"version": v, "latency_ms_1": one, "latency_ms_1000": big}
        print(
            f"{label:<18}{v:>8}{one['p50']:>9.2f}ms{one['p99']:>9.2f}ms{big['p50']:>9.2f}ms{big['p99']:>9.2f}ms"
        )
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({"region": cfg.region, "span": args.span, "results": results}, fh, indent=1)
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
