"""Calendar periods in a time zone, and when a recorded run ran: what
``components.monitor.digest`` filters runs by.

Periods are whole weeks (Monday 00:00 to Monday 00:00) or months (the 1st
00:00 to the next 1st) in an IANA zone (``zoneinfo``), so a boundary stays
at local midnight across daylight-saving changes. A run's time is the UTC
time in a local run id (``<REGION>-<YYYYmmddTHHMMSSZ>-<hex>``), else the
time the gate recorded its span (``history.json`` ``recorded_at``; a
Kubeflow run id is a UUID).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Dict, Optional

UTC = timezone.utc
PERIODS = ("week", "month")
RUN_ID_TIME = re.compile(r"(\d{8}T\d{6}Z)")


@dataclass(frozen=True)
class Period:
    kind: str  # week | month
    start: datetime  # aware, in ``timezone``
    end: datetime
    timezone: str

    def contains(self, t: Optional[datetime]) -> bool:
        # in UTC: aware times sharing a tzinfo compare by wall clock, wrong across a clock change
        return t is not None and self.start.astimezone(UTC) <= t.astimezone(UTC) < self.end.astimezone(UTC)

    @property
    def previous(self) -> "Period":
        return period_ending(self.kind, self.timezone, ref=self.start)

    @property
    def label(self) -> str:
        if self.kind == "month":
            return self.start.strftime("%B %Y")
        return f"week of {self.start.day} {self.start.strftime('%b %Y')}"

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "label": self.label,
            "timezone": self.timezone,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


def period_ending(
    kind: str,
    tz: str,
    until: Optional[date] = None,
    now: Optional[datetime] = None,
    ref: Optional[datetime] = None,
) -> Period:
    """The last whole ``kind`` in zone ``tz`` that has ended by the end of the
    day ``until`` (by ``now`` without it; by the instant ``ref`` when given)."""
    from zoneinfo import ZoneInfo

    if kind not in PERIODS:
        raise ValueError(f"period {kind!r}: one of {', '.join(PERIODS)}")
    zone = ZoneInfo(tz)
    if ref is None and until is not None:
        ref = datetime.combine(until + timedelta(days=1), time(0), zone)
    elif ref is None:
        ref = now or datetime.now(UTC)
    day = ref.astimezone(zone).date()
    if kind == "week":
        end = day - timedelta(days=day.weekday())
        start = end - timedelta(days=7)
    else:
        end = day.replace(day=1)
        start = (end - timedelta(days=1)).replace(day=1)
    return Period(kind, datetime.combine(start, time(0), zone), datetime.combine(end, time(0), zone), tz)


def parse_time(value) -> Optional[datetime]:
    """An aware UTC time from ``2026-12-07T16:01:30Z``, ``20261207T160130Z``
    or Unix seconds; None when absent or unreadable."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y%m%dT%H%M%SZ"):
        try:
            return datetime.strptime(str(value), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def iso(t: Optional[datetime]) -> Optional[str]:
    """``2026-12-07T16:01:30Z`` (None stays None)."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t is not None else None


def run_time(result: dict, history: Dict[int, dict]) -> Optional[datetime]:
    """When a run ran: the time in its local run id, else when the gate
    recorded its span (``history``: span -> history.json record)."""
    found = RUN_ID_TIME.search(result.get("run_id") or "")
    if found:
        return parse_time(found.group(1))
    return parse_time((history.get(result.get("span")) or {}).get("recorded_at"))
