"""Event time to span folder (Kafka Connect's ``TimeBasedPartitioner``, on
the record's event time): a record of event time ``t`` goes to
``span-<span_of(t)>``, or to ``_late/span-<N>`` when span N was sealed before
it came."""

from __future__ import annotations

from typing import Tuple

from streaming import files, spans


class SpanPartitioner:
    def __init__(self, grain: str):
        self.grain = grain

    def span(self, event_ms: int) -> int:
        return spans.span_of(event_ms, self.grain)

    def bounds(self, span: int) -> Tuple[int, int]:
        return spans.bounds(span, self.grain)

    @staticmethod
    def folder(span: int, late: bool = False) -> str:
        return files.folder_of(span, late)
