"""``driftgate audit``: a region's audit trail, and whether it explains the
region's release state.

Reads ``<root>/<REGION>/audit/`` (``driftgate.core.audit``) and the release
state (``serving/release.py``). The check fails when a release history entry,
or a version the state labels, has no audit record, or when a record cannot
be read: the trail must explain every model that serves. ``repair`` writes
the missing release records from ``release.json``'s history (a run that died
between committing a release and recording it), marked ``reconciled``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from driftgate.core import audit, storage
from driftgate.core.layout import RegionLayout
from serving import audit as release_audit
from serving import release


@dataclass
class AuditTrail:
    region: str
    records: List[dict]
    problems: List[str] = field(default_factory=list)
    repaired: List[dict] = field(default_factory=list)
    stable: Optional[int] = None
    canary: Optional[int] = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json_dict(self) -> dict:
        return {
            "region": self.region,
            "ok": self.ok,
            "problems": self.problems,
            "repaired": self.repaired,
            "release_state": {"stable": self.stable, "canary": self.canary},
            "records": self.records,
        }


def _describe(entry: dict) -> str:
    if entry["action"] == "labelled":
        return f"version {entry['version']} is labelled in release.json, but no audit record names it"
    return (
        f"release.json history: {entry['action']} v{entry.get('version')} at {entry.get('at')} "
        "has no audit record (run `driftgate audit --repair` to write it from the history)"
    )


def load(config, root: str, since: Optional[str] = None, until: Optional[str] = None, repair: bool = False):
    """The region's trail between ``since`` and ``until`` and the check against
    its release state (over the whole trail)."""
    lay = RegionLayout(storage.absolute(root), config.region, config.serving.model_name)
    state = release.load_state(
        lay.serving_dir, config.serving.model_name, config.serving.served_base_path(config.region)
    )
    every = audit.read(lay.region_root)
    repaired = release_audit.backfill(lay.serving_dir, state, every) if repair else []
    if repaired:
        every = audit.read(lay.region_root)
    problems = [f"{r['unreadable']}: not a readable audit record" for r in every if "unreadable" in r]
    problems += [_describe(e) for e in release_audit.unexplained(state, every)]
    shown = [r for r in every if "unreadable" not in r]
    shown = [r for r in shown if (not since or r["ts"] >= since) and (not until or r["ts"] < until)]
    return AuditTrail(config.region, shown, problems, repaired, state.stable, state.canary)


def trigger_text(rec: dict) -> str:
    t = rec.get("trigger") or {}
    if t.get("by") == "pipeline":
        return f"{t.get('runner', 'pipeline')} run {t.get('run_id') or '-'} ({t.get('node') or '-'})"
    if t.get("by") == "person":
        return f"{t.get('user')}: {t.get('command', '')[:60]}"
    return str(t.get("by") or "-")
