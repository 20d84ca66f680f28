"""When a span may judge the canary (``hold_reason``): never on a span read
again, on the canary's own training span or an older one, or on a span the
gate will block. Scoring itself is tested in tests/serving/test_canary*.py and
in the pipeline runs (tests/e2e)."""

from components.canary.component import hold_reason
from components.gate.decision import Finding
from components.ingest import spans


def _finding(blocking: bool) -> Finding:
    return Finding("train", "distance", ("ENUM_TYPE_UNEXPECTED_STRING_VALUES",), "ERROR", "text", blocking)


def test_a_new_clean_span_after_the_canary_training_span_judges_it():
    assert hold_reason(3, spans.NEXT, 2, []) is None
    assert hold_reason(3, spans.NEXT, 2, [_finding(blocking=False)]) is None  # warnings do not hold


def test_spans_that_must_not_judge_say_why():
    assert "no new span" in hold_reason(3, spans.NO_NEW_SPAN, 2, [])
    assert "not newer than the canary's training span 3" in hold_reason(3, spans.REQUESTED, 3, [])
    assert "not newer" in hold_reason(2, spans.REQUESTED, 3, [])  # a backfill of an older span
    assert "1 blocking data anomalies" in hold_reason(4, spans.NEXT, 3, [_finding(blocking=True)])
