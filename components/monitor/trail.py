"""A run's decision and a failed run in the region's audit trail
(``driftgate.core.audit``) and as log events (``driftgate.core.logs``): one
``span_decision`` per run (the run recorder), one ``run_failed`` per failed
run (the exit task). Side channels: a write failure becomes a run warning."""

from __future__ import annotations

import logging
from typing import Optional

from driftgate.core import audit, logs


def evidence(run) -> dict:
    """What the decision rested on, in short: the reasons, what drifted against
    each baseline, the candidate and its blessing, the canary's verdict."""
    drifted = {}
    for baseline in ("training", "previous"):
        comp = run.comparison(baseline) if run.drift is not None else None
        if comp is not None:
            drifted[baseline] = {"severity": comp.severity, "features": sorted(comp.drifted)[:10]}
    canary = run.canary or {}
    return {
        "reasons": list(run.reasons or [])[:6],
        "drift": drifted,
        "rows": run.rows,
        "blessed": run.blessed,
        "candidate_auc": (run.metrics or {}).get("auc"),
        "pushed_version": run.pushed_version,
        "release_label": run.release_label,
        "canary": {k: canary.get(k) for k in ("verdict", "canary_version", "stable_version", "decided_by")},
        "warnings": len(run.warnings or []),
        "report": (run.files or {}).get("report"),
    }


def decision(run, layout) -> None:
    """The run's decision, once (the run recorder calls it once per run)."""
    with logs.context(region=layout.region, span=run.span, run_id=run.run_id or None):
        text = f"{layout.region} span {run.span}: {run.decision}" + (
            f": {run.summary}" if run.summary else ""
        )
        logs.event("span_decision", text[:1000], decision=run.decision, pushed_version=run.pushed_version)
        previous = (
            audit.latest(
                layout.region_root,
                lambda r: r.get("kind") == "span_decision" and bool(r.get("schema_version")),
            )
            if run.schema_version
            else None
        )
        problems = [
            schema_pin(run, layout, previous),
            audit.try_record(
                layout.region_root,
                "span_decision",
                run.decision or "unknown",
                (run.summary or run.decision or "")[:500],
                span=run.span,
                version=run.pushed_version,
                evidence=evidence(run),
                schema_version=run.schema_version or None,
            ),
        ]
        run.warnings += [p for p in problems if p]


def schema_pin(run, layout, previous: Optional[dict]) -> Optional[str]:
    """A ``schema_pin`` record when this run's schema version differs from the
    last decision's (a region's pin changed in between: a reviewed release);
    None, or why the record was not written."""
    before = (previous or {}).get("schema_version")
    if not run.schema_version or not before or before == run.schema_version:
        return None
    text = f"schema {before} -> {run.schema_version} (first run under the new pin)"
    logs.event("schema_changed", text, previous=before, schema_version=run.schema_version)
    return audit.try_record(
        layout.region_root,
        "schema_pin",
        "changed",
        text,
        span=run.span,
        version=run.schema_version,
        evidence={"previous": before, "commit": getattr(run, "schema_commit", None)},
        schema_version=run.schema_version,
    )


def failure(outcome, layout) -> None:
    """A failed run (the exit task): a ``run_failed`` event and an audit record."""
    with logs.context(region=layout.region, run_id=outcome.run_id):
        logs.event("run_failed", outcome.summary[:1000], level=logging.ERROR, state=outcome.state)
        why = audit.try_record(
            layout.region_root,
            "span_decision",
            "failed",
            outcome.summary[:500],
            evidence={"state": outcome.state, "holder": outcome.holder, "warnings": outcome.warnings},
        )
        if why:
            outcome.warnings.append(why)
