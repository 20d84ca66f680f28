"""``driftgate land`` killed with SIGKILL at random points over a large load,
then restarted, as a user's process supervisor would: every (partition,
offset) lands in exactly one file, no gaps, no duplicates, nothing half
written, every span the watermark passed sealed. Runs the real command as a
subprocess against the real broker (Tansu, started by the fixture)."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from streaming import files, kafka, replay, spans

pytestmark = pytest.mark.e2e

DAY = 86_400_000
START = 15_706 * DAY  # 2013-01-01, TFX span 15706
PARTITIONS = 3
RECORDS = 200_000


def _region_yaml(folder, bootstrap, topic):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "EWR.yaml"), "w") as fh:
        fh.write(
            "region: EWR\nschema: {version: 1}\ndata: {source: kafka}\n"
            f"kafka: {{bootstrap: '{bootstrap}', topic_template: {topic}, dlq_template: {topic}.dlq}}\n"
            "land: {span: daily, checkpoint_s: 0.3, checkpoint_records: 3000, allowed_lateness_s: 5, idle_partition_s: 2}\n"
        )


def _lander(config_dir, data_dir):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "driftgate",
            "land",
            "--region",
            "EWR",
            "--config-dir",
            config_dir,
            "--data",
            data_dir,
            "--exit-when-idle",
            "3",
            "-o",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


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
    sent = replay.produce(broker, topic, events, PARTITIONS)
    config_dir, data_dir = str(tmp_path / "regions"), str(tmp_path / "data")
    _region_yaml(config_dir, broker, topic)
    rng = random.Random(23)
    kills, progress = 0, []
    checkpoint = os.path.join(data_dir, "EWR", files.CHECKPOINT)
    for _ in range(8):
        proc = _lander(config_dir, data_dir)
        time.sleep(rng.uniform(1.0, 2.5))  # start-up is ~1 s: some kills land before the first checkpoint
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        done = json.load(open(checkpoint))["next"] if os.path.exists(checkpoint) else {}
        progress.append(sum(done.values()))
    proc = _lander(config_dir, data_dir)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert kills >= 5
    assert any(0 < p < sent for p in progress), progress  # killed mid-load, not only when idle
    region = os.path.join(data_dir, "EWR")
    seen = {p: [] for p in range(PARTITIONS)}
    total = 0
    for late in (False, True):
        for _span, folder in files.span_folders(region, late):
            names = os.listdir(folder)
            assert not [n for n in names if files.is_temporary(n)], names
            manifest = json.load(open(os.path.join(folder, files.MANIFEST)))
            assert sorted(n for n in names if n.endswith(".csv")) == sorted(manifest["files"])
            for name, entry in manifest["files"].items():
                path = os.path.join(folder, name)
                assert files.sha256(path) == entry["sha256"]
                with open(path) as fh:
                    assert sum(1 for _ in fh) - 1 == entry["rows"]
                for a, b in entry["offsets"]:
                    seen[entry["partition"]].extend(range(a, b + 1))
                total += entry["rows"]
    assert total == sent
    for p, offsets in seen.items():
        assert sorted(offsets) == list(range(len(offsets))), f"partition {p}: gaps or duplicates"
    sealed = [s for s, f in files.span_folders(region) if files.is_sealed(f)]
    assert sealed == [15706, 15707, 15708]  # day 5 has begun, not ended
    assert spans.span_of(START, "daily") == 15706
    result = json.loads(out)
    assert {int(p): o for p, o in result["next_offsets"].items()} == {p: len(o) for p, o in seen.items()}
