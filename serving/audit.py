"""Release changes in the region's audit trail (``driftgate.core.audit``), and
the check that the trail explains the release state.

Every entry ``serving/release.py`` appends to ``release.json``'s history
(stable, canary, promote, rollback, rejected, superseded, ...) becomes one
audit record and one ``release_changed`` log event, written after the state
is committed. A crash in between leaves an entry no record explains:
:func:`unexplained` names it (``driftgate audit`` fails on it) and
:func:`backfill` writes it from the history, saying so.
"""

from __future__ import annotations

from typing import List, Optional


def audit_event(serving_dir: str, state, event: dict, why: Optional[dict] = None) -> None:
    """One release history entry as an audit record and a log event (a side
    channel: a failure is logged; ``driftgate audit`` then names the entry
    no record explains, and the repair step writes it)."""
    from driftgate.core import audit, logs
    from driftgate.core.layout import region_root_of_serving

    text = f"{event['action']} v{event.get('version')}" + (
        f": {event['reason']}" if event.get("reason") else ""
    )
    fields = dict(
        action=event["action"], version=event.get("version"), stable=state.stable, canary=state.canary
    )
    logs.event("release_changed", text, **fields)
    evidence = {k: v for k, v in event.items() if k not in ("action", "version")}
    evidence.update(stable=state.stable, canary=state.canary, revision=state.revision)
    audit.try_record(
        region_root_of_serving(serving_dir),
        "release",
        event["action"],
        text[:500],
        version=event.get("version"),
        evidence=evidence,
        why=why,
    )


def _key(action, version, at) -> tuple:
    return (action, None if version is None else int(version), at)


def unexplained(state, records: List[dict]) -> List[dict]:
    """History entries of ``state`` without a release audit record (matched on
    action, version and the entry's time), and versions the state labels that
    no record mentions."""
    have = {
        _key(r["action"], r.get("version"), (r.get("evidence") or {}).get("at"))
        for r in records
        if r.get("kind") == "release"
    }
    missing = [e for e in state.history if _key(e["action"], e.get("version"), e.get("at")) not in have]
    mentioned = {r.get("version") for r in records if r.get("kind") == "release"}
    labelled = [v for v in (state.stable, state.canary, *state.previous_stables) if v is not None]
    missing += [{"action": "labelled", "version": v, "at": None} for v in labelled if v not in mentioned]
    return missing


def backfill(serving_dir: str, state, records: List[dict]) -> List[dict]:
    """Writes the records :func:`unexplained` names from the history entries
    (trigger ``reconciled``: written after the fact); returns those entries."""
    todo = [e for e in unexplained(state, records) if e["action"] != "labelled"]
    for event in todo:
        audit_event(serving_dir, state, event, why={"by": "reconciled", "from": "release.json history"})
    return todo
