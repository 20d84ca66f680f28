"""Replays a region's CSV spans onto its topic as events (tests and the demo).

Rows of each span get event times spread evenly over a time window (a span of
a CSV data set has no clock of its own), go out as JSON objects keyed by the
CSV's column names with the event time in ``event_field``, round-robin over
the topic's partitions.
"""

from __future__ import annotations

import csv
import datetime as dt
import glob
import json
import os
from typing import Dict, Iterator, List, Tuple


def span_rows(region_dir: str, span: int) -> List[Dict[str, str]]:
    from components.ingest import errors

    rows: List[Dict[str, str]] = []
    for path in sorted(glob.glob(os.path.join(region_dir, f"span-{span}", "*.csv"))):
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            try:
                rows.extend(reader)
            except csv.Error as exc:  # "line contains NUL": the file and line, and what to do
                raise errors.csv_error(path, exc, reader.line_num) from None
    return rows


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def timed(
    rows: List[Dict[str, str]], start_ms: int, end_ms: int, event_field: str
) -> Iterator[Tuple[int, dict]]:
    """``(event ms, record)`` with event times spread evenly over ``[start, end)``."""
    step = (end_ms - start_ms) / max(len(rows), 1)
    for i, row in enumerate(rows):
        t = int(start_ms + i * step)
        yield t, dict(row, **{event_field: iso(t)})


def produce(bootstrap: str, topic: str, events, partitions: int) -> int:
    """Sends the events (``(event ms, record)``), round-robin over partitions; returns the count."""
    from confluent_kafka import Producer

    from streaming.kafka import producer_settings

    p = Producer(producer_settings(bootstrap, **{"linger.ms": 20}))
    n = 0
    for t, record in events:
        value = json.dumps(record).encode()
        while True:
            try:
                p.produce(topic, value, partition=n % partitions, timestamp=t)
                break
            except BufferError:  # the local queue is full: let acknowledgements drain it
                p.poll(0.1)
        n += 1
        if n % 5000 == 0:
            p.poll(0)
    left = p.flush(60)
    if left:
        raise RuntimeError(f"{left} record(s) not delivered to {topic}")
    return n


def sampled(
    rows: List[Dict[str, str]],
    start_ms: int,
    seconds: float,
    rate: float,
    event_field: str,
    seed: int = 0,
    change=None,
) -> Iterator[Tuple[int, dict]]:
    """``rate`` records per second of event time for ``seconds``, drawn with
    replacement from ``rows``; ``change(record, rng)`` alters each (an
    injected shift: tests, benchmarks, the demo)."""
    import random

    rng = random.Random(seed)
    step = 1000.0 / rate
    for i in range(int(seconds * rate)):
        t = int(start_ms + i * step)
        record = dict(rows[rng.randrange(len(rows))])
        if change is not None:
            change(record, rng)
        record[event_field] = t
        yield t, record


class Message:
    """A consumed record as confluent-kafka hands it over (the fields the lander
    and the watcher read), to feed them without a broker (benchmarks, tests)."""

    __slots__ = ("_p", "_o", "_v", "_t")

    def __init__(self, partition, offset, value, ts):
        self._p, self._o, self._v, self._t = partition, offset, value, ts

    def partition(self):
        return self._p

    def offset(self):
        return self._o

    def value(self):
        return self._v

    def timestamp(self):
        return (1, self._t)  # TIMESTAMP_CREATE_TIME

    def error(self):
        return None
