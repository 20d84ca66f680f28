"""Event time to span number (``streaming.spans``): daily spans are TFX's
date-spec numbers, and parsing event times."""

import datetime as dt

import pytest

from streaming import spans


def _ms(*args):
    return int(dt.datetime(*args, tzinfo=dt.timezone.utc).timestamp() * 1000)


@pytest.mark.parametrize("date", [(1970, 1, 1), (2013, 1, 1), (2017, 1, 1), (2026, 12, 1)])
def test_daily_spans_are_tfx_date_spec_numbers(date):
    from tfx.components.example_gen import utils

    assert spans.span_of(_ms(*date, 13, 5), "daily") == utils.date_to_span_number(*date)
    assert spans.span_of(_ms(2017, 1, 1), "daily") == 17167  # TFX's own example


def test_bounds_hold_their_span_and_meet_the_next():
    for grain in ("hourly", "daily", "monthly"):
        for t in (_ms(2013, 1, 31, 23, 59), _ms(2016, 2, 29, 12), _ms(2013, 12, 31, 23, 59, 59)):
            n = spans.span_of(t, grain)
            start, end = spans.bounds(n, grain)
            assert start <= t < end and spans.bounds(n + 1, grain)[0] == end
            assert spans.span_of(end, grain) == n + 1 and spans.span_of(end - 1, grain) == n
    assert spans.span_of(_ms(2013, 1, 15), "monthly") == 516
    assert spans.bounds(517, "monthly") == (_ms(2013, 2, 1), _ms(2013, 3, 1))


def test_event_times_parse_as_iso_or_epoch_milliseconds():
    assert spans.parse_event_time("2013-01-01T00:00:01Z") == _ms(2013, 1, 1, 0, 0, 1)
    assert spans.parse_event_time("2013-01-01T01:00:00+01:00") == _ms(2013, 1, 1)
    assert spans.parse_event_time("2013-01-01 00:00:00") == _ms(2013, 1, 1)  # no zone: UTC
    assert spans.parse_event_time(1357000000000) == spans.parse_event_time("1357000000000") == 1357000000000
    assert spans.parse_event_time(None) is None and spans.parse_event_time("") is None
    with pytest.raises(spans.EventTimeError, match="neither ISO-8601 nor epoch"):
        spans.parse_event_time("yesterday")
