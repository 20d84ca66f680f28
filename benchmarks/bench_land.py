"""``driftgate land`` throughput on Apache Kafka (three KRaft nodes, replication
factor 3) and on Tansu (one node, memory storage) side by side, each beside its
floor: the same records consumed and dropped by the same client in the same run;
and into each store (``--stores disk,bucket``: a local folder, and ``gs://`` on
fake-gcs-server on loopback, a Go process beside the lander's one Python core).

N flights-shaped JSON records (EWR rows, 16 columns) over 3 partitions and
three daily spans, then one record of a later day so the three seal. Times:
consume only (the floor); the lander (decode, buffer, checkpoint files and
manifests, seal); per checkpoint the commit latency (files + manifests +
checkpoint.json written); the seal delay (the watermark passing a span's end
to its _SUCCESS).

    .venv/bin/python benchmarks/bench_land.py [--records 200000] [-o json]
"""

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DAY = 86_400_000
START = 15_706 * DAY


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("-o", dest="fmt", choices=["table", "json"], default="table")
    ap.add_argument(
        "--stores", default="disk,bucket", help="where it lands: disk, bucket (gs:// on fake-gcs-server)"
    )
    ap.add_argument(
        "--engines",
        default="apache-kafka,tansu",
        help="brokers measured side by side (apache-kafka: 3 nodes)",
    )
    args = ap.parse_args(argv)

    from driftgate.app import datasets
    from driftgate.core.config import load_region_config
    from streaming import replay

    cfg = load_region_config("EWR")
    work = tempfile.mkdtemp(prefix="driftgate-bench-land-")
    datasets.prepare_flights(os.path.join(work, "data"), months=[1])
    rows = replay.span_rows(os.path.join(work, "data", "EWR"), 1)
    many = [rows[i % len(rows)] for i in range(args.records)]
    events = list(replay.timed(many, START, START + 3 * DAY, "event_time"))
    events += list(replay.timed(rows[:3], START + 5 * DAY, START + 5 * DAY + 10, "event_time"))
    stores = args.stores.split(",")
    results = [r for engine in args.engines.split(",") for r in measure(engine, cfg, work, events, stores)]
    if args.fmt == "json":
        print(json.dumps(results, indent=1))
        return 0
    for out in results:
        print(f"-- {out['engine']}, into {out['store']}")
        print(f"records                        {out['records']:,}")
        print(f"consume only (floor)           {out['floor_records_per_s']:,} records/s")
        print(
            f"driftgate land                 {out['land_records_per_s']:,} records/s "
            f"({out['land_to_floor']}x the floor's time)"
        )
        print(
            f"checkpoints                    {out['checkpoints']} (commit median {out['commit_ms_median']} ms, "
            f"max {out['commit_ms_max']} ms)"
        )
        print(f"seal delay (watermark passed -> _SUCCESS)  max {out['seal_delay_ms_max']} ms")
    return 0


def measure(engine, cfg, work, events, stores) -> list:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from driftgate.local.kafka import broker
    from streaming import kafka, replay

    work = os.path.join(work, engine)
    with broker(engine) as bootstrap:
        topic = "driftgate.EWR.bench"
        kafka.create_topic(bootstrap, topic, 3)
        kafka.create_topic(bootstrap, topic + ".dlq", 1)
        print(f"producing {len(events):,} records ...", file=sys.stderr)
        replay.produce(bootstrap, topic, events, 3)

        def consumer():
            c = Consumer(
                {
                    "log_level": 2,
                    "bootstrap.servers": bootstrap,
                    "group.id": f"bench-{time.time()}",
                    "enable.auto.commit": False,
                }
            )
            c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(3)])
            return c

        c = consumer()
        t0, n = time.perf_counter(), 0
        while n < len(events):
            n += sum(1 for m in c.consume(2000, timeout=1.0) if m.error() is None)
        floor_s = time.perf_counter() - t0
        c.close()

        return [
            land(engine, store, cfg, work, consumer, bootstrap, topic, events, floor_s) for store in stores
        ]


@contextlib.contextmanager
def landing_root(store, work):
    """A local folder, or ``gs://`` on a fake-gcs-server started for the run."""
    if store != "bucket":
        yield os.path.join(work, "landed")
        return
    from driftgate.core import storage
    from driftgate.local import gcs

    server = gcs.Server(buckets=["driftgate-bench"]).start()
    os.environ.update(server.env())
    storage._client = None
    try:
        yield "gs://driftgate-bench/landed"
    finally:
        server.stop()


def land(engine, store, cfg, work, consumer, bootstrap, topic, events, floor_s) -> dict:
    from confluent_kafka import Producer

    from driftgate.core import storage
    from streaming import kafka, lander

    cfg = dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, source="kafka"),
        kafka=dataclasses.replace(cfg.kafka, topic_template=topic, dlq_template=topic + ".dlq"),
        land=dataclasses.replace(cfg.land, checkpoint_s=1.0, checkpoint_records=100_000),
    )
    with landing_root(store, work) as data:
        c = consumer()
        land = lander.Lander(cfg, storage.join(data, "EWR"), c, Producer(kafka.producer_settings(bootstrap)))
        commits, seals = [], []
        checkpoint, seal = land.checkpoint, land.seal

        def timed_checkpoint(now):
            t = time.perf_counter()
            checkpoint(now)
            commits.append(time.perf_counter() - t)

        def timed_seal(span, mark):
            seal(span, mark)
            seals.append(time.perf_counter() - crossed[0])

        crossed = [0.0]
        land.checkpoint, land.seal = timed_checkpoint, timed_seal
        t0 = time.perf_counter()
        while land.counts["records"] < len(events) or len(seals) < 3:
            now = time.time()
            for m in c.consume(2000, timeout=1.0):
                if m.error() is None:
                    land.handle(m, now)
            crossed[0] = time.perf_counter()
            land.tick(now)
        land_s = time.perf_counter() - t0
        c.close()

    return {
        "engine": engine,
        "store": store,
        "records": len(events),
        "floor_records_per_s": round(len(events) / floor_s),
        "land_records_per_s": round(len(events) / land_s),
        "land_to_floor": round(land_s / floor_s, 2),
        "checkpoints": len(commits),
        "commit_ms_median": round(sorted(commits)[len(commits) // 2] * 1000, 1),
        "commit_ms_max": round(max(commits) * 1000, 1),
        "seal_delay_ms_max": round(max(seals) * 1000, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
