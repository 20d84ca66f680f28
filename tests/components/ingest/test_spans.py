"""Which span a run ingests: pure rules (components.ingest.spans)."""

import pytest

from components.ingest import spans


def test_span_numbers_come_from_the_pattern_not_from_other_files():
    paths = ["span-1/data.csv", "span-10/a.csv", "span-2/data.csv", "span-3/notes.txt", "other/span-4/x.csv"]
    assert spans.span_numbers(paths, "span-{SPAN}/*.csv") == [1, 2, 10]


def test_patterns_with_the_span_inside_a_name_work():
    assert spans.span_numbers(["2026-07.csv", "2026-08.csv", "x.csv"], "2026-{SPAN}.csv") == [7, 8]


def test_a_pattern_without_span_token_is_refused():
    with pytest.raises(spans.SpanError, match=r"has no \{SPAN\}"):
        spans.span_regex("data/*.csv")


def test_first_run_of_a_region_takes_the_newest_span():
    assert spans.choose_span([1, 2, 3], []) == spans.SpanChoice(3, spans.FIRST)


def test_two_new_spans_are_taken_oldest_first_and_the_rest_is_reported():
    choice = spans.choose_span([1, 2, 3, 4], [1, 2])
    assert (choice.span, choice.reason, choice.pending) == (3, spans.NEXT, (4,))
    assert "waiting for later runs: 4" in choice.describe()
    nxt = spans.choose_span([1, 2, 3, 4], [1, 2, 3])
    assert (nxt.span, nxt.pending) == (4, ())


def test_spans_older_than_the_last_processed_are_not_replayed():
    # span 2 appeared late (a backfill): only an explicit request processes it
    assert spans.choose_span([1, 2, 3], [1, 3]).reason == spans.NO_NEW_SPAN
    assert spans.choose_span([1, 2, 3], [1, 3], requested=2) == spans.SpanChoice(2, spans.REQUESTED)


def test_nothing_new_reingests_the_newest_span_marked_as_such():
    choice = spans.choose_span([1, 2], [1, 2])
    assert (choice.span, choice.reason, choice.is_new) == (2, spans.NO_NEW_SPAN, False)


def test_a_missing_requested_span_names_what_is_there():
    with pytest.raises(spans.SpanError, match="span 9 not found; spans present: 1, 2"):
        spans.choose_span([1, 2], [], requested=9)
    with pytest.raises(spans.SpanError, match="no span present"):
        spans.choose_span([], [])


@pytest.mark.parametrize(
    "value, expected", [("next", None), ("", None), (None, None), ("7", 7), (" 12 ", 12)]
)
def test_span_run_parameter(value, expected):
    assert spans.parse_span_parameter(value) == expected


@pytest.mark.parametrize("value", ["x", "0", "-3", "7.5", "span-7"])
def test_a_bad_span_run_parameter_is_one_line_saying_what_to_give(value):
    with pytest.raises(spans.SpanError) as err:
        spans.parse_span_parameter(value)
    message = str(err.value)
    assert f'span="{value.strip()}"' in message and '"next"' in message and "\n" not in message
