"""Landed spans through the real pipeline: EWR January and February (400 rows
each) replayed onto a topic of the session's broker (a three-node Apache Kafka
cluster, tests/conftest.py: kafka_engine), landed
by the lander, then ``driftgate run``'s pipeline (LocalDagRunner) on the
landed spans beside the same pipeline on the CSV originals. The split, the
drift scores and the gate's decision must be the same; the unsealed March
span must not be taken. ``driftgate stream`` on the same records, against
January's statistics as StatisticsGen wrote them, summarises February as
StatisticsGen summarised the landed February: the same counts, the same
scores within the quantile sketch's error.

The production path, from the same topic: ``driftgate land`` (the command, in
a subprocess) straight into ``gs://`` on fake-gcs-server (tests/conftest.py
gcs), then ``driftgate run`` on the sealed months read from the bucket, root
in the bucket too: the same rows, split, metrics and decisions as from the
local folder. The committed EWR Kubeflow spec then runs January from that
bucket (``kubeflow.data_root`` pointed at it) through the emulated open-source
KFP backend, tasks from the pipeline image's install (tests/e2e/kfp_cluster.py
says what that does not prove). Not proven: Cloud Storage itself (the
emulator answers its JSON API) and a pod's workload identity."""

import dataclasses

import pytest

from driftgate.core.config import load_region_config
from pipelines.local_runner import run_region
from streaming import kafka, replay, spans
from streaming.lander import Lander

pytestmark = pytest.mark.e2e

JAN, FEB, MAR = 516, 517, 518  # months since January 1970


def _fast(cfg):
    return dataclasses.replace(
        cfg,
        trainer=dataclasses.replace(cfg.trainer, train_steps=60, eval_steps=4, batch_size=32),
        evaluation=dataclasses.replace(cfg.evaluation, min_auc=0.5, min_accuracy=0.5),
        quality=dataclasses.replace(cfg.quality, min_rows=50),
    )


@pytest.fixture(scope="module")
def both(tmp_path_factory, small_spans, broker, gcs):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

    base = tmp_path_factory.mktemp("landed")
    cfg = _fast(load_region_config("EWR"))
    kcfg = dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, source="kafka"),
        land=dataclasses.replace(cfg.land, span="monthly", allowed_lateness_s=60, checkpoint_s=0.2),
        kafka=dataclasses.replace(cfg.kafka, topic_template="driftgate.EWR.landed"),
    )
    topic = kcfg.kafka.topic("EWR")
    bootstrap = broker
    kafka.create_topic(bootstrap, topic, 2)
    events = []
    for span, month in ((1, JAN), (2, FEB)):
        rows = replay.span_rows(str(small_spans / "EWR"), span)
        events += list(replay.timed(rows, *spans.bounds(month, "monthly"), "event_time"))
    start = spans.bounds(MAR, "monthly")[0]
    events += list(replay.timed(rows[:4], start + 86_400_000, start + 90_000_000, "event_time"))
    replay.produce(bootstrap, topic, events, 2)
    consumer = Consumer(kafka.local(bootstrap, **{"group.id": "g", "enable.auto.commit": False}))
    lander = Lander(
        kcfg,
        str(base / "landed" / "EWR"),
        consumer,
        Producer(kafka.producer_settings(bootstrap)),
        clock=lambda: 0.0,
    )
    starts = lander.start_offsets([0, 1])
    consumer.assign(
        [TopicPartition(topic, p, OFFSET_BEGINNING if o is None else o) for p, o in starts.items()]
    )
    for _ in range(300):
        for m in consumer.consume(2000, timeout=0.2):
            if m.error() is None:
                lander.handle(m, 0.0)
        lander.tick(0.0)
        if {JAN, FEB} <= lander.sealed:
            break
    consumer.close()
    assert {JAN, FEB} == lander.sealed
    quiet = dict(progress=lambda _: None)
    csv_runs = [
        run_region(cfg, root=str(base / "csv-runs"), data=str(small_spans), span=s, **quiet) for s in (1, 2)
    ]
    landed = [
        run_region(kcfg, root=str(base / "kafka-runs"), data=str(base / "landed"), span=s, **quiet)
        for s in (JAN, FEB)
    ]
    bucket = _bucket_path(base, broker, gcs, topic)
    return csv_runs, landed, base, kcfg, events, bucket


VARYING = {"run_id", "duration_s", "component_seconds", "files", "serving_dir"}
GCS_CLIENT_ENV = (
    "STORAGE_EMULATOR_HOST",
    "HTTPS_PROXY",
    "https_proxy",
    "CURL_CA_BUNDLE",
    "GOOGLE_AUTH_TOKEN_FOR_TESTING",
    "NO_PROXY",
    "no_proxy",
)


def _bucket_path(base, broker, gcs, topic) -> dict:
    """The same topic landed by ``driftgate land`` into the bucket, and
    ``driftgate run`` on January and February from there (a region file
    equal to the fixture's config)."""
    import json
    import subprocess
    import sys

    from tests.streaming.landed import lander

    config_dir = base / "regions"
    config_dir.mkdir()
    (config_dir / "EWR.yaml").write_text(
        "region: EWR\nschema: {version: 1}\ndata: {source: kafka}\n"
        f"kafka: {{bootstrap: '{broker}', topic_template: {topic}, dlq_template: {topic}.dlq}}\n"
        "land: {span: monthly, allowed_lateness_s: 60, checkpoint_s: 0.2, idle_partition_s: 2}\n"
        "trainer: {train_steps: 60, eval_steps: 4, batch_size: 32}\n"
        "evaluation: {min_auc: 0.5, min_accuracy: 0.5}\nquality: {min_rows: 50}\n"
    )
    data = f"{gcs}/landed-{base.name}"
    proc = lander(str(config_dir), data)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]
    runs = []
    for span in (JAN, FEB):
        cli = subprocess.run(
            [sys.executable, "-m", "driftgate", "run", "--region", "EWR", "--span", str(span)]
            + ["--config-dir", str(config_dir), "--data", data, "--root", f"{data}-runs", "--json"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert cli.returncode == 0, cli.stderr[-3000:]
        runs.append(json.loads(cli.stdout))
    return {"data": data, "runs": runs}


def test_the_unsealed_span_is_not_arrived(both):
    from pipelines.preflight import available_spans

    _, _, base, *_ = both
    assert (base / "landed" / "EWR" / f"span-{MAR}" / "_MANIFEST.json").exists()
    assert available_spans(str(base / "landed" / "EWR"), "span-{SPAN}/*.csv") == [JAN, FEB]


def test_split_drift_and_decision_equal_the_csv_originals(both):
    csv_runs, landed, *_ = both
    assert [r.span for r in landed] == [JAN, FEB]
    for a, b in zip(csv_runs, landed, strict=True):
        assert a.rows == b.rows and a.decision == b.decision
    a, b = csv_runs[1].drift.drift["previous"], landed[1].drift.drift["previous"]
    for name, feature in a.features.items():
        for test, result in feature.tests.items():
            assert b.features[name].tests[test].score == pytest.approx(result.score, abs=0.02), (name, test)


def test_the_stream_summarises_a_span_as_statisticsgen_did(both, broker):
    import glob
    import json

    import pandas as pd
    from scipy.stats import wasserstein_distance

    from components.drift.stat_tests import run_tests
    from components.drift.summaries import feature_map, summarize
    from components.state import RegionState
    from driftgate.app.stream import stream
    from streaming.streamer import span_summary_path

    _, _, base, kcfg, events, _ = both

    def rows(span):
        return pd.concat(
            pd.read_csv(f) for f in glob.glob(str(base / "landed" / "EWR" / f"span-{span}" / "*.csv"))
        )

    cfg = dataclasses.replace(
        kcfg,
        stream=dataclasses.replace(kcfg.stream, idle_partition_s=1),
        kafka=dataclasses.replace(kcfg.kafka, topic_template="driftgate.EWR.streamed"),
    )
    region_dir = str(base / "stream" / "EWR")
    bootstrap = broker
    kafka.create_topic(bootstrap, cfg.kafka.topic("EWR"), 2)
    replay.produce(bootstrap, cfg.kafka.topic("EWR"), events, 2)
    res = stream(
        cfg,
        region_dir,
        str(base / "kafka-runs"),
        bootstrap=bootstrap,
        baseline_span=JAN,
        exit_when_idle_s=4,
    )
    assert res.counts["records"] == len(events)
    with open(span_summary_path(region_dir, FEB)) as fh:
        summary = json.load(fh)
    state = RegionState(str(base / "kafka-runs" / "EWR" / "state"))
    jan, feb = state.load_statistics(JAN), state.load_statistics(FEB)
    maps = [feature_map(d) for d in feb.datasets]
    features = list(cfg.features.all)
    batch_jan, batch_feb = summarize(jan.datasets, features), summarize(feb.datasets, features)
    assert set(summary["features"]) == set(features)
    for name, got in summary["features"].items():
        fs = [m[name] for m in maps]
        common = [
            f.num_stats.common_stats if f.HasField("num_stats") else f.string_stats.common_stats for f in fs
        ]
        # a CSV's empty cell is an empty value list to TFDV: present, without a value
        assert got["present"] == sum(c.tot_num_values for c in common), name
        assert got["present"] + got["missing"] == sum(c.num_non_missing + c.num_missing for c in common), name
        if "mean" in got:  # TFDV's mean of each split's values, weighted by its values
            mean = sum(f.num_stats.mean * c.tot_num_values for f, c in zip(fs, common, strict=True))
            assert got["mean"] == pytest.approx(mean / got["present"], rel=1e-5), name
        else:
            assert got["values"] == pytest.approx(batch_feb[name].counts), name
        # categorical: the same counts, the same scores; numeric: within the sketch's
        # error (PSI relative: its log amplifies a bucket's error where a bin nearly empties)
        for test, score in run_tests(batch_jan[name], batch_feb[name]).items():
            if "values" in got:
                want = pytest.approx(score.value, abs=1e-6)  # the summary keeps 6 decimals
            elif test == "psi":
                want = pytest.approx(score.value, rel=0.2, abs=0.03)
            elif test == "wasserstein":  # the stream's is near exact (cell sums); the sketches' errs more
                a, b = rows(JAN)[name].dropna(), rows(FEB)[name].dropna()
                want = pytest.approx(wasserstein_distance(a, b) / batch_jan[name].std, rel=0.2, abs=0.02)
            else:
                want = pytest.approx(score.value, abs=0.03)
            assert got["scores"][test] == want, (name, test)


def test_landed_into_the_bucket_the_months_run_as_from_the_local_folder(both):
    from driftgate.core import storage
    from streaming import files

    _, landed, _, _, events, bucket = both
    region = storage.join(bucket["data"], "EWR")
    listing = files.Listing(region)
    assert [s for s, f in listing.spans() if listing.sealed(f)] == [JAN, FEB]
    assert [s for s, _ in listing.spans()] == [JAN, FEB, MAR]  # March: being landed, not run
    for a, b in zip(bucket["runs"], landed, strict=True):
        local = b.to_json_dict()
        assert {k: v for k, v in a.items() if k not in VARYING} == {
            k: v for k, v in local.items() if k not in VARYING
        }
    assert [r["rows"] for r in bucket["runs"]] == [400, 400] and bucket["runs"][0]["decision"] == "retrain"


def test_the_compiled_spec_runs_the_sealed_bucket_span_as_driftgate_run_did(
    both, image_install, tmp_path_factory
):
    import json
    import os

    from tests.e2e.kfp_cluster import Cluster, failed, failures

    bucket = both[-1]
    env = {k: os.environ[k] for k in GCS_CLIENT_ENV if k in os.environ}
    c = Cluster(tmp_path_factory.mktemp("kfp-bucket"), "EWR", image_install, env=env, data=bucket["data"])
    results = c.run(parameters={"span": str(JAN)})
    assert not failed(results), failures(results)
    saved = json.loads((c.runs / "EWR" / "results" / f"span-{JAN}.json").read_text())
    first = bucket["runs"][0]
    assert saved["span"] == JAN and saved["rows"] == first["rows"] == 400
    assert saved["decision"] == first["decision"] == "retrain"
