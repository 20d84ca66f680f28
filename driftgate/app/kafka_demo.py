"""The Kafka demo (``driftgate demo-kafka``): a newcomer's whole landing path
on one machine. Starts a local Apache Kafka cluster (three KRaft nodes from the
jars ``make engines`` fetched; ``driftgate.local.kafka``), or Tansu where no
Java can be had, and says which; replays a region's flights months as
events (2013, one monthly span each, plus the first day of the month after
so the last one seals), lands them with ``driftgate land``'s lander, then
hands the sealed spans to the region's pipeline (``driftgate run``), oldest
first. Then a live stretch for ``driftgate stream``: on a fresh broker, 10
minutes of records at 50 per second drawn from the first month (the serving
model's training span), then an upstream breaks (temperature and dew point
arrive in Celsius, humidity goes missing on half the records) for 5 minutes;
the stream watcher judges them against the serving model's training
baseline and alerts. The region's config is used as is, except
``data.source: kafka`` and ``land.span: monthly``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, List

from driftgate.app import datasets
from driftgate.app.land import LandResult, land
from driftgate.app.stream import StreamResult, stream
from driftgate.core.config import RegionConfig
from driftgate.local.kafka import any_broker
from streaming import kafka, replay, spans

FIRST_MONTH = 516  # 2013-01 as months since January 1970: the flights year


def demo_config(cfg: RegionConfig) -> RegionConfig:
    return dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, source="kafka"),
        land=dataclasses.replace(cfg.land, span="monthly", checkpoint_s=1.0),
    )


def replay_and_land(
    cfg: RegionConfig, out: str, months: List[int], progress: Callable[[str], None] = lambda line: None
) -> LandResult:
    """Flights months of the region -> topic -> ``out/landed/<REGION>/span-<N>/``."""
    csv_dir = os.path.join(out, "csv")
    datasets.prepare_flights(csv_dir, months=sorted(set(months) | {max(months) + 1}))
    cfg = demo_config(cfg)
    topic = cfg.kafka.topic(cfg.region)
    with any_broker(3, progress=progress) as (bootstrap, _engine):
        kafka.create_topic(bootstrap, topic, 3)
        kafka.create_topic(bootstrap, cfg.kafka.dlq(cfg.region), 1)
        region_csv = os.path.join(csv_dir, cfg.region)
        sent = 0
        for m in sorted(months):
            rows = replay.span_rows(region_csv, m)
            events = replay.timed(
                rows, *spans.bounds(FIRST_MONTH + m - 1, "monthly"), cfg.kafka.event_time_field
            )
            sent += replay.produce(bootstrap, topic, events, 3)
        after = spans.bounds(FIRST_MONTH + max(months), "monthly")[0]
        nxt = replay.span_rows(region_csv, max(months) + 1)[:50]
        sent += replay.produce(
            bootstrap, topic, replay.timed(nxt, after, after + 86_400_000, cfg.kafka.event_time_field), 3
        )
        progress(f"replayed {sent:,} records of months {', '.join(map(str, months))} onto {topic}")
        return land(
            cfg,
            os.path.join(out, "landed", cfg.region),
            bootstrap=bootstrap,
            exit_when_idle_s=3,
            progress=progress,
        )


LIVE_RATE = 50  # records per second of event time
CALM_S, BROKEN_S = 600, 300


def broken_upstream(record, rng) -> None:
    """Temperature and dew point in Celsius; humidity missing on half the records."""
    for f in ("temp", "dewp"):
        v = record.get(f)
        if v not in (None, ""):
            record[f] = round((float(v) - 32) * 5 / 9, 1)
    if rng.random() < 0.5:
        record["humid"] = None


def live_stretch(
    cfg: RegionConfig, out: str, month: int, progress: Callable[[str], None] = lambda line: None
) -> tuple:
    """(StreamResult, first broken event ms): the stream watcher on records of
    ``month`` (stationary, then a broken upstream) against the serving model's
    training baseline under ``out/runs``."""
    cfg = demo_config(cfg)
    cfg = dataclasses.replace(cfg, stream=dataclasses.replace(cfg.stream, idle_partition_s=2.0))
    rows = replay.span_rows(os.path.join(out, "csv", cfg.region), month)
    start = spans.bounds(FIRST_MONTH + month + 2, "monthly")[0]  # after the landed months
    field = cfg.kafka.event_time_field
    broken_at = start + CALM_S * 1000
    events = list(replay.sampled(rows, start, CALM_S, LIVE_RATE, field, seed=1))
    events += list(
        replay.sampled(rows, broken_at, BROKEN_S, LIVE_RATE, field, seed=2, change=broken_upstream)
    )
    topic = cfg.kafka.topic(cfg.region)
    with any_broker(3, progress=progress) as (bootstrap, _engine):
        progress(f"live stretch: {len(events):,} records, the upstream breaks at +{CALM_S}s")
        kafka.create_topic(bootstrap, topic, 3)
        replay.produce(bootstrap, topic, events, 3)
        res: StreamResult = stream(
            cfg,
            os.path.join(out, "landed", cfg.region),
            os.path.join(out, "runs"),
            bootstrap=bootstrap,
            exit_when_idle_s=3,
            progress=progress,
        )
    return res, broken_at
