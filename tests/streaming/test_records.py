"""A Kafka record to a row, or refused with the reason the dead-letter topic
carries (``streaming.records``)."""

import json

import pytest

from streaming import records

COLUMNS = ("carrier", "temp", "late")


def _decode(doc, **kw):
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return records.decode(raw, COLUMNS, event_field="event_time", record_ts_ms=kw.pop("ts", 5), **kw)


def test_a_record_becomes_its_row_in_column_order():
    t, row = _decode(
        {"late": 1, "temp": 39.02, "carrier": "UA", "extra": "x", "event_time": "1970-01-01T00:00:01Z"}
    )
    assert (t, row) == (1000, ("UA", "39.02", "1"))
    assert _decode({"late": None, "temp": "", "carrier": "UA"})[1] == (
        "UA",
        "",
        "",
    )  # missing values stay missing


def test_without_an_event_time_the_record_timestamp_is_used_never_the_wall_clock():
    assert _decode({"late": 0, "temp": 1.5, "carrier": "B6"}, ts=1234)[0] == 1234
    with pytest.raises(records.Refused, match="no event time"):
        _decode({"late": 0, "temp": 1.5, "carrier": "B6"}, ts=None)


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"{oops", "not JSON"),
        (b"[1, 2]", "not a JSON object but list"),
        ({"carrier": "UA"}, "missing column(s) temp, late"),
        ({"carrier": {"a": 1}, "temp": 1, "late": 0}, "column carrier: a dict, not a scalar"),
        ({"carrier": "UA", "temp": 1, "late": 0, "event_time": "soon"}, "event_time: event time 'soon'"),
    ],
)
def test_poison_records_are_refused_with_their_reason(raw, reason):
    with pytest.raises(records.Refused) as exc:
        _decode(raw)
    assert str(exc.value).startswith(reason)


def test_a_record_of_another_schema_version_is_refused():
    doc = {"carrier": "UA", "temp": 1, "late": 0}
    kw = {"schema_version": "1", "schema_header": "driftgate-schema-version"}
    assert _decode(doc, headers={"driftgate-schema-version": b"v1"}, **kw)[1] == ("UA", "1", "0")
    with pytest.raises(records.Refused, match="the region's schema is v1"):
        _decode(doc, headers={"driftgate-schema-version": b"2"}, **kw)
