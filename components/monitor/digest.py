"""The week (or month) at a glance across regions, for stakeholders: pure
logic over what the runs already recorded. ``driftgate digest`` reads the
root (``driftgate.app.digest``), this module summarises, and
``components.monitor.digest_view`` renders (HTML, Markdown).

Input per region (:class:`RegionRecords`): the parsed result JSONs, the
state history, ``release.json``, the alerts state, the failed-run records
and, when the data folder is given, the stream watcher's alert records and
the spans that arrived. Output: one plain dict (``driftgate digest -o json``)
with "needs a person" first: blocked spans, failed runs, rejected releases,
rollbacks, a degraded serving model, a canary undecided for long, parity and
integrity findings, each naming the run report to open. Which runs belong to
a period: ``components.monitor.periods``. Docs: ``docs/monitoring.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Dict, List, Optional, Tuple

from components.monitor.periods import UTC, Period, iso, parse_time, run_time
from driftgate.core.vocabulary import BLOCK, REJECTED, RETRAIN, ROLLBACK, RUN_FAILED, SEVERITY_RANK, SKIP

SCHEMA_VERSION = 1
DECISIONS = (RETRAIN, SKIP, BLOCK, RUN_FAILED)
# "needs a person" kinds, most urgent first
KINDS = ("failed", "blocked", "rejected", "rollback", "degraded", "canary_pending", "fairness", "integrity")
PUSHES = ("stable", "canary", "rejected")  # release.json actions that record a push


@dataclass
class RegionRecords:
    """What a region's runs recorded under the root, parsed."""

    region: str
    results: List[dict] = field(default_factory=list)  # <REGION>/results/span-<N>.json
    history: List[dict] = field(default_factory=list)  # <REGION>/state/history.json
    release: Optional[dict] = None  # serving/<REGION>/release.json
    alerts_sent: Dict[str, dict] = field(default_factory=dict)  # <REGION>/state/alerts.json
    failures: List[dict] = field(default_factory=list)  # <REGION>/results/failed-<run id>.json
    stream_sent: Dict[str, dict] = field(default_factory=dict)  # <data>/<REGION>/_stream/alerts.json
    reports: Dict[int, str] = field(default_factory=dict)  # span -> its report, relative to the root
    schema_drafts: List[int] = field(default_factory=list)  # schema versions drafted, not released
    data_spans: Optional[List[int]] = None  # spans arrived in the data folder (None: not looked at)


def _cut(text, n: int = 160) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _quality(r: dict) -> dict:
    return (r.get("canary") or {}).get("quality") or {}


class _Needs(list):
    """The region's "needs a person" items."""

    def __init__(self, rec: RegionRecords):
        super().__init__()
        self.rec = rec

    def add(self, kind: str, text: str, span=None, at=None) -> None:
        report = self.rec.reports.get(span) if span is not None else None
        self.append(
            {
                "kind": kind,
                "region": self.rec.region,
                "text": _cut(text, 200),
                "span": span,
                "report": report,
                "at": at,
            }
        )


def _runs(rec: RegionRecords, dated: list, needs: _Needs) -> Tuple[List[dict], Dict[str, int]]:
    runs, decisions = [], dict.fromkeys(DECISIONS, 0)
    for t, r in dated:
        d, span, region = r.get("decision") or "-", r.get("span"), rec.region
        decisions[d] = decisions.get(d, 0) + 1
        runs.append(
            {
                "span": span,
                "decision": d,
                "at": iso(t),
                "run_id": r.get("run_id") or "",
                "summary": _cut(r.get("summary") or "; ".join(r.get("reasons") or []), 300),
                "pushed_version": r.get("pushed_version"),
                "release_label": r.get("release_label"),
                "canary": (r.get("canary") or {}).get("verdict"),
                "report": rec.reports.get(span),
            }
        )
        if d == BLOCK:
            why = (r.get("reasons") or [r.get("summary") or "blocked"])[0]
            needs.add("blocked", f"{region} span {span} blocked: {why}", span, iso(t))
        elif d == RUN_FAILED:
            needs.add("failed", f"{region} span {span} failed: {r.get('summary')}", span, iso(t))
        if r.get("release_label") == REJECTED:
            why = r.get("release_reason") or "see release.json"
            needs.add(
                "rejected",
                f"{region} v{r.get('pushed_version')} (span {span}) rejected at release: {why}",
                span,
            )
    return runs, decisions


def _failed(rec: RegionRecords, period: Period, needs: _Needs) -> List[dict]:
    """Runs that ended without a run record (``failed-<run id>.json``, the exit task's)."""
    out = []
    for f in sorted(rec.failures, key=lambda f: f.get("at") or ""):
        t = parse_time(f.get("at"))
        if period.contains(t):
            out.append(
                {
                    "run_id": f.get("run_id"),
                    "state": f.get("state"),
                    "summary": f.get("summary"),
                    "at": iso(t),
                }
            )
            said = f.get("summary") or ""
            text = (
                said
                if said.startswith(f"{rec.region} run")
                else f"{rec.region} run {f.get('run_id')} failed: {said}"
            )
            needs.add("failed", text, at=iso(t))
    return out


def _releases(rec: RegionRecords, period: Period, cur: list, needs: _Needs) -> Tuple[List[dict], dict]:
    """release.json's events in the period, counted; a rollback names the run whose judge decided it."""
    events = [dict(e, at=iso(parse_time(e.get("at")))) for e in (rec.release or {}).get("history") or []]
    events = [e for e in events if period.contains(parse_time(e["at"]))]
    counts = {
        "pushed": sum(e.get("action") in PUSHES for e in events),
        "promoted": sum(e.get("action") == "promote" for e in events),
        "rolled_back": sum(e.get("action") == ROLLBACK for e in events),
        "rejected": sum(e.get("action") == REJECTED for e in events),
    }
    for e in (e for e in events if e.get("action") == ROLLBACK):
        judged = [
            r.get("span")
            for _, r in cur
            if (r.get("canary") or {}).get("verdict") == ROLLBACK
            and (r.get("canary") or {}).get("canary_version") == e.get("version")
        ]
        why = _cut(e.get("reason") or "", 140)
        needs.add(
            "rollback",
            f"{rec.region} v{e.get('version')} rolled back: {why}",
            (judged or [None])[-1],
            e["at"],
        )
    return events, counts


def _quality_summary(cur: list, prev: list) -> dict:
    """The serving model's AUC on the labelled spans judged in the period and in the one before."""
    points: Dict[Tuple[bool, int], dict] = {}
    for current, dated in ((False, prev), (True, cur)):
        for t, r in dated:
            q = _quality(r)
            if q.get("auc") is not None:
                keep = ("span", "version", "auc", "auc_low", "auc_high", "reference_auc", "verdict")
                points[(current, q.get("span"))] = dict(
                    {k: q.get(k) for k in keep}, at=iso(t), current=current
                )
    pts = list(points.values())
    now = [p["auc"] for p in pts if p["current"]]
    before = [p["auc"] for p in pts if not p["current"]]
    mean = round(sum(now) / len(now), 4) if now else None
    prev_mean = round(sum(before) / len(before), 4) if before else None
    return {
        "points": pts,
        "mean_auc": mean,
        "previous_mean_auc": prev_mean,
        "change": round(mean - prev_mean, 4) if mean is not None and prev_mean is not None else None,
        "latest": next((p for p in reversed(pts) if p["current"]), None),
    }


def _drift(dated: list, top: int) -> List[dict]:
    """Features drifted against the training baseline: on how many spans, worst severity."""
    seen: Dict[str, dict] = {}
    for _, r in dated:
        training = ((r.get("drift") or {}).get("drift") or {}).get("training") or {}
        for f in training.get("drifted") or []:
            sev = ((training.get("features") or {}).get(f) or {}).get("severity") or "warning"
            entry = seen.setdefault(f, {"feature": f, "spans": [], "worst": "none"})
            if r.get("span") not in entry["spans"]:
                entry["spans"].append(r.get("span"))
            if SEVERITY_RANK.get(sev, 0) > SEVERITY_RANK.get(entry["worst"], 0):
                entry["worst"] = sev
    ranked = sorted(seen.values(), key=lambda e: (-len(e["spans"]), -SEVERITY_RANK[e["worst"]], e["feature"]))
    return [dict(e, count=len(e["spans"])) for e in ranked[:top]]


def _findings(rec: RegionRecords, dated: list, needs: _Needs) -> dict:
    """Parity (fairness) findings of the serving model and data integrity findings, per span."""
    found = {"fairness": [], "integrity": []}
    for _, r in dated:
        for f in (_quality(r).get("fairness") or {}).get("findings") or []:
            found["fairness"].append({"span": r.get("span"), "sentence": _cut(f.get("sentence"), 200)})
        for f in ((r.get("drift") or {}).get("integrity") or {}).get("findings") or []:
            found["integrity"].append({"span": r.get("span"), "sentence": _cut(f.get("sentence"), 200)})
    for kind, what in (("fairness", "parity finding"), ("integrity", "data integrity finding")):
        items = found[kind]
        if items:
            spans = sorted({f["span"] for f in items if f["span"] is not None})
            text = (
                f"{rec.region}: {len(items)} {what}{'s' if len(items) > 1 else ''} on span"
                f"{'s' if len(spans) > 1 else ''} {', '.join(map(str, spans))}: {items[-1]['sentence']}"
            )
            needs.add(kind, text, spans[-1] if spans else None)
    return {k: v[:20] for k, v in found.items()}


def _stream(sent: Dict[str, dict], period: Period) -> List[dict]:
    """Stream episodes opened or escalated in the period, per feature (the
    watcher's alert records are keyed ``<feature>@<pane>:<kind>:<severity>``)."""
    out: Dict[str, dict] = {}
    for key, v in sent.items():
        parts = key.rsplit(":", 2)
        if (
            len(parts) != 3
            or parts[1] not in ("open", "escalate")
            or not period.contains(parse_time(v.get("at")))
        ):
            continue
        e = out.setdefault(parts[0].rsplit("@", 1)[0], {"episodes": set(), "worst": "none"})
        e["episodes"].add(parts[0])
        if SEVERITY_RANK.get(parts[2], 0) > SEVERITY_RANK.get(e["worst"], 0):
            e["worst"] = parts[2]
    rows = [{"feature": f, "episodes": len(e["episodes"]), "worst": e["worst"]} for f, e in out.items()]
    return sorted(rows, key=lambda e: (-e["episodes"], e["feature"]))


def _canary(release: dict, now: datetime) -> Optional[dict]:
    """The undecided canary and for how long (None without one)."""
    version = release.get("canary")
    if version is None:
        return None
    since = None
    for e in release.get("history") or []:
        if e.get("action") == "canary" and e.get("version") == version:
            since = parse_time(e.get("at"))
    days = round((now - since).total_seconds() / 86400, 2) if since is not None else None
    return {"version": version, "since": iso(since), "days": days}


def _pending(rec: RegionRecords, dated: list, canary: Optional[dict]) -> dict:
    """Spans waiting (the newest run's backlog; spans arrived in the data folder
    past the last processed one), an undecided canary, schema drafts."""
    waiting = set()
    if dated:
        waiting |= set(((dated[-1][1].get("drift") or {}).get("ingest") or {}).get("pending") or [])
    done = [h["span"] for h in rec.history if h.get("completed", True) and "span" in h]
    if rec.data_spans is not None:
        waiting |= {s for s in rec.data_spans if not done or s > max(done)}
    return {"spans": sorted(waiting), "canary": canary, "schema_drafts": sorted(rec.schema_drafts)}


def summarise_region(
    rec: RegionRecords, period: Period, now: datetime, pending_days: float = 7.0, top: int = 5
) -> Tuple[dict, List[dict]]:
    """(the region's summary of ``period``, its "needs a person" items)."""
    hist = {h["span"]: h for h in rec.history if "span" in h}
    dated = sorted(
        ((run_time(r, hist), r) for r in rec.results), key=lambda x: (x[0] or now, x[1].get("span") or 0)
    )
    cur = [(t, r) for t, r in dated if period.contains(t)]
    prev = [(t, r) for t, r in dated if period.previous.contains(t)]
    needs = _Needs(rec)
    runs, decisions = _runs(rec, cur, needs)
    failed = _failed(rec, period, needs)
    decisions[RUN_FAILED] += len(failed)
    events, counts = _releases(rec, period, cur, needs)
    quality = _quality_summary(cur, prev)
    latest = quality["latest"]
    if latest and latest["verdict"] == "degraded":
        span = next(
            (r.get("span") for _, r in reversed(cur) if _quality(r).get("span") == latest["span"]), None
        )
        ref = latest.get("reference_auc")
        text = f"{rec.region} serving v{latest['version']} degraded on span {latest['span']}: AUC {latest['auc']:.3f}"
        needs.add(
            "degraded", text + (f", {ref:.3f} at its push" if ref is not None else ""), span, latest["at"]
        )
    release = rec.release or {}
    canary = _canary(release, now)
    if canary and canary["days"] is not None and canary["days"] > pending_days:
        text = f"{rec.region} canary v{canary['version']} undecided for {canary['days']:.0f} days"
        needs.add(
            "canary_pending",
            text + f" (since {canary['since'][:10]})",
            cur[-1][1].get("span") if cur else None,
        )
    findings = _findings(rec, cur, needs)
    alerts = [
        {
            "key": k,
            "severity": v.get("severity"),
            "channel": v.get("channel"),
            "at": iso(parse_time(v.get("at"))),
        }
        for k, v in rec.alerts_sent.items()
        if period.contains(parse_time(v.get("at")))
    ]
    summary = {
        "region": rec.region,
        "runs": runs,
        "undated_runs": sum(t is None for t, _ in dated),
        "decisions": decisions,
        "releases": events,
        "release_counts": counts,
        "serving": {"stable": release.get("stable"), "canary": release.get("canary")},
        "quality": quality,
        "drift": _drift(cur, top),
        "findings": findings,
        "alerts": sorted(alerts, key=lambda a: a["at"]),
        "stream": _stream(rec.stream_sent, period),
        "failed": failed,
        "pending": _pending(rec, dated, canary),
    }
    return summary, list(needs)


def summarise(
    records: List[RegionRecords],
    period: Period,
    *,
    now: Optional[datetime] = None,
    canary_pending_days: float = 7.0,
    top: int = 5,
) -> dict:
    """The digest: per region what happened in ``period``, and "needs a person" across regions."""
    now = now or datetime.now(UTC)
    regions, needs = [], []
    for rec in sorted(records, key=lambda r: r.region):
        summary, items = summarise_region(rec, period, now, canary_pending_days, top)
        regions.append(summary)
        needs += items
    needs.sort(key=lambda i: (KINDS.index(i["kind"]), i["region"], -1 if i["span"] is None else i["span"]))
    totals = {k: sum(r["decisions"].get(k, 0) for r in regions) for k in DECISIONS}
    totals.update(
        {k: sum(r["release_counts"][k] for r in regions) for k in ("pushed", "promoted", "rolled_back")}
    )
    totals.update(runs=sum(len(r["runs"]) + len(r["failed"]) for r in regions))
    totals.update(alerts=sum(len(r["alerts"]) for r in regions))
    return {
        "schema_version": SCHEMA_VERSION,
        "period": dict(period.to_json(), previous=period.previous.to_json()),
        "generated_at": iso(now),
        "in_progress": period.end.astimezone(UTC) > now,
        "needs_person": needs,
        "totals": totals,
        "regions": regions,
    }
