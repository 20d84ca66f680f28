"""``driftgate land`` killed with SIGKILL at random points over a large load,
then restarted, as a user's process supervisor would: every (partition,
offset) lands in exactly one file, as it was sent, no gaps, no duplicates,
nothing half written, every span the watermark passed sealed. Runs the real
command as a subprocess against the session's broker (a three-node Apache
Kafka cluster, tests/conftest.py: kafka_engine). Brokers dying under it:
``test_kafka_faults.py``."""

import json
import os
import random

import pytest

from driftgate.core.config import load_region_config
from streaming import files, kafka, replay, spans
from tests.streaming.landed import assert_exactly_once, kill_at_random, lander, produce, region_yaml

pytestmark = pytest.mark.e2e

DAY = 86_400_000
START = 15_706 * DAY  # 2013-01-01, TFX span 15706
PARTITIONS = 3
RECORDS = 200_000


def test_kill_9_at_random_points_lands_every_offset_exactly_once(broker, small_spans, tmp_path):
    topic = "driftgate.EWR.crash"
    kafka.create_topic(broker, topic, PARTITIONS)
    kafka.create_topic(broker, topic + ".dlq", 1)
    rows = replay.span_rows(str(small_spans / "EWR"), 1)
    many = [rows[i % len(rows)] for i in range(RECORDS)]
    events = list(replay.timed(many, START, START + 3 * DAY, "event_time"))  # three daily spans
    events += list(
        replay.timed(rows[:9], START + 5 * DAY, START + 5 * DAY + 1000, "event_time")
    )  # day 5 begins
    acked = produce(broker, topic, events, PARTITIONS)
    config_dir, data_dir = str(tmp_path / "regions"), str(tmp_path / "data")
    region_yaml(config_dir, broker, topic)
    kills, progress = kill_at_random(config_dir, data_dir, random.Random(23), 8, 2.5)
    proc = lander(config_dir, data_dir)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert kills >= 5
    assert any(0 < p < len(acked) for p in progress), progress  # killed mid-load, not only when idle
    region = os.path.join(data_dir, "EWR")
    cfg = load_region_config("EWR")
    assert assert_exactly_once(region, acked, list(cfg.features.all) + [cfg.features.label]) == len(events)
    sealed = [s for s, f in files.span_folders(region) if files.is_sealed(f)]
    assert sealed == [15706, 15707, 15708]  # day 5 has begun, not ended
    assert spans.span_of(START, "daily") == 15706
    result = json.loads(out)
    per_partition = {p: sum(1 for q, _ in acked if q == p) for p in range(PARTITIONS)}
    assert {int(p): o for p, o in result["next_offsets"].items()} == per_partition
