"""A root as runs leave it, for the digest's tests and benchmark: per region
``results/span-<N>.json`` (``RunResult.to_json_dict()`` of a run with the
gate's drift report over every configured feature and three baselines),
``state/history.json``, ``state/alerts.json``, ``serving/<REGION>/release.json``,
``results/failed-<run id>.json`` and the span reports."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, List, Optional

from driftgate.app.datasets import WEATHER_COLUMNS

UTC = timezone.utc
NUMERIC = ["distance", *WEATHER_COLUMNS]
CATEGORICAL = ["carrier", "dest", "day_of_week", "sched_dep_hour", "sched_arr_hour"]
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)  # the week of 30 Nov 2026 (UTC); Berlin's starts 29 Nov 23:00 UTC


def stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _comparison(baseline: str, span: int, drifted: Dict[str, str]) -> dict:
    features = {}
    for name in NUMERIC + CATEGORICAL:
        sev = drifted.get(name, "none")
        score = {"none": 0.03, "warning": 0.14, "critical": 0.31}[sev]
        tests = ["ks", "wasserstein", "psi", "js"] if name in NUMERIC else ["chi2", "psi", "js", "linf"]
        features[name] = {
            "kind": "numeric" if name in NUMERIC else "categorical",
            "severity": sev,
            "count_baseline": 7500.0,
            "count_current": 7400.0,
            "tests": {
                t: {
                    "score": score,
                    "p_value": None,
                    "warning": 0.1,
                    "critical": 0.2,
                    "verdict": sev,
                    "noise": [0.02, 0.01],
                }
                for t in tests
            },
        }
    worst = "critical" if "critical" in drifted.values() else ("warning" if drifted else "none")
    return {
        "baseline": baseline,
        "span": span,
        "severity": worst,
        "drifted": sorted(drifted),
        "features": features,
    }


def quality(version, span, auc, verdict="ok", reference=0.74, fairness=None) -> dict:
    q = {
        "version": version,
        "span": span,
        "rows": 2400,
        "verdict": verdict,
        "auc": auc,
        "auc_low": round(auc - 0.03, 3),
        "auc_high": round(auc + 0.03, 3),
        "accuracy": 0.78,
        "reference_auc": reference,
        "reference_span": 1,
        "margin": 0.2,
        "confidence": 0.95,
        "prediction_drift": {"psi": 0.02, "ks": 0.03, "overlap": 0.95},
        "prediction_severity": "none",
        "sentence": f"serving v{version} scores AUC {auc:.3f} on span {span}",
    }
    if fairness:
        q["fairness"] = {
            "findings": [{"slice": "carrier", "sentence": s} for s in fairness],
            "band": [0.8, 1.25],
        }
    return q


def run(
    region: str,
    span: int,
    decision: str,
    at: Optional[datetime],
    *,
    drifted: Optional[Dict[str, str]] = None,
    pushed: Optional[int] = None,
    label: Optional[str] = None,
    canary: Optional[dict] = None,
    q: Optional[dict] = None,
    integrity: Optional[List[str]] = None,
    reasons: Optional[List[str]] = None,
    pending: Optional[List[int]] = None,
) -> dict:
    """One run's result JSON (``at`` None: a Kubeflow run id, which carries no time)."""
    from components.monitor.result import RunResult

    drifted = drifted or {}
    run_id = f"{region}-{at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}" if at else str(uuid.uuid4())
    report = {
        "span": span,
        "decision": decision,
        "rows": {"train": 7500, "eval": 2500},
        "reasons": reasons or [f"{decision}: drift {'on ' + ', '.join(drifted) if drifted else 'none'}"],
        "drift": {b: _comparison(b, max(span - 1, 1), drifted) for b in ("previous", "training", "serving")},
        "ingest": {"reason": "newest", "pending": pending or []},
        "integrity": {
            "findings": [{"feature": "dest", "sentence": s} for s in integrity or []],
            "baseline_span": 1,
        },
        "summary": f"{decision}: span {span}",
    }
    verdict = dict({"verdict": "none", "quality": q or {}}, **(canary or {}))
    result = RunResult.empty(
        region,
        f"/r/serving/{region}/flights_late",
        span=span,
        rows=10000,
        decision=decision,
        blocked=decision == "block",
        pushed_version=pushed,
        release_label=label,
        summary=report["summary"],
        reasons=report["reasons"],
        drift=report,
        run_id=run_id,
        canary=verdict,
        metrics={"auc": 0.77, "binary_accuracy": 0.75} if pushed else {},
    )
    return result.to_json_dict()


def write_region(
    root: Path,
    region: str,
    runs: List[dict],
    *,
    recorded: Optional[Dict[int, datetime]] = None,
    release: Optional[List[dict]] = None,
    stable=None,
    canary=None,
    alerts: Optional[Dict[str, dict]] = None,
    failures: Optional[List[dict]] = None,
) -> None:
    """Writes what a region's runs leave (``recorded``: span -> when the gate recorded it)."""
    results, state, reports = root / region / "results", root / region / "state", root / region / "reports"
    for d in (results, state, reports, root / "serving" / region):
        d.mkdir(parents=True, exist_ok=True)
    history = []
    for r in runs:
        (results / f"span-{r['span']}.json").write_text(json.dumps(r, indent=1))
        (reports / f"span-{r['span']}.html").write_text("<!doctype html><title>report</title>")
        at = (recorded or {}).get(r["span"])
        history.append(
            {"span": r["span"], "decision": r["decision"], "completed": True, "run_id": r["run_id"]}
            | ({"recorded_at": stamp(at)} if at else {})
        )
    (state / "history.json").write_text(json.dumps(history, indent=1))
    (state / "alerts.json").write_text(json.dumps(alerts or {}, indent=1))
    for f in failures or []:
        (results / f"failed-{f['run_id']}.json").write_text(json.dumps(f, indent=1))
    if release is not None:
        doc = {
            "model_name": "flights_late",
            "base_path": f"{root}/serving/{region}/flights_late",
            "stable": stable,
            "canary": canary,
            "previous_stables": [],
            "rejected": [],
            "history": release,
            "revision": len(release),
        }
        (root / "serving" / region / "release.json").write_text(json.dumps(doc, indent=1))


def event(action: str, version: int, at: datetime, reason: str = "") -> dict:
    return {"action": action, "version": version, "at": stamp(at), "reason": reason}


def standard_root(root: Path) -> Path:
    """Three regions, six spans each, around the week of 30 Nov 2026:

    - EWR (local run ids): span 1 on 24 Nov; span 2 on Sunday 29 Nov 22:30 UTC
      (23:30 in Berlin: the week before everywhere); span 3 on 29 Nov 23:30 UTC
      (Monday 00:30 in Berlin: this week there, not in UTC); span 4 retrains
      and pushes canary v2 (drift on temp, dewp); span 5 is blocked; span 6's
      judge rolls v2 back and pushes v3; two alerts this week, one before;
    - JFK (Kubeflow run ids: dated by history.json): serving v1 degraded on
      span 5, integrity findings on span 4, parity findings on span 6, canary
      v2 undecided since 20 Nov, a failed run on 4 Dec;
    - LGA: quiet skips; span 7 waits.
    """
    day = lambda d, h=6: MONDAY + timedelta(days=d, hours=h)  # noqa: E731
    ewr_times = {1: day(-6), 2: day(0, -1.5), 3: day(0, -0.5), 4: day(1), 5: day(2), 6: day(3)}
    ewr = [
        run("EWR", 1, "retrain", ewr_times[1], pushed=1, label="stable"),
        run("EWR", 2, "skip", ewr_times[2], q=quality(1, 2, 0.72)),
        run("EWR", 3, "skip", ewr_times[3], q=quality(1, 3, 0.70)),
        run(
            "EWR", 4, "retrain", ewr_times[4], drifted={"temp": "critical", "dewp": "warning"},
            pushed=2, label="canary", q=quality(1, 4, 0.66),
        ),
        run(
            "EWR", 5, "block", ewr_times[5], drifted={"temp": "critical"},
            reasons=['temp (eval): Expected data of type: FLOAT but got STRING, such as "n/a".'],
        ),
        run(
            "EWR", 6, "retrain", ewr_times[6], drifted={"temp": "critical", "humid": "warning"}, pushed=3,
            label="canary", q=quality(1, 6, 0.69),
            canary={"verdict": "rollback", "canary_version": 2, "stable_version": 1, "span": 6},
        ),
    ]  # fmt: skip
    write_region(
        root, "EWR", ewr, recorded=ewr_times, stable=1, canary=3,
        release=[
            event("stable", 1, day(-6, 6.1), "first version in the region"),
            event("canary", 2, day(1, 6.1)),
            event("rollback", 2, day(3, 6.05), "canary AUC 0.61 below stable 0.69 by more than 0.01"),
            event("canary", 3, day(3, 6.1)),
        ],
        alerts={
            "driftgate/EWR/temp": {"at": day(1, 6.2).timestamp(), "severity": "critical", "channel": "pagerduty"},
            "driftgate/EWR/<span>": {"at": day(2, 6.2).timestamp(), "severity": "critical", "channel": "pagerduty"},
            "driftgate/EWR/dewp": {"at": day(-10).timestamp(), "severity": "warning", "channel": "slack"},
        },
    )  # fmt: skip
    jfk_times = {s: day(-7 + 2 * s) for s in range(1, 7)}  # spans 1-3 the week before, 4-6 this week
    jfk = [
        run("JFK", 1, "retrain", None, pushed=1, label="stable"),
        run("JFK", 2, "skip", None, q=quality(1, 2, 0.75)),
        run("JFK", 3, "retrain", None, pushed=2, label="canary", q=quality(1, 3, 0.74), drifted={"carrier": "warning"}),
        run("JFK", 4, "skip", None, q=quality(1, 4, 0.71), integrity=["dest: 2.0% of values not seen in training"]),
        run("JFK", 5, "skip", None, q=quality(1, 5, 0.58, verdict="degraded")),
        run(
            "JFK", 6, "skip", None, q=quality(1, 6, 0.57, verdict="degraded", fairness=["carrier=B6: FPR 1.42x the region's"])
        ),
    ]  # fmt: skip
    write_region(
        root, "JFK", jfk, recorded=jfk_times, stable=1, canary=2,
        release=[event("stable", 1, day(-20)), event("canary", 2, day(-10))],
        failures=[{"region": "JFK", "run_id": "3f2a-kfp", "state": "failed, region freed", "at": stamp(day(4)),
                   "summary": "JFK run 3f2a-kfp ended without a run record (a task failed or was stopped)"}],
    )  # fmt: skip
    lga_times = {s: day(s - 4) for s in range(1, 7)}
    lga = [run("LGA", s, "skip", lga_times[s], q=quality(1, s, 0.70 + 0.01 * s)) for s in range(1, 6)]
    lga.append(run("LGA", 6, "skip", lga_times[6], q=quality(1, 6, 0.76), pending=[7]))
    write_region(root, "LGA", lga, recorded=lga_times, stable=1, release=[event("stable", 1, day(-30))])
    return root
