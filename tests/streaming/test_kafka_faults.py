"""``driftgate land`` while Apache Kafka brokers die: a three-node KRaft cluster
of its own (``driftgate.local.kafka``; topics with replication factor 3 and
``min.insync.replicas=2``, an idempotent ``acks=all`` producer), started for
this module because its tests kill brokers. Each test checks record by record
that the sealed spans hold every acknowledged record once, as it was sent:
- the broker leading a partition killed with SIGKILL three times while records
  are produced and landed (the leader moves, the lander goes on), each
  restarted;
- a broker down for the whole run;
- the lander killed with SIGKILL at random points (14 times) while a broker is
  killed and later restarted.
What it does not prove: a network partition (the nodes share loopback), disk
loss (a killed node restarts on its own log), TLS/SASL."""

import json
import os
import random
import threading
import time

import pytest

from driftgate.core.config import load_region_config
from streaming import files, kafka, replay, spans
from tests.streaming.landed import assert_exactly_once, kill_at_random, lander, produce, region_yaml

pytestmark = pytest.mark.e2e

DAY = 86_400_000
START = 15_706 * DAY  # 2013-01-01, daily span 15706
PARTITIONS = 3
SUMMARY = []  # (test, lander kills, broker kills, records) for the module's last line


@pytest.fixture(scope="module")
def cluster():
    from driftgate.local import engines
    from driftgate.local import kafka as local_kafka

    why = local_kafka.missing(engines.cache_dir())
    if why is not None:
        pytest.skip(f"needs Apache Kafka (brokers are killed; Tansu has one node): {why}")
    with local_kafka.cluster(3) as c:
        yield c
    print(
        "\nKafka fault tests (Apache Kafka, 3 nodes): "
        + "; ".join(
            f"{t}: {k} lander kills, {b} broker kills, {n:,} records exactly once" for t, k, b, n in SUMMARY
        )
    )


@pytest.fixture(scope="module")
def columns():
    cfg = load_region_config("EWR")
    return list(cfg.features.all) + [cfg.features.label]


def _events(small_spans, n, days=3):
    rows = replay.span_rows(str(small_spans / "EWR"), 1)
    many = [rows[i % len(rows)] for i in range(n)]
    events = list(replay.timed(many, START, START + days * DAY, "event_time"))
    tail = list(replay.timed(rows[:9], START + 5 * DAY, START + 5 * DAY + 1000, "event_time"))
    return events, tail  # the tail begins day 5, so days 0-2 seal


def _topic(cluster, name):
    assert kafka.create_topic(cluster.bootstrap, name, PARTITIONS) == 3
    kafka.create_topic(cluster.bootstrap, name + ".dlq", 1)


def _wait_leader_moved(cluster, topic, partition, old, timeout_s=30):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            now = cluster.leader(topic, partition, timeout_s=2)
            if now not in (old, -1):
                return now
        except Exception:  # noqa: BLE001 - metadata not ready
            pass
        time.sleep(0.2)
    raise AssertionError(f"the leader of {topic}/{partition} did not move off node {old}")


def _finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err.decode()[-3000:]
    return json.loads(out)


def _sealed(region):
    return [s for s, f in files.span_folders(region) if files.is_sealed(f)]


def test_partition_leaders_killed_while_producing_and_landing_lose_nothing(
    cluster, small_spans, columns, tmp_path
):
    topic = "f.leaders"
    _topic(cluster, topic)
    config_dir, data_dir = str(tmp_path / "regions"), str(tmp_path / "data")
    region_yaml(config_dir, cluster.bootstrap, topic)
    events, tail = _events(small_spans, 120_000)
    acked, chunks = {}, [events[i : i + 5000] for i in range(0, len(events), 5000)]

    def producing():  # records keep arriving while leaders die
        for chunk in chunks:
            acked.update(produce(cluster.bootstrap, topic, chunk, PARTITIONS))
            time.sleep(0.3)

    producer = threading.Thread(target=producing)
    producer.start()
    proc = lander(config_dir, data_dir, idle=15)
    checkpoint = os.path.join(data_dir, "EWR", files.CHECKPOINT)
    while not os.path.exists(checkpoint):
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.2)
    kills = 0
    for partition in range(3):
        old = cluster.leader(topic, partition)
        cluster.kill(old)
        kills += 1
        _wait_leader_moved(cluster, topic, partition, old)
        assert proc.poll() is None, "the lander stopped when a leader died"
        cluster.restart(old)
    producer.join()
    acked.update(produce(cluster.bootstrap, topic, tail, PARTITIONS))
    result = _finish(proc)
    assert kills == 3
    n = assert_exactly_once(os.path.join(data_dir, "EWR"), acked, columns)
    assert n == len(events) + len(tail) == sum(result["next_offsets"].values())
    assert _sealed(os.path.join(data_dir, "EWR")) == [15706, 15707, 15708]
    SUMMARY.append(("leader kills", 0, kills, n))


def test_a_broker_down_for_the_whole_run_loses_nothing(cluster, small_spans, columns, tmp_path):
    topic = "f.down"
    _topic(cluster, topic)
    down = cluster.leader(topic, 0)
    cluster.kill(down)
    try:
        _wait_leader_moved(cluster, topic, 0, down)
        events, tail = _events(small_spans, 30_000)
        acked = produce(cluster.bootstrap, topic, events + tail, PARTITIONS)  # two in-sync replicas: enough
        config_dir, data_dir = str(tmp_path / "regions"), str(tmp_path / "data")
        region_yaml(config_dir, cluster.bootstrap, topic)
        _finish(lander(config_dir, data_dir))
        n = assert_exactly_once(os.path.join(data_dir, "EWR"), acked, columns)
        assert _sealed(os.path.join(data_dir, "EWR")) == [15706, 15707, 15708]
    finally:
        cluster.restart(down)
    SUMMARY.append(("a broker down", 0, 1, n))


def test_lander_killed_at_random_points_while_a_broker_restarts_lands_once(
    cluster, small_spans, columns, tmp_path
):
    topic = "f.crash"
    _topic(cluster, topic)
    events, tail = _events(small_spans, 150_000)
    acked = produce(cluster.bootstrap, topic, events + tail, PARTITIONS)
    config_dir, data_dir = str(tmp_path / "regions"), str(tmp_path / "data")
    region_yaml(config_dir, cluster.bootstrap, topic)
    victim = []

    def broker_faults(i):  # a broker dies while the lander is being killed and restarted
        if i == 3:
            victim.append(cluster.leader(topic, 1))
            cluster.kill(victim[0])
        if i == 9:
            cluster.restart(victim[0])

    kills, progress = kill_at_random(config_dir, data_dir, random.Random(31), 14, 3.0, broker_faults)
    result = _finish(lander(config_dir, data_dir))
    assert kills >= 12
    assert any(0 < p < len(acked) for p in progress), progress  # killed mid-load, not only when idle
    n = assert_exactly_once(os.path.join(data_dir, "EWR"), acked, columns)
    assert n == sum(result["next_offsets"].values())
    assert _sealed(os.path.join(data_dir, "EWR")) == [15706, 15707, 15708]
    assert spans.span_of(START, "daily") == 15706
    SUMMARY.append(("lander kills", kills, 1, n))
