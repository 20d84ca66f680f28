"""What permutation importance (``components.quality.importance``) costs on a
real span, against one scoring of that span, and the EWR model's importance
ranking on its own span and a later one, with their nDCG.

The model is the production trainer's (``backtest.matrix.train``) on EWR
span 1's train split; an existing SavedModel can be passed with --model (it
is only read). Timings are in-process, warm (the signature called once
before), the median of --repeats runs.

    .venv/bin/driftgate data flights --out /tmp/imp/data
    .venv/bin/python benchmarks/bench_importance.py --data /tmp/imp/data

``--only score|importance`` loads the span and the model and runs that one
step once (for timing whole processes side by side). Writes
benchmarks/results/importance.json.
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = os.path.dirname(os.path.abspath(__file__))
# a skip span of the pipeline on EWR, wall seconds (benchmarks/results/components.json:
# spans 2 and 5, 2 cores); the issue's own figure is 15-25 s
SKIP_SPAN_S = {"components.json span 2": 12.7, "components.json span 5": 13.8}
ISSUE_SKIP_SPAN_S = (15.0, 25.0)


def _timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def _time_span(args, serve, predict, features, sd) -> "dict | None":
    """One scoring of the span's first ``--rows`` rows against permutation
    importance on them (warm, median of ``--repeats``); with ``--only``, the
    one step once, printed as JSON (then None)."""
    from components.quality import importance as imp
    from serving import signature

    records, labels = sd.all[: args.rows], sd.labels[: args.rows]
    signature.predict(serve, records[:1000])  # warm: the first call traces

    def score():
        return signature.predict(serve, records)

    def importance():
        return imp.importance(predict, records, labels, features, max_rows=args.max_rows)

    if args.only:
        t0 = time.perf_counter()
        (score if args.only == "score" else importance)()
        elapsed = round(time.perf_counter() - t0, 3)
        print(json.dumps({"only": args.only, "span": sd.span, "rows": len(records), "s": elapsed}))
        return None

    score_s, score_runs, _ = _timed(score, args.repeats)
    imp_s, imp_runs, _ = _timed(importance, args.repeats)
    calls = []

    def timed_predict(batch):
        t0 = time.perf_counter()
        out = predict(batch)
        calls.append((len(batch), time.perf_counter() - t0))
        return out

    imp.importance(timed_predict, records, labels, features, max_rows=args.max_rows)
    (scored, predict_s), ratio = calls[0], imp_s / score_s
    shares = {k: round(imp_s / v, 3) for k, v in SKIP_SPAN_S.items()}
    shares.update({f"issue {v:g} s": round(imp_s / v, 3) for v in ISSUE_SKIP_SPAN_S})
    print(
        f"{args.region} span {sd.span}: {len(records):,} of its {sd.rows:,} rows, {len(features)} features, "
        f"max_rows {args.max_rows}; median of {args.repeats} warm runs"
    )
    print(f"  one scoring of the rows (signature.predict): {score_s:.3f} s")
    print(
        f"  permutation importance: {imp_s:.3f} s ({scored:,} rows scored in one call: {predict_s:.3f} s; "
        f"sampling, splicing the permuted copies, AUCs: {imp_s - predict_s:.3f} s)"
    )
    print(f"  ratio importance / scoring: {ratio:.2f}")
    print("  share of a skip span: " + ", ".join(f"{v:.1%} of {k}" for k, v in shares.items()))
    return {
        "span": sd.span,
        "rows": len(records),
        "span_rows": sd.rows,
        "score_s": round(score_s, 4),
        "score_runs_s": [round(t, 4) for t in score_runs],
        "importance_s": round(imp_s, 4),
        "importance_runs_s": [round(t, 4) for t in imp_runs],
        "importance_rows_scored": scored,
        "importance_predict_s": round(predict_s, 4),
        "ratio_importance_to_scoring": round(ratio, 2),
        "importance_share_of_skip_span": shares,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/tmp/est/data" if os.path.isdir("/tmp/est/data") else "/tmp/imp/data")
    ap.add_argument("--region", default="EWR")
    colleague = "/tmp/est/bt/EWR/models/span-1"  # a backtest's span-1 model, when one was built
    ap.add_argument(
        "--model",
        default=colleague if os.path.exists(os.path.join(colleague, "saved_model.pb")) else None,
        help="a SavedModel of the region's span 1 (only read); default: train one",
    )
    ap.add_argument("--models", default="/tmp/imp/models", help="where a trained model goes")
    ap.add_argument(
        "--spans",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[2, 3],
        help="the spans timed (EWR span 2 has 8,575 rows, span 3 10,015)",
    )
    ap.add_argument("--rows", type=int, default=10_000, help="rows of the span timed (at most)")
    ap.add_argument("--max-rows", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--later", type=int, default=6, help="the later span ranked beside span 1")
    ap.add_argument("--only", choices=["score", "importance"])
    ap.add_argument("--out", default=os.path.join(HERE, "results", "importance.json"))
    args = ap.parse_args()

    from backtest.data import load_span
    from backtest.matrix import train
    from components.quality import importance as imp
    from driftgate.core.config import load_region_config, schema_file
    from pipelines.schema_store import load
    from serving import signature

    cfg = load_region_config(args.region)
    schema = load(schema_file(cfg))
    data_dir = os.path.join(args.data, cfg.region)
    features = list(cfg.features.all)
    model_dir = args.model
    if model_dir is None:
        model_dir = os.path.join(args.models, args.region, "span-1")
        if not os.path.exists(os.path.join(model_dir, "saved_model.pb")):
            print(f"training {args.region} span 1's model into {model_dir} ...", flush=True)
            train(cfg, load_span(cfg, data_dir, 1, schema), schema, model_dir)
    serve = signature.load(model_dir)
    predict = imp.predictor(serve)

    timings = []
    for span in args.spans:
        sd = load_span(cfg, data_dir, span, schema)
        found = _time_span(args, serve, predict, features, sd)
        if found is None:  # --only: one step timed
            return
        timings.append(found)

    # rankings: span 1's eval rows (what a push would record) and a later span's rows
    sd1 = load_span(cfg, data_dir, 1, schema)
    sdl = load_span(cfg, data_dir, args.later, schema)
    ref = imp.importance(predict, sd1.eval, sd1.eval_labels, features, max_rows=args.max_rows)
    later = imp.importance(predict, sdl.all, sdl.labels, features, max_rows=args.max_rows)
    # noise floor: the same rows ranked again with another seed (other sample, other permutations)
    ref_b = imp.importance(predict, sd1.eval, sd1.eval_labels, features, max_rows=args.max_rows, seed=1)
    later_b = imp.importance(predict, sdl.all, sdl.labels, features, max_rows=args.max_rows, seed=1)
    score_ndcg = imp.ndcg(ref, later)
    noise = {
        "span_1_eval_seed_0_vs_1": imp.ndcg(ref, ref_b),
        f"span_{args.later}_seed_0_vs_1": imp.ndcg(later, later_b),
    }
    for name, r in (
        (f"span 1 eval ({ref.rows} rows)", ref),
        (f"span {args.later} ({later.rows} rows)", later),
    ):
        print(f"\n{name}: base AUC {r.base_auc:.3f}")
        for i, f in enumerate(r.ranking(), start=1):
            print(f"  {i:>2}. {f:<16}{r.values[f]:+.4f}")
    print(f"\nnDCG span {args.later} vs span 1: {score_ndcg:.3f}")
    print("  " + imp.describe(ref, later, against="span 1 (push)"))
    print(f"  noise floor (same rows, seed 0 vs 1): {noise}")

    doc = {
        "region": args.region,
        "model": model_dir,
        "data": args.data,
        "features": len(features),
        "max_rows": args.max_rows,
        "repeats": args.repeats,
        "timings": timings,
        "skip_span_s": {**SKIP_SPAN_S, "issue": list(ISSUE_SKIP_SPAN_S)},
        "budget": "at most 10% of a skip span at 10k rows",
        "rankings": {
            "span_1_eval": {**ref.to_json(), "ranking": ref.ranking()},
            f"span_{args.later}": {**later.to_json(), "ranking": later.ranking()},
        },
        "ndcg": score_ndcg,
        "ndcg_alert": imp.NDCG_ALERT,
        "describe": imp.describe(ref, later, against="span 1 (push)"),
        "ndcg_noise_floor": noise,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(doc, fh, indent=1)
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
