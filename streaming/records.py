"""One Kafka record to one CSV row of the region, or a refusal (pure).

A record is a UTF-8 JSON object keyed by the region's column names (its
features and label; other keys are ignored). It is refused, with a reason the
dead-letter topic carries, when it is not such an object, lacks a column, has
a value that is not a scalar, names a schema version other than the region's
in its header, or has an unreadable event time.
"""

from __future__ import annotations

import json
from typing import Mapping, Optional, Sequence, Tuple

from streaming.spans import EventTimeError, parse_event_time


class Refused(ValueError):
    """A record that cannot be landed; ``str()`` is the reason."""


def cell(value) -> str:
    """A JSON scalar as its CSV cell (null: empty, a missing value)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def decode(
    value: Optional[bytes],
    columns: Sequence[str],
    *,
    event_field: str,
    record_ts_ms: Optional[int],
    schema_version: Optional[str] = None,
    headers: Mapping[str, bytes] = {},
    schema_header: str = "",
) -> Tuple[int, Tuple[str, ...]]:
    """``(event time in epoch ms, row cells in column order)``; raises Refused."""
    if schema_header and schema_header in headers and schema_version is not None:
        got = headers[schema_header].decode("utf-8", "replace").strip().lstrip("v")
        if got != str(schema_version):
            raise Refused(
                f"header {schema_header}={got}, but the region's schema is v{schema_version}: "
                "land it after the region's schema.version moves to it"
            )
    try:
        doc = json.loads(value) if value is not None else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise Refused(f"not a JSON object but {type(doc).__name__}")
    missing = [c for c in columns if c not in doc]
    if missing:
        raise Refused(f"missing column(s) {', '.join(missing)}")
    row = []
    for c in columns:
        v = doc[c]
        if isinstance(v, (dict, list)):
            raise Refused(f"column {c}: a {type(v).__name__}, not a scalar")
        row.append(cell(v))
    return event_time(doc, event_field, record_ts_ms), tuple(row)


def record_timestamp(msg) -> Optional[int]:
    """A Kafka message's own timestamp in epoch ms, None when it has none."""
    ts_type, ts = msg.timestamp()
    return ts if ts_type != 0 else None


def event_time(doc: dict, event_field: str, record_ts_ms: Optional[int] = None, msg=None) -> int:
    """A record's event time in epoch ms, as the lander and the stream both
    read it: ``event_field`` (ISO-8601 or epoch ms), else the record's own
    timestamp (``record_ts_ms``, or read from ``msg`` only when needed);
    raises Refused when neither gives a time at or after 1970."""
    raw = doc.get(event_field)
    if raw.__class__ is int:  # the common case, without a parse
        ts = raw
    else:
        try:
            ts = parse_event_time(raw)
        except EventTimeError as exc:
            raise Refused(f"{event_field}: {exc}") from None
    if ts is None:
        ts = record_timestamp(msg) if msg is not None else record_ts_ms
    if ts is None or ts < 0:
        raise Refused(f"no event time: no {event_field} and no record timestamp")
    return ts
