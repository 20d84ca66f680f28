"""``driftgate land`` straight into a bucket (``gs://`` on fake-gcs-server,
which enforces ``ifGenerationMatch``: tests/conftest.py gcs) from the
session's Kafka cluster (a three-node Apache Kafka, or Tansu where no Java:
tests/conftest.py kafka_engine), run as the real command in a subprocess:

- SIGKILL at random points, at least 20 times: every (partition, offset) in
  exactly one published object, as sent, nothing staged left behind;
- a zombie: a lander frozen (SIGSTOP) mid-load until its lease expires, a
  second lander takes over and lands everything, then the first wakes up: it
  stops at its next commit ("fenced"), and nothing it wrote is ever visible;
- the ingest's span discovery on the bucket counts only sealed spans.

Not proven here: Cloud Storage's own consistency and IAM (the server is an
emulator answering the same JSON API)."""

import json
import random
import signal
import time
import uuid

import pytest

from driftgate.core import storage
from driftgate.core.config import load_region_config
from streaming import files, kafka, replay
from tests.streaming.landed import assert_exactly_once, kill_at_random, landed, lander, produce, region_yaml

pytestmark = pytest.mark.e2e

DAY = 86_400_000
START = 15_706 * DAY  # 2013-01-01
PARTITIONS = 3


@pytest.fixture
def columns():
    cfg = load_region_config("EWR")
    return list(cfg.features.all) + [cfg.features.label]


def _region(broker, gcs, small_spans, tmp_path, name, records, checkpoint_records=3000):
    """A topic of ``records`` flights events over three days (and one of a
    fifth), and a region file landing it into a fresh prefix of the bucket:
    (events, acked by (partition, offset), config dir, data URI)."""
    topic = f"driftgate.EWR.{name}-{uuid.uuid4().hex[:6]}"
    events, acked = _load(broker, small_spans, topic, records)
    config_dir, data_dir = str(tmp_path / "regions"), f"{gcs}/{name}-{uuid.uuid4().hex[:8]}"
    region_yaml(config_dir, broker, topic, checkpoint_records=checkpoint_records)
    return events, acked, config_dir, data_dir


def _load(broker, small_spans, topic, records):
    kafka.create_topic(broker, topic, PARTITIONS)
    kafka.create_topic(broker, topic + ".dlq", 1)
    rows = replay.span_rows(str(small_spans / "EWR"), 1)
    many = [rows[i % len(rows)] for i in range(records)]
    events = list(replay.timed(many, START, START + 3 * DAY, "event_time"))
    events += list(replay.timed(rows[:9], START + 5 * DAY, START + 5 * DAY + 1000, "event_time"))
    return events, produce(broker, topic, events, PARTITIONS)


def _sealed(region):
    listing = files.Listing(region)
    return [s for s, f in listing.spans() if listing.sealed(f)]


def test_kill_9_at_random_points_lands_every_offset_exactly_once_in_the_bucket(
    broker, gcs, small_spans, tmp_path, columns
):
    events, acked, config_dir, data_dir = _region(broker, gcs, small_spans, tmp_path, "kills", 120_000, 2000)
    kills, progress = kill_at_random(config_dir, data_dir, random.Random(7), 22, 2.2)
    proc = lander(config_dir, data_dir)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert kills >= 20, kills
    print(f"bucket: {kills} lander kills, {len(events):,} records landed exactly once")
    assert len({p for p in progress if 0 < p < len(acked)}) >= 3, progress  # killed mid-load, many times
    region = storage.join(data_dir, "EWR")
    assert assert_exactly_once(region, acked, columns) == len(events)
    assert _sealed(region) == [15706, 15707, 15708]
    checkpoint = files.read_json(storage.join(region, files.CHECKPOINT))
    assert kills // 2 < checkpoint["epoch"] <= kills + 1  # one claim per lander that got past its start
    assert checkpoint["pending"] == {}
    assert json.loads(out)["counts"]["sealed"] >= 1


def test_a_zombie_lander_that_wakes_after_its_replacement_is_fenced_and_duplicates_nothing(
    broker, gcs, small_spans, tmp_path, columns
):
    events, acked, config_dir, data_dir = _region(broker, gcs, small_spans, tmp_path, "zombie", 60_000, 1500)
    region = storage.join(data_dir, "EWR")
    checkpoint = storage.join(region, files.CHECKPOINT)
    ttl = {"DRIFTGATE_LEASE_TTL_S": "3"}
    zombie = lander(config_dir, data_dir, idle=3, env=ttl)
    deadline = time.time() + 60
    while sum((files.read_json(checkpoint) or {}).get("next", {}).values()) < 3000:
        assert zombie.poll() is None and time.time() < deadline, zombie.stderr.read().decode()[-2000:]
        time.sleep(0.05)
    zombie.send_signal(signal.SIGSTOP)  # cut off mid-load, its buffers full
    try:
        frozen_at = files.read_json(checkpoint)
        time.sleep(4)  # its lease expires
        live = lander(config_dir, data_dir, idle=3, env=ttl)
        out, err = live.communicate(timeout=300)
        assert live.returncode == 0, err.decode()[-2000:]
    finally:
        zombie.send_signal(signal.SIGCONT)
    _, zerr = zombie.communicate(timeout=120)
    zerr = zerr.decode()
    assert zombie.returncode == 5, zerr[-2000:]  # ExitCode.BUSY
    assert "fenced" in zerr and f"epoch {frozen_at['epoch'] + 1}" in zerr, zerr[-2000:]
    # what a reader sees: exactly once, nothing of the zombie
    assert len(landed(region, staged_ok=True)) == len(events)
    assert _sealed(region) == [15706, 15707, 15708]
    # the next lander (or the next seal) removes what the zombie staged
    again = lander(config_dir, data_dir, idle=1)
    assert again.wait(timeout=120) == 0
    assert assert_exactly_once(region, acked, columns) == len(events)


def test_the_ingest_counts_only_sealed_bucket_spans(broker, gcs, small_spans, tmp_path):
    from components.ingest.spans import arrived, discovery_globs

    _, _, config_dir, data_dir = _region(broker, gcs, small_spans, tmp_path, "sealed", 3000)
    assert lander(config_dir, data_dir).wait(timeout=120) == 0
    region = storage.join(data_dir, "EWR")
    pattern = "span-{SPAN}/*.csv"
    listed = [p for g in discovery_globs(pattern) for p in storage.glob(storage.join(region, g))]
    relative = [storage.relative(p, region) for p in listed]
    assert sorted({int(r.split("/")[0][5:]) for r in relative}) == [15706, 15707, 15708, 15711]
    assert arrived(relative, pattern) == [15706, 15707, 15708]  # day 5 is being landed: not arrived
