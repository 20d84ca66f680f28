"""How the default gate policy was chosen, and how well the choice carries
to a region it was not chosen on (leave one region out).

Over a grid of ``drift.calibration`` settings (k, min_features, min_history;
``--grid calibration``) or of the same-span challenger's margin
(``quality.challenger.margin``, "off" = disabled; ``--grid challenger``, the
calibration at its defaults) or of what a young region retrains on before
its thresholds calibrate (``drift.calibration.until_calibrated: hold``, or
``certain`` with ``certain_overlap`` from 0.3 to 1.0; ``--grid certain``) or
of the serving-quality margin (``quality.auc_margin``; ``--grid quality``), the backtest's ``driftgate`` policy (the production gate, ``assess``) is
walked over each region's cached score matrix (run ``driftgate backtest``
first: this script trains nothing). A setting qualifies when it changes the
serving model at most 5 times in each region; among those, the one with the
highest worst-region gain wins. Then, per region, the setting is chosen on
the other two regions and its gain on the held-out one is reported.

    .venv/bin/python benchmarks/tune_policy.py --out runs/backtest --data demo/data [--grid challenger] [-o json]
"""

import argparse
import dataclasses
import itertools
import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

GRIDS = {
    "calibration": {"k": (1.0, 1.5, 2.0, 2.5), "min_features": (2, 3, 4), "min_history": (2, 3)},
    "challenger": {"margin": ("off", 0.0, 0.02, 0.04, 0.06, 0.08, 0.10, 0.12, 0.15)},
    # before calibration: hold on every shift, or retrain on a certain one whose
    # predictions share at most this much of their histogram with training's
    "certain": {"certain_overlap": ("hold", 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)},
    # how far below its push-time AUC the serving model's interval must lie to retrain
    "quality": {"auc_margin": (0.10, 0.15, 0.20, 0.25, 0.30, 1.0)},
}
MAX_CHANGES = 5


def configured(cfg, setting: dict):
    """The region's config with one grid setting applied."""
    cal_keys = {k: v for k, v in setting.items() if k in ("k", "min_features", "min_history")}
    if cal_keys:
        cal = dataclasses.replace(cfg.drift.calibration, **cal_keys)
        cfg = dataclasses.replace(cfg, drift=dataclasses.replace(cfg.drift, calibration=cal))
    if "certain_overlap" in setting:
        hold = setting["certain_overlap"] == "hold"
        cal = dataclasses.replace(
            cfg.drift.calibration,
            until_calibrated="hold" if hold else "certain",
            certain_overlap=cfg.drift.calibration.certain_overlap if hold else setting["certain_overlap"],
        )
        cfg = dataclasses.replace(cfg, drift=dataclasses.replace(cfg.drift, calibration=cal))
    if "auc_margin" in setting:
        cfg = dataclasses.replace(
            cfg, quality=dataclasses.replace(cfg.quality, auc_margin=setting["auc_margin"])
        )
    if "margin" in setting:
        off = setting["margin"] == "off"  # measured and reported, not retrained on
        margin = cfg.quality.challenger.margin if off else setting["margin"]
        ch = dataclasses.replace(cfg.quality.challenger, retrain=not off, margin=margin)
        cfg = dataclasses.replace(cfg, quality=dataclasses.replace(cfg.quality, challenger=ch))
    return cfg


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/backtest", help="the backtest's --out (matrices cached there)")
    ap.add_argument("--data", default="demo/data")
    ap.add_argument("--regions", default="EWR,JFK,LGA")
    ap.add_argument("--grid", choices=sorted(GRIDS), default="calibration")
    ap.add_argument("-o", dest="fmt", choices=["table", "json"], default="table")
    args = ap.parse_args(argv)

    from backtest.run import backtest_region
    from driftgate.core.config import load_region_config

    regions = args.regions.split(",")
    rows = []
    grid = GRIDS[args.grid]
    for values in itertools.product(*grid.values()):
        setting = dict(zip(grid, values, strict=True))
        per = {}
        for r in regions:
            cfg = configured(load_region_config(r), setting)
            res = backtest_region(cfg, os.path.join(args.data, r), args.out, policies=["driftgate"])
            row = next(x for x in res.rows if x.policy == "driftgate")
            per[r] = {"gain": round(row.gain, 3), "changes": row.changes}
        rows.append({"setting": setting, "regions": per})
        print(
            f"  {setting}: " + ", ".join(f"{r} {v['gain']:.2f}/{v['changes']}" for r, v in per.items()),
            file=sys.stderr,
        )

    def best(on):
        ok = [x for x in rows if all(x["regions"][r]["changes"] <= MAX_CHANGES for r in on)]
        return max(
            ok,
            key=lambda x: (
                min(x["regions"][r]["gain"] for r in on),
                -sum(x["regions"][r]["changes"] for r in on),
            ),
        )

    chosen = best(regions)
    held = {}
    for r in regions:
        pick = best([x for x in regions if x != r])
        held[r] = {"setting": pick["setting"], **pick["regions"][r]}
    out = {"chosen": chosen, "leave_one_out": held, "grid": rows}
    if args.fmt == "json":
        print(json.dumps(out, indent=1))
        return 0
    print(f"chosen on all regions: {chosen['setting']}")
    for r, v in chosen["regions"].items():
        print(f"  {r}: gain {v['gain']:.2f}, {v['changes']} changes")
    print("leave one region out (chosen on the other two, scored on this one):")
    for r, v in held.items():
        print(f"  {r}: {v['setting']} -> gain {v['gain']:.2f}, {v['changes']} changes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
