"""The event-time watermark that seals spans (pure; times passed in).

Per partition: its newest event time less the allowed lateness. The region's
watermark is the lowest over partitions that are active; a partition assigned
but not read yet holds it where it is; a partition with no record for
``idle_s`` of wall clock no longer holds it back (Flink's idleness), unless the
broker says records are waiting on it (``behind``: its high watermark is past
what was consumed, or its leader did not answer): a partition whose leader is
slow or moving is behind, not idle, and its records must not come late. When every partition is idle, the watermark moves on with the wall
clock from the newest event seen: a quiet topic's last span seals
``allowed_lateness + (span end - last event)`` after its last record. The
watermark never moves back. State is plain JSON, checkpointed with the offsets.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional


class Watermark:
    def __init__(self, lateness_s: float, idle_s: float, state: Optional[dict] = None):
        self.lateness_ms = int(lateness_s * 1000)
        self.idle_s = idle_s
        state = state or {}
        self.newest: Dict[int, int] = {int(p): int(t) for p, t in state.get("newest", {}).items()}
        self.seen_at: Dict[int, float] = {}  # wall clock of a partition's last record (not checkpointed)
        self.assigned_at: Dict[int, float] = {}  # partitions read from, and since when
        self.value: Optional[int] = state.get("value")

    def assign(self, partitions, now: float) -> None:
        """The partitions being read: one with no record yet holds the watermark
        back (its events may be the oldest) until it has been silent ``idle_s``."""
        for p in partitions:
            self.assigned_at.setdefault(int(p), now)

    def observe(self, partition: int, event_ms: int, now: float) -> None:
        self.newest[partition] = max(event_ms, self.newest.get(partition, event_ms))
        self.seen_at[partition] = now

    def silent(self, now: float) -> List[int]:
        """Assigned partitions with no record for ``idle_s``: idle unless the broker says otherwise."""
        return [p for p, t in self.assigned_at.items() if now - self.seen_at.get(p, t) >= self.idle_s]

    def advance(self, now: float, behind: Iterable[int] = ()) -> Optional[int]:
        """The watermark at wall clock ``now`` (epoch ms), None before any event;
        ``behind``: partitions with records waiting on the broker (never idle)."""
        if not self.newest:
            return self.value
        behind = set(behind)
        for p in self.newest:  # after a restart a partition's silence counts from the first tick
            self.seen_at.setdefault(p, self.assigned_at.get(p, now))
        unread = [
            p
            for p, t in self.assigned_at.items()
            if p not in self.newest and (now - t < self.idle_s or p in behind)
        ]
        if unread:
            return self.value  # a partition not read yet may hold older events
        active = [
            p for p in self.newest if p in behind or now - self.seen_at.get(p, float("-inf")) < self.idle_s
        ]
        if active:
            candidate = min(self.newest[p] for p in active) - self.lateness_ms
        else:
            quiet_since = max(self.seen_at.values())
            candidate = max(self.newest.values()) - self.lateness_ms + int((now - quiet_since) * 1000)
        if self.value is None or candidate > self.value:
            self.value = candidate
        return self.value

    def to_json(self) -> dict:
        return {"newest": {str(p): t for p, t in self.newest.items()}, "value": self.value}
