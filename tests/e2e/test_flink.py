"""TFX's Beam components on a real Apache Flink session cluster on loopback:
one JobManager and two TaskManagers (one slot each) started from Flink's own
runtime jars (``driftgate.local.flink``, module-scoped).

- The cluster runs work across both TaskManagers: a small Flink job
  (``engines/flink/SmokeJob.java``, a keyed sum: a shuffle between them),
  compiled with javac and submitted through the REST API at parallelism 2,
  FINISHED, each subtask on a TaskManager, both TaskManagers used.
- A region whose ``beam_args`` name ``--runner=FlinkRunner`` with that master
  (LOOPBACK: the Python SDK harness in the ``driftgate run`` process) runs the
  stock ExampleGen, StatisticsGen and Evaluator as Flink jobs through
  ``driftgate run``; the same span with the in-process (fast) executors gives
  the same examples in each split row for row, the same statistics (within the
  quantile sketch's error), and, on the Flink run's model, the same Evaluator
  metrics (1e-6) and blessing; Flink's REST API lists the run's jobs FINISHED
  at parallelism 2. Needs Beam's Flink job-server jar
  (``driftgate.local.flink_jars``): skipped, saying why, without it.

What it does not prove: Flink on Kubernetes (the Flink Kubernetes Operator,
TaskManagers on other hosts reading and writing a bucket rather than local
files), the SDK harness in a container (``DOCKER``, or the pipeline image as a
worker-pool sidecar with ``EXTERNAL``), Flink's recovery from a lost
TaskManager, and Dataflow.
"""

import io
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path

import pytest

from driftgate.local import engines, flink

pytestmark = pytest.mark.e2e
REGION = "EWR"
SMOKE = engines.ENGINES_SRC / "flink" / "SmokeJob.java"
DONE = ("FINISHED", "FAILED", "CANCELED")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    why = flink.runtime_missing(engines.cache_dir())
    if why:
        pytest.skip(f"no Flink cluster can start here: {why}")
    c = flink.FlinkCluster(taskmanagers=2, directory=tmp_path_factory.mktemp("flink"))
    try:
        yield c.start(timeout_s=180)
    finally:
        c.stop()


# -- the cluster itself ---------------------------------------------------------


def _smoke_jar(tmp_path: Path) -> Path:
    import shutil

    javac = shutil.which("javac")
    if javac is None:
        pytest.skip("no javac to compile engines/flink/SmokeJob.java")
    classes = tmp_path / "classes"
    lib = flink.home(engines.cache_dir()) / "lib"
    subprocess.run([javac, "-nowarn", "-d", str(classes), "-cp", f"{lib}/*", str(SMOKE)], check=True)
    jar = tmp_path / "smoke.jar"
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: SmokeJob\n\n")
        for f in sorted(classes.glob("*.class")):
            z.write(f, f.name)
    return jar


def _post(c, path: str, body: bytes, content_type: str) -> dict:
    req = urllib.request.Request(c.rest_url + path, data=body, headers={"Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def _submit(c, jar: Path, parallelism: int, *args: str) -> str:
    """``POST /jars/upload`` (multipart) then ``POST /jars/<id>/run``: the job's id."""
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    body.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="jarfile"; filename="{jar.name}"\r\n'.encode()
    )
    body.write(b"Content-Type: application/x-java-archive\r\n\r\n" + jar.read_bytes() + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    up = _post(c, "/jars/upload", body.getvalue(), f"multipart/form-data; boundary={boundary}")
    jar_id = os.path.basename(up["filename"])
    run = {"entryClass": "SmokeJob", "parallelism": parallelism, "programArgsList": list(args)}
    return _post(c, f"/jars/{jar_id}/run", json.dumps(run).encode(), "application/json")["jobid"]


def _wait(c, jid: str, timeout_s: float = 180.0) -> dict:
    deadline = time.time() + timeout_s
    while True:
        job = c.job(jid)
        if job["state"] in DONE or time.time() > deadline:
            return job
        time.sleep(0.5)


def test_the_session_cluster_runs_a_job_on_both_taskmanagers(cluster, tmp_path):
    jid = _submit(cluster, _smoke_jar(tmp_path), 2, "200000")
    job = _wait(cluster, jid)
    assert job["state"] == "FINISHED", job
    assert [v["parallelism"] for v in job["vertices"]] == [2] * len(job["vertices"]) and job["vertices"]
    used = set()
    for v in job["vertices"]:
        subtasks = cluster.get(f"/jobs/{jid}/vertices/{v['id']}")["subtasks"]
        assert [s["status"] for s in subtasks] == ["FINISHED", "FINISHED"], v["name"]
        used |= {s["taskmanager-id"] for s in subtasks}
    assert used == {"taskmanager-1", "taskmanager-2"}
    listed = {j["jid"]: j for j in cluster.jobs()}
    assert listed[jid]["state"] == "FINISHED" and listed[jid]["name"] == "driftgate-smoke"


# -- a region's Beam components on the cluster ------------------------------------

ROWS = 2000


def _region_dir(top: Path, name: str, extra: str) -> Path:
    folder = top / name
    folder.mkdir()
    (folder / f"{REGION}.yaml").write_text(
        textwrap.dedent(
            """\
            region: EWR
            schema: {version: 1}
            trainer: {train_steps: 60, eval_steps: 4, batch_size: 32}
            evaluation: {min_auc: 0.5, min_accuracy: 0.5, min_auc_improvement: -1.0}
            """
        )
        + extra
    )
    return folder


def drive(data: Path, regions: Path, root: Path) -> dict:
    """``driftgate run`` of span 1 in its own process, as an operator starts it."""
    cmd = [sys.executable, "-m", "driftgate", "run", "--region", REGION, "--span", "1"]
    cmd += ["--root", str(root), "--data", str(data), "--config-dir", str(regions), "-o", "json"]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=1500)
    assert res.returncode == 0, res.stderr[-4000:]
    return json.loads(res.stdout)


def outputs(regions: Path, root: Path, run_id: str) -> dict:
    """{node id: {output key: TFX artifact}} of the run, from the region's ML Metadata."""
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2
    from tfx.types import artifact_utils

    from components.monitor.result import _node_outputs
    from driftgate.core.config import load_region_config
    from pipelines.local_runner import region_layout

    conn = metadata_store_pb2.ConnectionConfig()
    conn.sqlite.filename_uri = region_layout(load_region_config(REGION, regions), str(root)).metadata_path
    store = metadata_store.MetadataStore(conn)
    found, _ = _node_outputs(store, run_id)
    types = {t.id: t for t in store.get_artifact_types()}
    return {
        node: {key: artifact_utils.deserialize_artifact(types[a.type_id], a) for key, a in by_key.items()}
        for node, by_key in found.items()
    }


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory, flights_frame):
    """Span 1 (EWR, January, ROWS rows) with the fast executors, then on Flink."""
    why = flink.job_server_missing(engines.cache_dir())
    if why:
        pytest.skip(f"Beam cannot submit to Flink here: {why}")
    on_flink = "beam_args:\n" + "".join(f"  - {a}\n" for a in cluster.beam_args(parallelism=2))
    return both_ways(tmp_path_factory.mktemp("region"), flights_frame, on_flink)


def both_ways(top: Path, flights_frame, other: str) -> dict:
    """The span run by ``driftgate run`` with the fast executors ("fast") and with
    the region YAML lines ``other`` ("flink"): each run's result, artifacts, config."""
    from driftgate.app import datasets

    sample = flights_frame[(flights_frame.origin == REGION) & (flights_frame.month == 1)].sample(
        ROWS, random_state=3
    )
    datasets.write_spans(sample, "origin", "month", str(top / "data"), columns=datasets.FLIGHTS_COLUMNS)
    out = {}
    for name, extra in (("fast", "executors: fast\n"), ("flink", other)):
        regions, root = _region_dir(top, f"regions-{name}", extra), top / f"root-{name}"
        started = time.time() * 1000
        result = drive(top / "data", regions, root)
        out[name] = dict(
            result=result,
            artifacts=outputs(regions, root, result["run_id"]),
            started=started,
            regions=regions,
        )
    return out


def _records(examples, split):
    import tensorflow as tf

    from components.ingest.records import serialized_examples

    return sorted(
        tf.train.Example.FromString(r).SerializeToString(deterministic=True)
        for r in serialized_examples(examples, (split,))
    )


def test_examples_are_the_same_rows_in_the_same_splits(runs):
    fast, on_flink = (runs[n]["artifacts"]["example_gen"]["examples"] for n in ("fast", "flink"))
    sizes = []
    for split in ("train", "eval"):
        got, want = _records(on_flink, split), _records(fast, split)
        assert got == want, split
        sizes.append(len(got))
    assert sum(sizes) == ROWS and min(sizes) > 0


def _ties_aside(stats):
    """A copy with each top-values list in (frequency desc, value) order, the
    values tied at its last frequency blanked: how ties are broken (and which
    of them a full list keeps) is the sketch's choice, not the data's."""
    out = type(stats)()
    out.CopyFrom(stats)
    for f in out.datasets[0].features:
        if f.HasField("string_stats") and f.string_stats.top_values:
            top = sorted(
                ((v.frequency, v.value) for v in f.string_stats.top_values), key=lambda t: (-t[0], t[1])
            )
            del f.string_stats.top_values[:]
            for freq, value in top:
                f.string_stats.top_values.add(value="(tied)" if freq == top[-1][0] else value, frequency=freq)
    return out


def test_statistics_are_the_same_within_the_sketch_error(runs):
    import tensorflow_data_validation as tfdv

    from tests.components.ingest.test_fast_vs_stock import _assert_same_statistics

    fast, on_flink = (runs[n]["artifacts"]["statistics_gen"]["statistics"] for n in ("fast", "flink"))
    for split in ("train", "eval"):
        got, want = (
            tfdv.load_stats_binary(f"{s.uri}/Split-{split}/FeatureStats.pb") for s in (on_flink, fast)
        )
        _assert_same_statistics(_ties_aside(got), _ties_aside(want), split)


def test_the_evaluator_on_flink_computes_the_in_process_metrics_and_blessing(runs, tmp_path):
    """The two runs train on the same rows in another order (the model differs
    slightly), so the metrics are compared on the Flink run's own model: its
    Evaluator's output against the in-process Evaluator on the same examples."""
    from tfx.utils import proto_utils

    from components.evaluator.executor import FastExecutor
    from driftgate.core.config import load_region_config
    from pipelines.pipeline import eval_config
    from tests.components.evaluator.test_fast import _read, _run

    art = runs["flink"]["artifacts"]
    config = proto_utils.proto_to_json(eval_config(load_region_config(REGION, runs["flink"]["regions"])))
    evaluation, blessing = art["evaluator"]["evaluation"], art["evaluator"]["blessing"]
    assert evaluation.get_string_custom_property("evaluated_by") != "in process"
    baseline = art["serving_baseline"]["model"]  # none serves yet: dropped by both executors
    here, here_blessing = _run(
        FastExecutor, art["example_gen"]["examples"], art["trainer"]["model"], baseline, tmp_path, config
    )
    (fm, _, fv), (sm, _, sv) = _read(here), _read(evaluation)
    assert set(fm) == set(sm) and len(sm) >= 5
    for key, value in sm.items():
        assert fm[key] == pytest.approx(value, abs=1e-6), key
    assert fv.validation_ok == sv.validation_ok
    assert here_blessing.get_int_custom_property("blessed") == blessing.get_int_custom_property("blessed")
    fast, on_flink = runs["fast"]["result"], runs["flink"]["result"]
    assert fast["decision"] == on_flink["decision"] == "retrain"
    assert fast["blessed"] is on_flink["blessed"] is True
    assert fast["rows"] == on_flink["rows"] == ROWS


def test_flink_ran_the_beam_components_at_parallelism_2(runs, cluster):
    """ExampleGen, StatisticsGen and the Evaluator: one Flink job each (at least)."""
    mine = [j for j in cluster.jobs() if j["start-time"] >= runs["flink"]["started"]]
    assert len(mine) >= 3, mine
    for j in mine:
        job = cluster.job(j["jid"])
        assert job["state"] == "FINISHED", (j["name"], job["state"])
        assert max(v["parallelism"] for v in job["vertices"]) == 2, j["name"]
    assert runs["flink"]["result"]["component_seconds"]
