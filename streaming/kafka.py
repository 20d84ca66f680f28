"""Kafka client settings for a region, and the local broker for tests and the demo.

Settings: the region's ``kafka.bootstrap`` (or ``--bootstrap``) plus the
librdkafka ``key=value`` lines of ``kafka.settings_file`` (a mounted Secret:
TLS, SASL), or of the file ``DRIFTGATE_KAFKA_SETTINGS`` names. Their values
are never printed; :func:`describe` shows only the keys.

The lander and the stream assign partitions themselves (no consumer-group
rebalancing) and keep one process per region with a lease; their offsets live
in their own checkpoints, and are committed to Kafka after each checkpoint so
the group's lag reads as on any consumer (:func:`consumer_lag`). The brokers
tests and demos start are in ``driftgate.local.kafka`` (Apache Kafka, or Tansu
where no Java can be had).
"""

from __future__ import annotations

import os
from typing import Dict, Iterable, List, Optional

from driftgate.core.errors import DriftgateError

SETTINGS_ENV = "DRIFTGATE_KAFKA_SETTINGS"


class KafkaSettingsError(DriftgateError, ValueError):
    """The Kafka settings file cannot be read."""


def settings(cfg, bootstrap: Optional[str] = None, environ=os.environ) -> Dict[str, str]:
    """librdkafka settings for the region (``cfg``: its RegionConfig)."""
    out = {"bootstrap.servers": bootstrap or cfg.kafka.bootstrap}
    path = cfg.kafka.settings_file or environ.get(SETTINGS_ENV)
    if path:
        try:
            lines = open(path).read().splitlines()
        except OSError as exc:
            raise KafkaSettingsError(
                f"region {cfg.region}: kafka.settings_file {path}: {exc.strerror}; "
                "mount the Secret there or unset it"
            ) from None
        for n, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if "=" not in line:
                raise KafkaSettingsError(f"{path} line {n}: expected key=value (value not shown)")
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def describe(conf: Dict[str, str]) -> str:
    """The settings for a log line: bootstrap shown, other keys only."""
    others = sorted(k for k in conf if k != "bootstrap.servers")
    return conf["bootstrap.servers"] + (f" (+ {', '.join(others)})" if others else "")


def local(bootstrap: str, **extra) -> Dict[str, object]:
    """Client settings for the local broker (tests, the demo, benchmarks):
    librdkafka logs only critical lines, so clients still alive after the
    broker stops do not fill the output with reconnect failures."""
    return {"bootstrap.servers": bootstrap, "log_level": 2, **extra}


def producer_settings(bootstrap: str, **extra) -> Dict[str, object]:
    """A producer that loses nothing a broker acknowledged: ``acks=all`` (every
    in-sync replica has it) and idempotence (a retry after a leader move writes
    no duplicate)."""
    return local(bootstrap, **{"acks": "all", "enable.idempotence": True, **extra})


def create_topic(bootstrap: str, topic: str, partitions: int, replication: Optional[int] = None) -> int:
    """Creates ``topic``; replication factor ``replication`` or, when None, 3 on a
    cluster of three brokers or more (with ``min.insync.replicas=2``), else one
    per broker. Returns the replication factor used."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(local(bootstrap))  # kept alive until the futures resolve
    if replication is None:
        replication = min(3, len(admin.list_topics(timeout=10).brokers))
    config = {"min.insync.replicas": "2"} if replication >= 3 else {}
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=replication, config=config)]
    )
    for f in futures.values():
        f.result(30)
    return replication


def consumer(conf: Dict[str, str], group: str):
    """A consumer that commits nothing by itself and starts a new group at the
    beginning (``land`` and ``stream`` keep their offsets in their checkpoints)."""
    from confluent_kafka import Consumer

    return Consumer(
        {
            **conf,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
        }
    )


def commit(consumer, topic: str, offsets: Dict[int, int], warn) -> None:
    """Commits the checkpointed offsets to Kafka (asynchronously; for lag
    dashboards and ``kafka-consumer-groups``: a restart never reads them)."""
    from confluent_kafka import TopicPartition

    if not offsets:
        return
    try:
        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=True)
    except Exception as exc:  # noqa: BLE001 - Kafka's copy of the offsets is for dashboards only
        warn(f"warning: offsets not committed to Kafka: {exc}")


def _watermarks(consumer, topic: str, partitions: Iterable[int]):
    """``(partition, (low, high) or None)``: each partition's offsets asked of its
    leader (not librdkafka's cache); None when it does not answer within a second."""
    from confluent_kafka import TopicPartition

    for p in partitions:
        try:
            yield p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=1, cached=False)
        except Exception:  # noqa: BLE001 - no answer: the callers decide what that means
            yield p, None


def consumer_lag(
    consumer, topic: str, committed: Dict[int, int], partitions: Iterable[int]
) -> Dict[int, int]:
    """Per partition, the records on the broker past the checkpointed (and
    committed) offset: the partition's high watermark, asked of its leader,
    minus that offset; what ``kafka-consumer-groups --describe`` calls LAG.
    A partition whose leader does not answer in a second is left out (a
    metric, never a failure)."""
    return {
        p: max(0, high - max(committed.get(p, low), low))
        for p, offsets in _watermarks(consumer, topic, partitions)
        if offsets is not None
        for low, high in [offsets]
    }


def behind(consumer, topic: str, consumed: Dict[int, int], partitions: Iterable[int]) -> List[int]:
    """Of ``partitions`` (silent ones), those with records waiting on the broker:
    the high watermark, asked of the partition's leader, is past the consumed
    offset, or the leader did not answer within a second (a broker down, a
    leader moving). The watermark does not count them idle."""
    return [
        p
        for p, offsets in _watermarks(consumer, topic, partitions)
        if offsets is None or offsets[1] > max(consumed.get(p, offsets[0]), offsets[0])
    ]


def partitions(client, topic: str) -> Optional[list]:
    """The topic's partitions, sorted; None when the broker does not have it."""
    meta = client.list_topics(topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        return None
    return sorted(meta.partitions)


def assign(client, topic: str, starts: Dict[int, Optional[int]]) -> None:
    """Reads each partition from its offset (None: from its beginning)."""
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition

    client.assign([TopicPartition(topic, p, OFFSET_BEGINNING if o is None else o) for p, o in starts.items()])
