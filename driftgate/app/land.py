"""``driftgate land``: runs a region's lander (``streaming.lander``) against
its Kafka topic until stopped (SIGTERM/SIGINT: a last checkpoint, then exit),
or until the topic has been quiet for ``exit_when_idle_s`` (every span the
watermark passed is sealed by then; later ones stay open for the next run).
``region_dir`` is a folder or a ``gs://`` prefix. One lander per region: it
holds a lease under ``<data>/<REGION>/_land/``; a second one that got past it
(a pod cut off while its lease expired) is fenced at its next commit
(``streaming.sink.commit``).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional

from driftgate.core import lease, storage
from driftgate.core.config import RegionConfig
from driftgate.core.errors import DriftgateError
from streaming import kafka, loop
from streaming.lander import Lander


class LandError(DriftgateError, RuntimeError):
    """The lander cannot start (wrong source, topic missing, bucket data root)."""


@dataclass
class LandResult:
    region: str
    topic: str
    counts: Dict[str, int]
    sealed: list
    next_offsets: Dict[int, int]


def land(
    cfg: RegionConfig,
    region_dir: str,
    *,
    bootstrap: Optional[str] = None,
    exit_when_idle_s: Optional[float] = None,
    max_seconds: Optional[float] = None,
    metrics_port: Optional[int] = None,
    progress: Callable[[str], None] = lambda line: None,
    stop: Optional[threading.Event] = None,
) -> LandResult:
    from confluent_kafka import Producer

    if cfg.data.source != "kafka":
        raise LandError(
            f"region {cfg.region} ({cfg.source_file}): data.source is {cfg.data.source!r}; "
            "set data.source: kafka to land it from its topic"
        )
    if storage.is_remote(region_dir) and not region_dir.startswith(storage.GS):
        raise LandError(
            f"{region_dir}: driftgate land writes to a local folder or volume or to gs:// (it needs "
            f"create-if-absent and compare-and-swap writes, which {region_dir.split(':')[0]}:// lacks here)"
        )
    conf = kafka.settings(cfg, bootstrap)
    topic = cfg.kafka.topic(cfg.region)
    consumer = kafka.consumer(conf, cfg.kafka.group(cfg.region))
    producer = Producer({**conf, "acks": "all", "enable.idempotence": True})
    stop = stop or threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        if threading.current_thread() is threading.main_thread():
            signal.signal(sig, lambda *_: stop.set())
    run = f"land-{cfg.region}-{os.getpid()}"
    ttl = lease.pipeline_ttl(os.environ, lease.DEFAULT_TTL_S)
    with lease.held(storage.join(region_dir, "_land", "lease.json"), run, ttl=ttl, progress=progress):
        lander = Lander(cfg, region_dir, consumer, producer, progress=progress, run=run)
        if metrics_port is not None:
            from streaming import metrics

            metrics.serve(lander, metrics_port)
            progress(f"{cfg.region}: metrics on :{metrics_port}/metrics")
        found = kafka.partitions(consumer, topic)
        if found is None:
            raise LandError(f"region {cfg.region}: topic {topic} not found on {kafka.describe(conf)}")
        starts = lander.start_offsets(found)
        kafka.assign(consumer, topic, starts)
        progress(
            f"{cfg.region}: landing {topic} ({len(starts)} partitions) from {kafka.describe(conf)} into {region_dir}"
        )
        loop.run(
            consumer,
            topic,
            lander,
            found,
            stop=stop,
            batch=2000,
            poll_s=0.5,
            exit_when_idle_s=exit_when_idle_s,
            max_seconds=max_seconds,
            lag_every_s=10 if metrics_port is not None else None,
        )
        lander.checkpoint(time.time())
        consumer.close()
        return LandResult(cfg.region, topic, dict(lander.counts), sorted(lander.sealed), dict(lander.next))
