"""One backtest: per region, load spans, statistics and the score matrix,
walk every policy, score the walks; then the overall rows."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

from backtest import matrix as matrices
from backtest import policies as p
from backtest import signals, young
from backtest.data import BacktestError, fingerprint, load_span, statistics
from backtest.evaluation import tfma_rule
from driftgate.core import storage
from driftgate.core.vocabulary import DRIFT_TESTS

CALENDAR = (2, 3, 4, 6)
MIN_SPANS = 3


def policy_names() -> List[str]:
    """Every policy, in the order tables show them."""
    return (
        ["never", "always"]
        + [f"every-{k}" for k in CALENDAR]
        + ["age-cap"]
        + [f"drift-{t}" for t in DRIFT_TESTS]
        + list(SIGNALS)
        + list(VARIANTS)
        + [LORO, "driftgate"]
    )


# each new gate signal alone and combined (predicates on the span report)
SIGNALS = {
    "calibrated": (p.calibrated_drift,),
    "quality": (p.degraded,),
    "prediction-drift": (p.prediction_drift,),
    "quality+calibrated": (p.degraded, p.calibrated_drift),
    "prediction+calibrated": (p.prediction_drift, p.calibrated_drift),
    "challenger": (p.stale,),
    "challenger+calibrated": (p.stale, p.calibrated_drift),
}


@dataclass
class RegionResult:
    region: str
    spans: List[int]
    rows: List[p.Score]
    walks: Dict[str, p.Walk]
    oracles: Dict[int, p.Walk]
    staleness: Dict[int, float]
    matrix: p.Matrix
    window: Dict[str, object] = field(default_factory=dict)  # --train-window: K spans vs one
    young: List[dict] = field(default_factory=list)  # backtest.young.replay: each span as the second
    # LORO asked for: leave_one_region_out adds its row; then what it chose and on which regions
    loro: Dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "region": self.region,
            "spans": self.spans,
            "policies": [r.to_json() for r in self.rows],
            "walks": {
                n: {"serving": w.serving, "retrains": w.retrains, "auc": w.auc} for n, w in self.walks.items()
            },
            "oracle": {k: {"serving": w.serving, "mean_auc": w.mean} for k, w in self.oracles.items()},
            "staleness": self.staleness,
            "train_window": self.window,
            "importance_loro": {k: v for k, v in self.loro.items() if k != "wanted"},
            "young_region": {
                "spans": self.young,
                "summary": {n: young.summary(self.young, n) for n in YOUNG if self.young},
            },
        }


STATS_FILE = "statistics.json"


def cached_statistics(region_dir: str, fps: Dict[int, list], buckets: int) -> tuple:
    """({span: statistics}, {span: rows}) kept from an earlier run, for the
    spans whose files are unchanged."""
    import json

    from google.protobuf import json_format
    from tensorflow_metadata.proto.v0 import statistics_pb2

    path = os.path.join(region_dir, STATS_FILE)
    if not os.path.exists(path):
        return {}, {}
    saved = json.loads(storage.read_text(path))
    if saved.get("quantile_buckets") != buckets:
        return {}, {}
    stats, rows = {}, {}
    for span, fp in fps.items():
        entry = saved.get("spans", {}).get(str(span))
        if entry and entry["files"] == fp:
            stats[span] = json_format.ParseDict(
                entry["statistics"], statistics_pb2.DatasetFeatureStatisticsList()
            )
            rows[span] = entry["rows"]
    return stats, rows


def save_statistics(region_dir: str, fps, stats, rows, buckets: int) -> None:
    """Keeps each span's statistics with the files they came from."""
    import json

    from google.protobuf import json_format

    spans = {
        str(s): {"files": fps[s], "rows": rows[s], "statistics": json_format.MessageToDict(stats[s])}
        for s in stats
    }
    storage.write_atomic(
        os.path.join(region_dir, STATS_FILE), json.dumps({"quantile_buckets": buckets, "spans": spans})
    )


def _calibration(cfg, **changes):
    import dataclasses

    cal = dataclasses.replace(cfg.drift.calibration, **changes)
    return dataclasses.replace(cfg, drift=dataclasses.replace(cfg.drift, calibration=cal))


# the whole gate with one part of the region's config changed: name -> config
VARIANTS = {
    # calibration off: the gate before history calibration
    "driftgate-fixed": lambda cfg: _calibration(cfg, enabled=False),
    # a young region holds on every shift until its thresholds calibrate
    "driftgate-hold": lambda cfg: _calibration(cfg, until_calibrated="hold"),
    # a certain shift is any critical prediction drift with the AUC below its
    # reference, however much the predictions still overlap
    "driftgate-certain-any": lambda cfg: _calibration(cfg, until_calibrated="certain", certain_overlap=1.0),
    # the gate rule slice_quality retrains: a slice's AUC below its push-time AUC by quality.auc_margin
    "driftgate-slices": lambda cfg: _quality(cfg, retrain_on_slices=True),
}


def _quality(cfg, **changes):
    import dataclasses

    return dataclasses.replace(cfg, quality=dataclasses.replace(cfg.quality, **changes))


def _importance(cfg, above: float):
    import dataclasses

    imp = dataclasses.replace(cfg.quality.importance, retrain_above=above)
    return dataclasses.replace(cfg, quality=dataclasses.replace(cfg.quality, importance=imp))


# the gate rule importance_drift on (quality.importance.retrain_above), most eager first
IMPORTANCE = (0.5, 1.0, 1.5, 2.0)
IMPORTANCE_POLICIES = [f"driftgate-importance-{t:.1f}" for t in IMPORTANCE]
VARIANTS.update(
    {
        name: (lambda cfg, t=t: _importance(cfg, t))
        for name, t in zip(IMPORTANCE_POLICIES, IMPORTANCE, strict=True)
    }
)
# retrain_above chosen for each region on the other regions (leave_one_region_out)
LORO = "driftgate-importance-loro"


# what a young region does on its second span (backtest.young): the default and the variants that differ there
YOUNG = ("driftgate", "driftgate-hold", "driftgate-certain-any")


def deciders(cfg, spans: List[int], report, variant_reports: Dict[str, object]) -> Dict[str, p.Decide]:
    """``variant_reports``: VARIANTS' names -> their ``signals.reports``
    (``driftgate-fixed`` also judges the single drift tests)."""
    fixed_report = variant_reports["driftgate-fixed"]
    out = {"never": p.never(), "always": p.always()}
    out.update({f"every-{k}": p.every(k) for k in CALENDAR})
    out["age-cap"] = p.age_cap(spans, cfg.drift.max_model_age_spans)
    out.update({f"drift-{t}": p.from_reports(fixed_report, t, cfg.drift.retrain_on) for t in DRIFT_TESTS})
    out.update({name: p.from_signal(report, *sigs) for name, sigs in SIGNALS.items()})
    out.update({name: p.from_reports(r, None, cfg.drift.retrain_on) for name, r in variant_reports.items()})
    out["driftgate"] = p.from_reports(report, None, cfg.drift.retrain_on)
    return out


def backtest_region(
    cfg,
    data_dir: str,
    out_dir: str,
    *,
    spans: Optional[Sequence[int]] = None,
    policies: Optional[Sequence[str]] = None,
    train_window: Optional[int] = None,
    schemas_dir=None,
    progress: Callable[[str], None] = lambda line: None,
) -> RegionResult:
    from driftgate.core.config import schema_file
    from pipelines import preflight
    from pipelines.schema_store import load

    available = preflight.available_spans(data_dir, cfg.data.span_pattern)
    wanted = sorted(spans) if spans else available
    missing = [s for s in wanted if s not in available]
    if missing:
        raise BacktestError(
            f"region {cfg.region}: span {missing[0]} is missing in {data_dir} "
            f"(pattern '{cfg.data.span_pattern}'; spans there: {available or 'none'})"
        )
    if len(wanted) < MIN_SPANS:
        raise BacktestError(
            f"region {cfg.region}: {len(wanted)} span(s) ({wanted}); a backtest needs at least {MIN_SPANS}"
        )
    schema = load(schema_file(cfg, schemas_dir))
    progress(f"{cfg.region}: {len(wanted)} spans ({wanted[0]}-{wanted[-1]}) from {data_dir}")
    region_dir = os.path.join(out_dir, cfg.region)
    fps = {s: fingerprint(cfg, data_dir, s) for s in wanted}
    stats, rows = cached_statistics(region_dir, fps, cfg.drift.quantile_buckets)
    m = matrices.cached(cfg, wanted, fps, region_dir)
    data = {}
    if m is None or len(stats) < len(wanted) or (train_window or 0) > 1:
        data = {s: load_span(cfg, data_dir, s, schema) for s in wanted}
        for s in wanted:
            if s not in stats:
                stats[s], rows[s] = statistics(data[s], schema, cfg.drift.quantile_buckets), data[s].rows
        save_statistics(region_dir, fps, stats, rows, cfg.drift.quantile_buckets)
        m = matrices.build(cfg, data, schema, region_dir, fps, progress)
    summ = signals.summaries(stats, list(cfg.features.all))
    report = signals.reports(cfg, wanted, summ, rows, m)
    variants = {
        name: signals.reports(change(cfg), wanted, summ, rows, m) for name, change in VARIANTS.items()
    }
    bless = p.Bless(rule=tfma_rule(cfg))
    # gain is measured against never and always: they always run, first
    chosen = ["never", "always"] + [c for c in (policies or policy_names()) if c not in ("never", "always")]
    wants_loro = LORO in chosen
    if wants_loro:  # chosen among the thresholds after every region ran: each must run here
        at = chosen.index(LORO)
        chosen = chosen[:at] + [c for c in IMPORTANCE_POLICIES if c not in chosen] + chosen[at + 1 :]
    every = deciders(cfg, wanted, report, variants)
    unknown = [c for c in chosen if c not in every]
    if unknown:
        raise BacktestError(f"unknown policy '{unknown[0]}'; choose from {', '.join(every)}")
    walks = {name: p.walk(name, m, every[name], bless) for name in chosen}
    oracles = p.oracle(m)
    res = RegionResult(cfg.region, wanted, p.score(walks, oracles), walks, oracles, p.staleness(m), m)
    res.loro = {"wanted": True} if wants_loro else {}
    configs = {n: cfg if n == "driftgate" else VARIANTS[n](cfg) for n in YOUNG}
    res.young = young.replay(configs, m, summ, rows, bless)
    if train_window and train_window > 1:
        if train_window >= len(wanted):
            raise BacktestError(
                f"region {cfg.region}: --train-window {train_window} needs more than {train_window} spans"
            )
        nxt = matrices.build_window(cfg, data, schema, region_dir, train_window, fps, progress)
        ts = sorted(nxt)
        res.window = {
            "k": train_window,
            "spans_scored": [wanted[t + 1] for t in ts],
            "one_span_mean_auc": sum(m.served[t][t + 1] for t in ts) / len(ts),
            "window_mean_auc": sum(nxt[t] for t in ts) / len(ts),
        }
    return res


def leave_one_region_out(results: Sequence[RegionResult]) -> None:
    """Adds the ``driftgate-importance-loro`` row to each region that asked
    for it: the ``driftgate-importance-<T>`` policy with the best mean gain
    on the other regions (ties: fewer changes there, then the higher T),
    scored on this one (its walk and row under the LORO name, before
    ``driftgate``). Needs at least two regions; with one it adds nothing."""
    import dataclasses

    asked = [r for r in results if r.loro.get("wanted")]
    if len(asked) < 2:
        for res in asked:
            res.loro = {"note": "needs at least two regions"}
        return
    chosen = p.leave_one_out({r.region: r.rows for r in asked}, IMPORTANCE_POLICIES)
    for res in asked:
        name = chosen[res.region]
        row = dataclasses.replace(next(x for x in res.rows if x.policy == name), policy=LORO)
        walk = dataclasses.replace(res.walks[name], policy=LORO)
        at = next((k for k, x in enumerate(res.rows) if x.policy == "driftgate"), len(res.rows))
        res.rows.insert(at, row)
        walks = list(res.walks.items())
        walks.insert(min(at, len(walks)), (LORO, walk))
        res.walks = dict(walks)
        res.loro = {"chosen": name, "chosen_on": [r.region for r in asked if r is not res]}


def overall(results: Sequence[RegionResult]) -> List[p.Score]:
    """Per policy: retrains and changes summed, AUC means averaged over regions,
    gain from the averaged means, regret averaged."""
    rows = []
    names = [r.policy for r in results[0].rows]
    for name in names:
        per = [next(r for r in res.rows if r.policy == name) for res in results]
        mean = sum(r.mean_auc for r in per) / len(per)
        rows.append(
            p.Score(
                name,
                sum(r.retrains for r in per),
                sum(r.changes for r in per),
                mean,
                min(r.worst_auc for r in per),
                math.nan,
                sum(r.regret for r in per) / len(per),
            )
        )
    lo = next(r.mean_auc for r in rows if r.policy == "never")
    hi = next(r.mean_auc for r in rows if r.policy == "always")
    for r in rows:
        r.gain = (r.mean_auc - lo) / (hi - lo) if abs(hi - lo) > 1e-12 else math.nan
    return rows
