"""``driftgate land`` against the session's broker (a three-node Apache Kafka
cluster, tests/conftest.py: kafka_engine; Tansu only where no Java can be had):
the round trip of a real span, sealing on a quiet
topic, late records, a poison record, and the ingest treating an unsealed
span as not arrived, consumer lag against the broker's admin API, a second
lander refused. What it does not prove: TLS/SASL; brokers dying are
``test_kafka_faults.py``, the lander killed ``test_land_crash.py``."""

import csv
import dataclasses
import json
import os
import uuid

import pytest

from driftgate.core.config import load_region_config
from streaming import files, kafka, replay, spans
from streaming.lander import Lander

JAN_2013 = spans.bounds(516, "monthly")  # [2013-01-01, 2013-02-01): month 516 since January 1970


def _cfg(**land):
    cfg = load_region_config("EWR")
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, source="kafka"))
    topic = f"driftgate.EWR.{uuid.uuid4().hex[:8]}"  # a fresh topic per test
    kafka_cfg = dataclasses.replace(cfg.kafka, topic_template=topic, dlq_template=topic + ".dlq")
    land_cfg = dataclasses.replace(
        cfg.land,
        **{"span": "monthly", "allowed_lateness_s": 60, "idle_partition_s": 5, "checkpoint_s": 0.2, **land},
    )
    return dataclasses.replace(cfg, kafka=kafka_cfg, land=land_cfg)


def _clients(cfg, bootstrap):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

    consumer = Consumer(
        {
            "log_level": 2,
            "bootstrap.servers": bootstrap,
            "group.id": cfg.kafka.group(cfg.region),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    return consumer, Producer(kafka.producer_settings(bootstrap)), (OFFSET_BEGINNING, TopicPartition)


def _drive(lander, consumer, topic, partitions, clock, until, max_polls=400):
    """Consumes and ticks (wall clock ``clock()``) until ``until()`` holds."""
    for _ in range(max_polls):
        for m in consumer.consume(2000, timeout=0.2):
            if m.error() is None:
                lander.handle(m, clock())
        lander.tick(clock())
        if until():
            return
    raise AssertionError("the lander did not get there")


def _start(cfg, bootstrap, region_dir, partitions, clock):
    consumer, producer, (begin, tp) = _clients(cfg, bootstrap)
    lander = Lander(cfg, str(region_dir), consumer, producer, clock=clock)
    starts = lander.start_offsets(list(range(partitions)))
    consumer.assign([tp(cfg.kafka.topic("EWR"), p, begin if o is None else o) for p, o in starts.items()])
    return lander, consumer


def _rows(folder):
    out = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".csv"):
            with open(os.path.join(folder, name), newline="") as fh:
                r = csv.reader(fh)
                header = next(r)
                out.extend(tuple(row) for row in r)
    return header, sorted(out)


def test_a_real_span_lands_row_for_row_and_seals_when_the_next_span_begins(broker, small_spans, tmp_path):
    cfg = _cfg()
    topic = cfg.kafka.topic("EWR")
    kafka.create_topic(broker, topic, 3)
    source = replay.span_rows(str(small_spans / "EWR"), 1)
    events = list(replay.timed(source, *JAN_2013, cfg.kafka.event_time_field))
    feb = replay.span_rows(str(small_spans / "EWR"), 2)[:5]  # the next month begins
    events += list(replay.timed(feb, JAN_2013[1] + 3_600_000, JAN_2013[1] + 7_200_000, "event_time"))
    assert replay.produce(broker, topic, events, 3) == len(source) + 5
    region_dir = tmp_path / "EWR"
    lander, consumer = _start(cfg, broker, region_dir, 3, clock=lambda: 0.0)
    jan = spans.span_of(JAN_2013[0], "monthly")
    _drive(lander, consumer, topic, 3, lambda: 0.0, lambda: jan in lander.sealed)
    folder = files.span_dir(str(region_dir), jan)
    header, rows = _rows(folder)
    columns = list(cfg.features.all) + [cfg.features.label]
    assert header == columns
    assert rows == sorted(tuple(r[c] for c in columns) for r in source)  # row for row, as the CSV had them
    manifest = json.load(open(os.path.join(folder, files.MANIFEST)))
    assert (
        manifest["sealed"]
        and manifest["rows"] == len(source)
        and os.path.exists(os.path.join(folder, "_SUCCESS"))
    )
    for name, entry in manifest["files"].items():
        assert files.sha256(os.path.join(folder, name)) == entry["sha256"]
    # February has begun, not ended: landed but not sealed, so not arrived
    from pipelines.preflight import PreflightError, available_spans, span_files

    assert available_spans(str(region_dir), cfg.data.span_pattern) == [jan]
    with pytest.raises(PreflightError, match="still being landed from Kafka"):
        span_files(str(region_dir), cfg.data.span_pattern, jan + 1)
    consumer.close()


def test_a_quiet_topic_seals_its_last_span_on_the_timer(broker, small_spans, tmp_path):
    cfg = _cfg(allowed_lateness_s=30, idle_partition_s=5)
    topic = cfg.kafka.topic("EWR")
    kafka.create_topic(broker, topic, 2)
    rows = replay.span_rows(str(small_spans / "EWR"), 1)[:50]
    end = JAN_2013[1]
    replay.produce(
        broker, topic, replay.timed(rows, end - 10_000, end, "event_time"), 2
    )  # the last 10 s of January
    now = [1000.0]
    lander, consumer = _start(cfg, broker, tmp_path / "EWR", 2, clock=lambda: now[0])
    jan = spans.span_of(JAN_2013[0], "monthly")
    _drive(lander, consumer, topic, 2, lambda: now[0], lambda: lander.counts["records"] == 50)
    assert jan not in lander.sealed
    # no more traffic: the watermark moves with the wall clock once every partition is idle
    # the last event is 0.2 s before January's end: it seals 30 s (lateness) + 0.2 s after it arrived
    for t in (1004.0, 1020.0, 1030.0):
        now[0] = t
        lander.tick(t)
        assert jan not in lander.sealed, t
    now[0] = 1030.5
    lander.tick(1030.5)
    assert jan in lander.sealed
    consumer.close()


def test_late_records_are_quarantined_and_the_sealed_span_is_untouched(broker, small_spans, tmp_path):
    cfg = _cfg()
    topic = cfg.kafka.topic("EWR")
    kafka.create_topic(broker, topic, 1)
    rows = replay.span_rows(str(small_spans / "EWR"), 1)
    first = list(replay.timed(rows[:100], *JAN_2013, "event_time"))
    first += list(
        replay.timed(rows[100:110], JAN_2013[1] + 86_400_000, JAN_2013[1] + 90_000_000, "event_time")
    )
    replay.produce(broker, topic, first, 1)
    region_dir = tmp_path / "EWR"
    lander, consumer = _start(cfg, broker, region_dir, 1, clock=lambda: 0.0)
    jan = spans.span_of(JAN_2013[0], "monthly")
    _drive(lander, consumer, topic, 1, lambda: 0.0, lambda: jan in lander.sealed)
    folder = files.span_dir(str(region_dir), jan)
    before = {n: open(os.path.join(folder, n), "rb").read() for n in os.listdir(folder)}
    replay.produce(
        broker, topic, replay.timed(rows[200:207], *JAN_2013, "event_time"), 1
    )  # January, after its seal
    _drive(lander, consumer, topic, 1, lambda: 0.0, lambda: lander.counts["late"] == 7)
    lander.checkpoint(0.0)
    assert {n: open(os.path.join(folder, n), "rb").read() for n in os.listdir(folder)} == before
    late_header, late_rows = _rows(files.span_dir(str(region_dir), jan, late=True))
    assert len(late_rows) == 7
    from pipelines.preflight import available_spans

    assert available_spans(str(region_dir), cfg.data.span_pattern) == [jan]  # _late/ is not a span
    consumer.close()


def test_a_poison_record_goes_to_the_dead_letter_topic_and_the_rest_lands(broker, small_spans, tmp_path):
    from confluent_kafka import Consumer, Producer

    cfg = _cfg()
    topic = cfg.kafka.topic("EWR")
    kafka.create_topic(broker, topic, 1)
    kafka.create_topic(broker, cfg.kafka.dlq("EWR"), 1)
    rows = replay.span_rows(str(small_spans / "EWR"), 1)[:20]
    p = Producer(kafka.producer_settings(broker))
    p.produce(topic, b"{not json", partition=0)
    p.produce(topic, json.dumps({"carrier": "UA"}).encode(), partition=0)
    p.produce(
        topic,
        json.dumps(dict(rows[0], event_time="2013-01-02T00:00:00Z")).encode(),
        partition=0,
        headers=[("driftgate-schema-version", b"7")],
    )
    p.flush(10)
    replay.produce(broker, topic, replay.timed(rows, *JAN_2013, "event_time"), 1)
    lander, consumer = _start(cfg, broker, tmp_path / "EWR", 1, clock=lambda: 0.0)
    _drive(lander, consumer, topic, 1, lambda: 0.0, lambda: lander.counts["records"] == 20)
    lander.checkpoint(0.0)
    assert lander.counts["dead_letters"] == 3
    dlq = Consumer(kafka.local(broker, **{"group.id": "t", "auto.offset.reset": "earliest"}))
    from confluent_kafka import TopicPartition

    dlq.assign([TopicPartition(cfg.kafka.dlq("EWR"), 0, 0)])
    got = []
    for _ in range(50):
        got += [m for m in dlq.consume(10, timeout=0.2) if m.error() is None]
        if len(got) >= 3:
            break
    errors = [dict(m.headers())["driftgate-error"].decode() for m in got]
    assert errors[0].startswith("not JSON") and errors[1].startswith("missing column(s) dest")
    assert "schema is v1" in errors[2]
    assert dict(got[0].headers())["driftgate-source"] == f"{topic}/0/0".encode()
    assert json.load(open(tmp_path / "EWR" / files.CHECKPOINT))["next"] == {"0": 23}
    dlq.close()
    consumer.close()


def test_the_lander_metrics_are_what_a_scrape_of_its_endpoint_reads(broker, small_spans, tmp_path):
    import socket
    import urllib.request

    from streaming import metrics

    cfg = _cfg()
    topic = cfg.kafka.topic("EWR")
    kafka.create_topic(broker, topic, 1)
    rows = replay.span_rows(str(small_spans / "EWR"), 1)[:30]
    replay.produce(broker, topic, replay.timed(rows, *JAN_2013, "event_time"), 1)
    lander, consumer = _start(cfg, broker, tmp_path / "EWR", 1, clock=lambda: 0.0)
    _drive(lander, consumer, topic, 1, lambda: 0.0, lambda: lander.counts["records"] == 30)
    lander.checkpoint(0.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metrics.serve(lander, port, addr="127.0.0.1")
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    got = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels == {"region": "EWR"}
    }
    assert got["driftgate_land_records_total"] == 30 and got["driftgate_land_files_total"] == 1
    assert got["driftgate_land_buffered_records"] == 0 and got["driftgate_land_dead_letters_total"] == 0
    assert got["driftgate_land_watermark_seconds"] == pytest.approx(lander.watermark.value / 1000)
    assert got["driftgate_land_checkpoint_duration_seconds"] > 0
    consumer.close()


def _apache_only(kafka_engine, why):
    from driftgate.local.kafka import APACHE

    if kafka_engine[1] != APACHE:
        pytest.skip(f"{why}: needs Apache Kafka")


def test_consumer_lag_is_the_brokers_high_watermark_minus_the_committed_offset(
    broker, kafka_engine, small_spans, tmp_path
):
    """The lander's lag gauge against what Kafka's admin API reads back:
    ListOffsets (latest) minus ListConsumerGroupOffsets of the lander's group."""
    import socket
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    from driftgate.local.kafka import committed, high_watermarks
    from streaming import metrics

    _apache_only(kafka_engine, "Tansu reports a wrong high watermark (1 after a 50-record batch)")
    cfg = _cfg()
    topic = cfg.kafka.topic("EWR")
    kafka.create_topic(broker, topic, 2)
    rows = replay.span_rows(str(small_spans / "EWR"), 1)
    replay.produce(broker, topic, replay.timed(rows[:40], *JAN_2013, "event_time"), 2)
    lander, consumer = _start(cfg, broker, tmp_path / "EWR", 2, clock=lambda: 0.0)
    _drive(lander, consumer, topic, 2, lambda: 0.0, lambda: lander.counts["records"] == 40)
    lander.checkpoint(0.0)  # the commit point; then the offsets go to Kafka
    replay.produce(broker, topic, replay.timed(rows[40:55], *JAN_2013, "event_time"), 2)  # not read yet
    group = cfg.kafka.group("EWR")
    for _ in range(100):
        consumer.poll(0.05)  # serves the asynchronous commit's reply
        if committed(broker, group, topic) == lander.next:
            break
    assert committed(broker, group, topic) == lander.next == {0: 20, 1: 20}
    lander.lag = kafka.consumer_lag(consumer, topic, lander.next, [0, 1])  # what the loop does
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metrics.serve(lander, port, addr="127.0.0.1")
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    lag = {
        int(x.labels["partition"]): x.value
        for f in text_string_to_metric_families(text)
        for x in f.samples
        if x.name == "driftgate_land_consumer_lag_records"
    }
    high, done = high_watermarks(broker, topic), committed(broker, group, topic)
    assert lag == {p: high[p] - done[p] for p in (0, 1)}
    assert sum(lag.values()) == 15 and high == {0: 28, 1: 27}
    consumer.close()


def test_a_second_lander_for_the_region_refuses_naming_the_holder(broker, small_spans, tmp_path):
    """Two landers for one region: the second exits 5 (busy) with one line naming
    the first (the lease under ``<data>/<REGION>/_land/``); the first lands on."""
    import signal
    import time

    from tests.streaming.landed import lander, region_yaml

    topic = "driftgate.EWR.two"
    kafka.create_topic(broker, topic, 2)
    rows = replay.span_rows(str(small_spans / "EWR"), 1)
    replay.produce(broker, topic, replay.timed(rows, *JAN_2013, "event_time"), 2)
    config_dir, data_dir = str(tmp_path / "regions"), str(tmp_path / "data")
    region_yaml(config_dir, broker, topic)
    first = lander(config_dir, data_dir, idle=60)
    lease = tmp_path / "data" / "EWR" / "_land" / "lease.json"
    for _ in range(200):
        if lease.exists():
            break
        time.sleep(0.1)
    second = lander(config_dir, data_dir)
    _, err = second.communicate(timeout=60)
    lines = [x for x in err.decode().splitlines() if x.strip()]
    assert second.returncode == 5, err.decode()
    assert len(lines) == 1 and f"pid {first.pid}" in lines[0] and "retry when it is done" in lines[0], lines
    first.send_signal(signal.SIGTERM)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err.decode()[-2000:]
    assert json.loads(out)["counts"]["records"] == len(rows)


def test_records_deleted_before_they_were_landed_are_counted_and_named(
    broker, kafka_engine, small_spans, tmp_path
):
    """Kafka's retention (here DeleteRecords, the same log-start move) removes
    records past the checkpoint while the lander is down: the restarted lander
    says so and counts them, instead of landing on as if nothing was missed."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import AdminClient

    _apache_only(kafka_engine, "Tansu crashes a broker thread on DeleteRecords")
    cfg = _cfg()
    topic = cfg.kafka.topic("EWR")
    kafka.create_topic(broker, topic, 1)
    rows = replay.span_rows(str(small_spans / "EWR"), 1)
    replay.produce(broker, topic, replay.timed(rows[:10], *JAN_2013, "event_time"), 1)
    lander, consumer = _start(cfg, broker, tmp_path / "EWR", 1, clock=lambda: 0.0)
    _drive(lander, consumer, topic, 1, lambda: 0.0, lambda: lander.counts["records"] == 10)
    lander.checkpoint(0.0)
    consumer.close()
    replay.produce(broker, topic, replay.timed(rows[10:30], *JAN_2013, "event_time"), 1)
    admin = AdminClient(kafka.local(broker))
    for f in admin.delete_records([TopicPartition(topic, 0, 16)]).values():
        f.result(15)  # offsets 10-15 gone before the lander comes back
    said = []
    lander, consumer = _start(cfg, broker, tmp_path / "EWR", 1, clock=lambda: 0.0)
    lander.progress = said.append
    _drive(lander, consumer, topic, 1, lambda: 0.0, lambda: lander.consumed.get(0) == 30)
    assert lander.counts["skipped_offsets"] == 6
    assert any("resumes at offset 16, not at the checkpointed 10" in s for s in said), said
    consumer.close()
