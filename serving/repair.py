"""Release repair: what a run that stopped mid-way (killed, a failed write) or
a root that moved leaves in a region's release state and TF Serving configs,
put right before the next run relies on it.

:func:`repair` is the step: the canary node (``components/canary``) runs it
first, on every span, before it promotes, rolls back or judges anything. Every
change goes through ``serving.release``'s compare-and-swap and is recorded as
an event in ``release.json``; each returns one line saying what it repaired.

Docs: ``docs/operations.md``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import List, Optional

from driftgate.core import storage
from serving import release
from serving.layout import list_versions
from serving.release import CONFIG_FILE

UNLABELLED = (
    "pushed by a run that stopped before its release step labelled it "
    "(killed, or its label write failed); never served"
)


@dataclass(frozen=True)
class Repaired:
    relocated_from: Optional[str] = None  # the base path the configs named before :func:`relocate`
    reconciled: List[str] = field(default_factory=list)  # one line per :func:`reconcile` repair

    def lines(self) -> List[str]:
        """What was repaired, one line each (empty when nothing was)."""
        moved = [f"serving configs named {self.relocated_from}; rewritten for where the root is now"]
        return (moved if self.relocated_from else []) + list(self.reconciled)


def repair(serving_dir: str, model_name: str, served: str = "") -> Repaired:
    """The repair step: relocation, then reconciliation (see each), then the
    audit records a stopped run left unwritten (``serving.audit.backfill``)."""
    moved_from = relocate(serving_dir, model_name, served)
    done = Repaired(moved_from, reconcile(serving_dir, model_name, served))
    try:
        from driftgate.core import audit as trail
        from driftgate.core.layout import region_root_of_serving
        from serving.audit import backfill

        state = release.load_state(serving_dir, model_name, served)
        written = backfill(serving_dir, state, trail.read(region_root_of_serving(serving_dir)))
        for e in written:
            logging.getLogger("driftgate").warning(
                "audit record of %s v%s written from release.json (its run stopped first)",
                e["action"],
                e.get("version"),
            )
    except Exception as exc:  # noqa: BLE001 - a side channel: driftgate audit names what is still missing
        logging.getLogger("driftgate").warning("audit records not reconciled: %s", exc)
    return done


def recorded_base_paths(serving_dir: str) -> List[str]:
    """The base paths the stored state and ``models.config`` name now (to compare with where they should)."""
    found = []
    path = release.state_path(serving_dir)
    if storage.exists(path):
        found.append(json.loads(storage.read_bytes(path)).get("base_path") or "")
    config = storage.join(serving_dir, CONFIG_FILE)
    if storage.exists(config):
        models = release.parse_config(storage.read_text(config)).model_config_list.config
        found += [m.base_path for m in models]
    return [p for p in found if p]


def reconcile(serving_dir: str, model_name: str, served: str = "") -> List[str]:
    """Repairs what a run stopped mid-way leaves; returns one line per repair:

    - a version folder no run labelled or rejected (the run that pushed it was
      killed, or its label write failed) is recorded as rejected, with that reason;
    - configs older than the committed state (a run killed between writing
      ``release.json`` and its configs) are rewritten from it.
    """
    state = release.load_state(serving_dir, model_name, served)
    orphans = [
        v
        for v in list_versions(release.model_dir(serving_dir, model_name))
        if v not in release.accounted(state)
    ]
    done = []
    if orphans:

        def change(state: release.ReleaseState) -> release.ReleaseState:
            for v in orphans:
                if v not in release.accounted(state):  # re-read under compare-and-swap
                    state.rejected.append(v)
                    release.record_event(state, "rejected", v, reason=UNLABELLED)
            return state

        with release.guard(serving_dir):
            release.transact(serving_dir, model_name, change, served)
        done.append(f"version(s) {', '.join(map(str, orphans))} {UNLABELLED}: recorded as rejected")
    elif state.revision and release.configs_behind(serving_dir, state):
        with release.guard(serving_dir):
            release.save(serving_dir, release.load_state(serving_dir, model_name, served))
        done.append(f"TF Serving configs were behind release.json (revision {state.revision}): rewritten")
    return done


def relocate(serving_dir: str, model_name: str, served: str = "") -> Optional[str]:
    """When the stored state or configs name another base path than ``served``
    (the root was copied, restored or mounted elsewhere, or
    ``serving.base_path`` changed): rewrites them for this one, records a
    ``relocated`` event, returns the old path. None when nothing pointed elsewhere."""
    want = served or release.model_dir(serving_dir, model_name)
    stale = [p for p in recorded_base_paths(serving_dir) if p != want]
    if not stale or not storage.exists(release.state_path(serving_dir)):
        return None

    def change(state: release.ReleaseState) -> release.ReleaseState:
        release.record_event(state, "relocated", None, reason=f"base path {stale[0]} -> {want}")
        return state

    with release.guard(serving_dir):
        release.transact(serving_dir, model_name, change, served)
    return stale[0]
