"""``driftgate local kafka`` as a user runs it: a real Apache Kafka cluster
(two KRaft nodes here, to keep it short) started by the command, its bootstrap
servers printed, metadata answered with every broker, and on SIGTERM every node
stopped, no process left behind."""

import json
import os
import signal
import subprocess
import sys

import pytest

from driftgate.local import engines
from driftgate.local import kafka as local_kafka

pytestmark = pytest.mark.e2e


def test_local_kafka_starts_a_cluster_prints_it_and_stops_every_node(tmp_path):
    why = local_kafka.missing(engines.cache_dir())
    if why is not None:
        pytest.skip(why)
    from confluent_kafka.admin import AdminClient

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "driftgate",
            "local",
            "kafka",
            "--brokers",
            "2",
            "--dir",
            str(tmp_path),
            "-o",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert info["engine"] == f"Apache Kafka {local_kafka.version()}" and info["brokers"] == 2
        meta = AdminClient({"bootstrap.servers": info["bootstrap"], "log_level": 0}).list_topics(timeout=10)
        assert len(meta.brokers) == 2
        pids = [
            p
            for p in map(
                int, subprocess.run(["pgrep", "java"], capture_output=True, text=True).stdout.split()
            )
            if str(tmp_path) in open(f"/proc/{p}/cmdline").read()
        ]
        assert len(pids) == 2  # the two JVMs, found by their data folder
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert "stopping the Kafka nodes" in err
    assert not [
        p for p in pids if os.path.exists(f"/proc/{p}") and "java" in open(f"/proc/{p}/cmdline").read()
    ]


def test_a_cluster_id_beginning_with_a_dash_formats_and_starts(monkeypatch):
    """Kafka's cluster ids are URL-safe base64: one in 64 begins with "-", which the
    storage tool once read as an option (a fresh clone's test run hit it)."""
    if local_kafka.missing(engines.cache_dir()) is not None:
        pytest.skip(local_kafka.missing(engines.cache_dir()))
    monkeypatch.setattr(local_kafka, "_random_uuid", lambda: "-AbCdEfGhIjKlMnOpQrStUw")
    with local_kafka.cluster(1) as c:
        assert (c.directory / "cluster.id").read_text().strip() == "-AbCdEfGhIjKlMnOpQrStUw"
