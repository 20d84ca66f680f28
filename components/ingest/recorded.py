"""What the ingest node records on its Examples artifact about the span it
chose, and how downstream nodes read it back.

Kept free of TFX's ExampleGen (and so of Apache Beam): the gate, the canary
judge and the release recorder read these in tasks that import nothing else
of ingest (``benchmarks/bench_task_startup.py``).
"""

from __future__ import annotations

import json

from components.ingest import spans
from driftgate.core import vocabulary

SPAN_PROPERTY = "span"  # TFX's ExampleGen key (tfx.components.example_gen.utils.SPAN_PROPERTY_NAME)
INGEST_REASON = vocabulary.PROP_INGEST_REASON  # the gate report carries the same key
PENDING_SPANS = "pending_spans"


def record_choice(examples, choice: spans.SpanChoice) -> None:
    """Marks ``examples`` with why its span was ingested and what is pending."""
    examples.set_string_custom_property(INGEST_REASON, choice.reason)
    examples.set_string_custom_property(PENDING_SPANS, json.dumps(list(choice.pending)))


def artifact_span(examples) -> int:
    """The span of an Examples artifact (TFX's ``span`` custom property, which
    both runners carry, else the ``span`` property)."""
    if examples.has_custom_property(SPAN_PROPERTY):
        return int(examples.get_int_custom_property(SPAN_PROPERTY))
    return int(examples.span or 0)


def ingest_choice(examples) -> spans.SpanChoice:
    """The span choice :func:`record_choice` recorded on ``examples``."""
    span = artifact_span(examples)
    reason = examples.get_string_custom_property(INGEST_REASON) or spans.REQUESTED
    pending = json.loads(examples.get_string_custom_property(PENDING_SPANS) or "[]")
    return spans.SpanChoice(span, reason, tuple(int(p) for p in pending))
