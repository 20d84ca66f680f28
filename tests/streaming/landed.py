"""Helpers of the lander's crash and fault tests: a region file for ``driftgate
land``, the command as a subprocess, records produced with their offsets, and
what landed read back record by record."""

import hashlib
import json
import os
import subprocess
import sys
from typing import Dict, Tuple

from streaming import files, kafka

Key = Tuple[int, int]  # (partition, offset)


def region_yaml(folder, bootstrap, topic, checkpoint_records=3000):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "EWR.yaml"), "w") as fh:
        fh.write(
            "region: EWR\nschema: {version: 1}\ndata: {source: kafka}\n"
            f"kafka: {{bootstrap: '{bootstrap}', topic_template: {topic}, dlq_template: {topic}.dlq}}\n"
            f"land: {{span: daily, checkpoint_s: 0.3, checkpoint_records: {checkpoint_records}, "
            "allowed_lateness_s: 5, idle_partition_s: 2}\n"
        )


def lander(config_dir, data_dir, idle=3, extra=(), env=None):
    """``driftgate land`` as a subprocess (``-o json`` on stdout)."""
    cmd = [sys.executable, "-m", "driftgate", "land", "--region", "EWR", "--config-dir", config_dir]
    cmd += ["--data", data_dir, "--exit-when-idle", str(idle), "-o", "json", *extra]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}
    )


def kill_at_random(config_dir, data_dir, rng, runs, longest_s, before_run=lambda i: None):
    """Starts ``driftgate land`` ``runs`` times, each SIGKILLed after 1 to
    ``longest_s`` seconds (start-up is ~1 s: some kills land before the first
    checkpoint); returns (kills, records checkpointed after each run)."""
    import signal
    import time

    from driftgate.core import storage

    checkpoint = storage.join(data_dir, "EWR", files.CHECKPOINT)
    kills, progress = 0, []
    for i in range(runs):
        before_run(i)
        proc = lander(config_dir, data_dir)
        time.sleep(rng.uniform(1.0, longest_s))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        done = (files.read_json(checkpoint) or {}).get("next", {})
        progress.append(sum(done.values()))
    return kills, progress


def produce(bootstrap, topic, events, partitions) -> Dict[Key, dict]:
    """Sends ``(event ms, record)`` round-robin with an idempotent ``acks=all``
    producer; returns each record by the (partition, offset) the broker gave it."""
    from confluent_kafka import Producer

    p = Producer(kafka.producer_settings(bootstrap, **{"linger.ms": 20}))
    acked: Dict[Key, dict] = {}
    failed = []

    def done(err, msg, record):
        if err is not None:
            failed.append(err)
        else:
            acked[(msg.partition(), msg.offset())] = record

    for n, (t, record) in enumerate(events):
        while True:
            try:
                p.produce(
                    topic,
                    json.dumps(record).encode(),
                    partition=n % partitions,
                    timestamp=t,
                    on_delivery=lambda err, msg, r=record: done(err, msg, r),
                )
                break
            except BufferError:  # the local queue is full: let acknowledgements drain it
                p.poll(0.1)
        if n % 5000 == 0:
            p.poll(0)
    assert p.flush(120) == 0 and not failed, failed[:3]
    return acked


def landed(region_dir, staged_ok=False) -> Dict[Key, tuple]:
    """Every landed row by (partition, offset), from the manifests and files
    of a folder or a ``gs://`` prefix; fails on a temporary or staged file
    left behind, a file not in its manifest, a wrong checksum or row count,
    or an offset in two files. ``staged_ok``: staged files (never visible to a
    reader) may remain, as a fenced lander leaves them until the live one seals."""
    from driftgate.core import storage
    from streaming.sink.format import CsvFormat

    region_dir = str(region_dir)
    listing = files.Listing(region_dir)
    assert staged_ok or not listing.pending, f"staged files left behind: {listing.pending[:5]}"
    out: Dict[Key, tuple] = {}
    for folder, names in sorted(listing.folders.items()):
        assert not [n for n in names if files.is_temporary(n)], names
        path = storage.join(region_dir, *folder.split("/"))
        manifest = json.loads(storage.read_bytes(storage.join(path, files.MANIFEST)))
        assert sorted(n for n in names if n.endswith(".csv")) == sorted(manifest["files"]), folder
        for name, entry in manifest["files"].items():
            data = storage.read_bytes(storage.join(path, name))
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
            rows = CsvFormat.decode(data)[1]
            assert len(rows) == entry["rows"], name
            offsets = [o for a, b in entry["offsets"] for o in range(a, b + 1)]
            assert len(offsets) == len(rows), name
            for off, row in zip(offsets, rows, strict=True):
                key = (entry["partition"], off)
                assert key not in out, f"offset {key} landed twice"
                out[key] = row
    return out


def assert_exactly_once(region_dir, produced: Dict[Key, dict], columns):
    """Record by record: every produced record landed once, as it was sent."""
    got = landed(region_dir)
    missing = sorted(set(produced) - set(got))
    extra = sorted(set(got) - set(produced))
    assert not missing and not extra, f"lost {missing[:5]} ({len(missing)}), unexpected {extra[:5]}"
    for key, record in produced.items():
        want = tuple("" if record.get(c) is None else str(record[c]) for c in columns)
        assert got[key] == want, (key, got[key], want)
    return len(got)
