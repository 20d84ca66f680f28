"""The production path of a Kafka-sourced region on this machine: records on
the session's Kafka cluster (three Apache Kafka brokers, or Tansu where no
Java: tests/conftest.py kafka_engine) -> ``driftgate land`` straight into
``gs://`` on fake-gcs-server (tests/conftest.py gcs) -> ``driftgate run`` on
the sealed spans read from the bucket, root in the bucket too; beside it the
same records landed into a local folder and run on a local root. Both decide
the same on the same rows, split and metrics; the month still open (March)
is not taken from either.

What it does not prove: Cloud Storage itself (the emulator answers its JSON
API), a pod's workload identity (the lander's manifests mount no key: the
client library finds the pod's identity; tests/streaming/test_manifests.py),
and a Kubeflow task on these spans (the task's ingest uses the same span
discovery, tests/streaming/test_land_bucket.py)."""

import json
import os
import subprocess
import sys
import uuid

import pytest

from driftgate.core import storage
from streaming import files, kafka, replay, spans
from tests.streaming.landed import lander

pytestmark = pytest.mark.e2e

JAN, FEB, MAR = 516, 517, 518  # months since January 1970
VARYING = {"run_id", "duration_s", "component_seconds", "files", "serving_dir"}


def _region_yaml(folder, bootstrap, topic):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "EWR.yaml"), "w") as fh:
        fh.write(
            "region: EWR\nschema: {version: 1}\ndata: {source: kafka}\n"
            f"kafka: {{bootstrap: '{bootstrap}', topic_template: {topic}, dlq_template: {topic}.dlq}}\n"
            "land: {span: monthly, checkpoint_s: 0.3, allowed_lateness_s: 60, idle_partition_s: 2}\n"
            "trainer: {train_steps: 60, eval_steps: 4, batch_size: 32}\n"
            "evaluation: {min_auc: 0.5, min_accuracy: 0.5}\n"
            "quality: {min_rows: 50}\n"
        )


def _run(config_dir, span, data, root):
    cli = subprocess.run(
        [sys.executable, "-m", "driftgate", "run", "--region", "EWR", "--span", str(span)]
        + ["--config-dir", config_dir, "--data", data, "--root", root, "--json"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert cli.returncode == 0, cli.stderr[-3000:]
    return json.loads(cli.stdout)


@pytest.fixture(scope="module")
def landed_runs(broker, gcs, small_spans, tmp_path_factory):
    base = tmp_path_factory.mktemp("land-bucket")
    topic = f"driftgate.EWR.bucketpath-{uuid.uuid4().hex[:6]}"
    kafka.create_topic(broker, topic, 2)
    kafka.create_topic(broker, topic + ".dlq", 1)
    events = []
    for span, month in ((1, JAN), (2, FEB)):
        rows = replay.span_rows(str(small_spans / "EWR"), span)
        events += list(replay.timed(rows, *spans.bounds(month, "monthly"), "event_time"))
    start = spans.bounds(MAR, "monthly")[0]
    events += list(replay.timed(rows[:4], start + 86_400_000, start + 90_000_000, "event_time"))
    replay.produce(broker, topic, events, 2)
    config_dir = str(base / "regions")
    _region_yaml(config_dir, broker, topic)
    bucket_data, local_data = f"{gcs}/path-{uuid.uuid4().hex[:8]}/data", str(base / "data")
    for data in (bucket_data, local_data):
        proc = lander(config_dir, data)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
    bucket_root, local_root = bucket_data.replace("/data", "/runs"), str(base / "runs")
    return {
        "bucket_data": bucket_data,
        "local_data": local_data,
        "bucket": [_run(config_dir, s, bucket_data, bucket_root) for s in (JAN, FEB)],
        "local": [_run(config_dir, s, local_data, local_root) for s in (JAN, FEB)],
        "events": events,
    }


def test_the_bucket_holds_the_sealed_spans_and_the_open_month(landed_runs):
    region = storage.join(landed_runs["bucket_data"], "EWR")
    listing = files.Listing(region)
    assert [s for s, f in listing.spans() if listing.sealed(f)] == [JAN, FEB]
    assert [s for s, _ in listing.spans()] == [JAN, FEB, MAR]
    rows = sum(
        files.read_json(storage.join(region, f"span-{s}", files.MANIFEST))["rows"] for s in (JAN, FEB, MAR)
    )
    assert rows == len(landed_runs["events"])


def test_runs_on_bucket_spans_decide_as_on_a_local_folder(landed_runs):
    bucket, local = landed_runs["bucket"], landed_runs["local"]
    assert [r["span"] for r in bucket] == [JAN, FEB]
    assert bucket[0]["decision"] == "retrain" and bucket[0]["pushed_version"] == 1
    for a, b in zip(bucket, local, strict=True):
        assert {k: v for k, v in a.items() if k not in VARYING} == {
            k: v for k, v in b.items() if k not in VARYING
        }
    assert [r["rows"] for r in bucket] == [400, 400]  # every landed record of each month, read from the bucket
