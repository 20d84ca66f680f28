"""Span preparation: flights join, label, no leakage, drop counts; generic CSV split."""

import pandas as pd
import pytest

from driftgate.app import datasets


def test_flights_frame_has_label_and_no_leaking_columns(flights_frame):
    leaking = {"dep_time", "arr_time", "dep_delay", "arr_delay", "air_time"}
    assert not leaking & set(flights_frame.columns)
    assert set(datasets.FLIGHTS_COLUMNS) <= set(flights_frame.columns)
    assert set(flights_frame["late"].unique()) == {0, 1}
    assert set(flights_frame["origin"].unique()) == set(datasets.FLIGHTS_REGIONS)


def test_flights_frame_counts_cancelled_and_diverted_on_a_slice():
    flights = pd.DataFrame(
        {
            "year": [2013] * 4,
            "month": [1] * 4,
            "day": [1, 1, 2, 3],
            "dep_time": [517, None, 600, 700],
            "sched_dep_time": [515, 600, 559, 2359],
            "arr_delay": [20.0, None, None, -3.0],
            "sched_arr_time": [830, 900, 1000, 2430],
            "carrier": ["UA", "AA", "B6", "DL"],
            "dest": ["IAH", "MIA", "BOS", "ATL"],
            "distance": [1400, 1089, 187, 762],
            "origin": ["EWR", "JFK", "LGA", "EWR"],
            "time_hour": [
                "2013-01-01T10:00:00Z",
                "2013-01-01T11:00:00Z",
                "2013-01-02T11:00:00Z",
                "2013-01-03T04:00:00Z",
            ],
        }
    )
    weather = pd.DataFrame(
        {
            "origin": ["EWR"],
            "time_hour": ["2013-01-01T10:00:00Z"],
            "temp": [39.0],
            "dewp": [26.0],
            "humid": [59.4],
            "wind_dir": [270.0],
            "wind_speed": [10.4],
            "wind_gust": [None],
            "precip": [0.0],
            "pressure": [1012.0],
            "visib": [10.0],
        }
    )
    frame, dropped = datasets.flights_frame(flights, weather)
    assert dropped == {"cancelled": 1, "diverted": 1}
    assert list(frame["late"]) == [1, 0]
    assert list(frame["sched_dep_hour"]) == [5, 23]
    assert list(frame["sched_arr_hour"]) == [8, 0]  # 2430 wraps to 00h
    assert list(frame["day_of_week"]) == [1, 3]  # 2013-01-01 was a Tuesday
    assert frame["temp"].iloc[0] == 39.0 and pd.isna(frame["temp"].iloc[1])  # no weather hour


def test_prepare_flights_writes_region_span_layout(tmp_path):
    summary = datasets.prepare_flights(str(tmp_path), months=[1])
    assert set(summary.rows) == {("EWR", 1), ("JFK", 1), ("LGA", 1)}
    ewr = pd.read_csv(tmp_path / "EWR" / "span-1" / "data.csv")
    assert list(ewr.columns) == list(datasets.FLIGHTS_COLUMNS)
    assert len(ewr) == summary.rows[("EWR", 1)] > 5000
    assert summary.dropped["cancelled"] > 0 and summary.dropped["diverted"] > 0
    assert "EWR" in summary.table() and "span 1" in summary.table()


def test_split_csv_any_dataset_by_region_and_time(tmp_path):
    src = tmp_path / "shop.csv"
    pd.DataFrame(
        {
            "store": ["north", "north", "south"],
            "ts": ["2024-01-05", "2024-02-07", "2024-01-09"],
            "spend": [1.0, 2.0, 3.0],
        }
    ).to_csv(src, index=False)
    summary = datasets.split_csv(str(src), "store", "ts", str(tmp_path / "out"))
    assert summary.rows == {("north", 1): 1, ("north", 2): 1, ("south", 1): 1}
    got = pd.read_csv(tmp_path / "out" / "north" / "span-2" / "data.csv")
    assert list(got.columns) == ["spend"] and got["spend"].tolist() == [2.0]


def test_split_csv_names_missing_column(tmp_path):
    src = tmp_path / "x.csv"
    src.write_text("a,b\n1,2\n")
    with pytest.raises(datasets.DataError, match=r"x.csv: no column 'when' \(--time-column\)"):
        datasets.split_csv(str(src), "a", "when", str(tmp_path / "out"))
