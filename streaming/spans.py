"""Event time to span number, as TFX's date specs number spans (pure).

``daily``: days since 1970-01-01 UTC, exactly TFX's
``example_gen.utils.date_to_span_number`` (2017-01-01 is span 17167), so a
landed ``span-<N>/`` is also what a ``{YYYY}{MM}{DD}`` pattern would call N.
``hourly``: hours since the epoch (TFX has no hour spec: use ``{SPAN}``).
``monthly``: months since January 1970 (2013-01 is span 516).
"""

from __future__ import annotations

import datetime as dt
from typing import Optional, Tuple

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class EventTimeError(ValueError):
    """An event time that cannot be read."""


def span_of(ts_ms: int, grain: str) -> int:
    """The span holding event time ``ts_ms`` (epoch milliseconds, UTC)."""
    if grain == "daily":
        return ts_ms // DAY_MS
    if grain == "hourly":
        return ts_ms // HOUR_MS
    if grain == "monthly":
        t = _EPOCH + dt.timedelta(milliseconds=ts_ms)
        return (t.year - 1970) * 12 + t.month - 1
    raise ValueError(f"unknown span grain {grain!r}")


def bounds(span: int, grain: str) -> Tuple[int, int]:
    """``[start, end)`` of a span in epoch milliseconds."""
    if grain == "daily":
        return span * DAY_MS, (span + 1) * DAY_MS
    if grain == "hourly":
        return span * HOUR_MS, (span + 1) * HOUR_MS

    def month_start(n: int) -> int:
        start = dt.datetime(1970 + n // 12, n % 12 + 1, 1, tzinfo=dt.timezone.utc)
        return int((start - _EPOCH).total_seconds() * 1000)

    if grain == "monthly":
        return month_start(span), month_start(span + 1)
    raise ValueError(f"unknown span grain {grain!r}")


def parse_event_time(value) -> Optional[int]:
    """Epoch milliseconds from an ISO-8601 string (no zone: UTC) or a number of
    epoch milliseconds (int or numeric string); None for None or "". Raises
    EventTimeError otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise EventTimeError(f"event time {value!r} is not a time")
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise EventTimeError(f"event time {text!r} is neither ISO-8601 nor epoch milliseconds") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return int(round((t - _EPOCH).total_seconds() * 1000))
