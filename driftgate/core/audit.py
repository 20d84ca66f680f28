"""The region's audit trail: who or what changed which model or schema, on what
evidence, with which code, config and schema in force.

One record per span decision, release change (stable, canary, promote,
rollback, rejected, superseded), canary verdict, schema release and schema pin
change, under ``<root>/<REGION>/audit/``. Append-only and bucket-safe: each
record is a new object (``<UTC time>-<random>.jsonl``, one JSON line) written
whole (``storage.write_atomic``: temporary file + rename locally, one object
on a bucket), never rewritten: an interrupted write leaves no record or a
whole one and never touches an earlier record. Read back in time order by
:func:`read` (``driftgate audit``); every line is also a log event.

A record says what triggered it (:func:`trigger`): the pipeline run and node
(from the log context the node binds), or a person's command with the user
name the environment gives.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
import secrets
import sys
from typing import Callable, List, Optional

from driftgate.core import logs, storage

FOLDER = "audit"
KINDS = ("span_decision", "release", "canary_verdict", "schema_release", "schema_pin")


def folder(region_root: str) -> str:
    return storage.join(region_root, FOLDER)


def trigger(env=os.environ) -> dict:
    """What caused the record: a pipeline run (run id, node, runner) when a
    node bound them, else a person's command (user, the command line)."""
    ctx = logs.current()
    if ctx.get("run_id") or ctx.get("node"):
        return {
            "by": "pipeline",
            "run_id": ctx.get("run_id"),
            "node": ctx.get("node"),
            "runner": ctx.get("runner", "local"),
        }
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's random uid)
        user = env.get("USER") or "unknown"
    argv = [os.path.basename(sys.argv[0])] + sys.argv[1:] if sys.argv else []
    return {"by": "person", "user": user, "command": " ".join(argv)[:500]}


def record(
    region_root: str,
    kind: str,
    action: str,
    summary: str,
    *,
    span: Optional[int] = None,
    version=None,
    evidence: Optional[dict] = None,
    schema_version: Optional[str] = None,
    at: Optional[dt.datetime] = None,
    why: Optional[dict] = None,
) -> dict:
    """Writes one record; returns it. Raises on a write failure (side
    channels call :func:`try_record`)."""
    from driftgate.core.version import driftgate_version

    if kind not in KINDS:
        raise ValueError(f"unknown audit kind {kind!r}; known: {', '.join(KINDS)}")
    at = at or dt.datetime.now(dt.timezone.utc)
    ctx = logs.current()
    rec = {
        "ts": at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "region": os.path.basename(region_root.rstrip("/")),
        "kind": kind,
        "action": action,
        "summary": summary,
        "span": span,
        "version": version,
        "evidence": evidence or {},
        "trigger": why or trigger(),
        "code_version": driftgate_version(),
        "config_hash": ctx.get("config_hash"),
        "schema_version": schema_version or ctx.get("schema_version"),
    }
    name = at.strftime("%Y%m%dT%H%M%S.%fZ") + f"-{secrets.token_hex(4)}.jsonl"
    storage.write_atomic(storage.join(folder(region_root), name), json.dumps(rec, default=str) + "\n")
    return rec


def try_record(region_root: str, kind: str, action: str, summary: str, **fields) -> Optional[str]:
    """:func:`record` for a side channel: never raises. None when written, else
    one line saying it was not (also logged as a warning) for the caller's warnings."""
    try:
        record(region_root, kind, action, summary, **fields)
        return None
    except Exception as exc:  # noqa: BLE001 - the decision or release stands without its record
        why = f"audit record not written for {summary[:120]!r} ({type(exc).__name__}: {exc})"
        logging.getLogger(logs.LOGGER).warning(why)
        return why


def latest(region_root: str, match: Callable[[dict], bool]) -> Optional[dict]:
    """The newest readable record ``match`` accepts, read from the newest
    object back (names sort by time): a run reads a few objects, not the trail."""
    where = folder(region_root)
    for name in sorted(storage.listdir(where), reverse=True):
        if not name.endswith(".jsonl"):
            continue
        try:
            rec = json.loads(storage.read_text(storage.join(where, name)).splitlines()[0])
        except (ValueError, IndexError):
            continue
        if match(rec):
            return rec
    return None


def read(region_root: str, since: Optional[str] = None, until: Optional[str] = None) -> List[dict]:
    """The region's records in time order, ``since <= ts < until`` (ISO dates or
    times, UTC). A record that cannot be read is returned as ``{"unreadable": name}``."""
    where = folder(region_root)
    out = []
    for name in sorted(storage.listdir(where)):
        if not name.endswith(".jsonl"):
            continue
        try:
            rec = json.loads(storage.read_text(storage.join(where, name)).splitlines()[0])
        except (ValueError, IndexError):
            out.append({"unreadable": name, "ts": name[:23]})
            continue
        if since and rec["ts"] < since:
            continue
        if until and rec["ts"] >= until:
            continue
        out.append(rec)
    return sorted(out, key=lambda r: r.get("ts", ""))
