"""A region end to end on a ``gs://`` root, fast executors, against
fake-gcs-server on loopback (``driftgate.local.gcs``).

Spans 1 and 2 of EWR run with the root and the spans in the bucket: TFX's
artifacts, the pushed SavedModel, ML Metadata (a local copy written back),
the region state, results, reports and release configs are objects there.
TensorFlow's own ``gs://`` file system reaches the server through
``driftgate.local.gcs_gateway`` (it has its endpoints built in); the driftgate
code, through the Cloud Storage client library and ``STORAGE_EMULATOR_HOST``
(the ``gcs`` fixture of tests/conftest.py sets up both). The same spans on a
local root (span 1 in process, span 2 by ``driftgate run``) decide the same,
with the same metrics.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from components.artifacts import GateReport
from driftgate.core import storage
from serving import release
from tests.e2e.test_region_pipeline import _small_config

pytestmark = pytest.mark.e2e

VARYING = {"run_id", "duration_s", "component_seconds", "files", "serving_dir"}


def _cli_run(span: int, root: str, data: str) -> dict:
    cli = subprocess.run(
        [sys.executable, "-m", "driftgate", "run", "--region", "EWR", "--span", str(span)]
        + ["--data", data, "--root", root, "--json"],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ),
    )
    assert cli.returncode == 0, cli.stderr[-3000:]
    return json.loads(cli.stdout)


def _same(result: dict) -> dict:
    """A run's result without what differs by root or time (ids, durations, paths)."""
    return {k: v for k, v in result.items() if k not in VARYING}


@pytest.fixture(scope="module")
def runs(gcs, small_spans, tmp_path_factory):
    """EWR spans 1 and 2 on ``<bucket>/e2e/runs`` with the spans in the bucket, then on a local root."""
    from pipelines.local_runner import run_region

    data = f"{gcs}/e2e/data"
    for path in sorted(small_spans.rglob("*.csv")):
        storage.write_atomic(f"{data}/{path.relative_to(small_spans)}", path.read_bytes())
    root, local_root = f"{gcs}/e2e/runs", tmp_path_factory.mktemp("local") / "runs"
    cwd_before = sorted(os.listdir("."))
    quiet = dict(progress=lambda _: None)
    return {
        "root": root,
        "bucket": [
            run_region(_small_config(), root=root, data=data, span=1, **quiet).to_json_dict(),
            _cli_run(2, root, data),
        ],
        "local": [
            run_region(
                _small_config(), root=str(local_root), data=str(small_spans), span=1, **quiet
            ).to_json_dict(),
            _cli_run(2, str(local_root), str(small_spans)),
        ],
        "cwd": (cwd_before, sorted(os.listdir("."))),
    }


def test_both_spans_decide_as_on_a_local_root(runs):
    first, second = runs["bucket"]
    assert first["decision"] == "retrain" and first["blessed"] is True and first["pushed_version"] == 1
    assert second["span"] == 2 and second["decision"] in ("skip", "retrain", "block")
    assert [_same(r) for r in runs["bucket"]] == [_same(r) for r in runs["local"]]
    assert first["files"]["result"] == f"{runs['root']}/EWR/results/span-1.json"


def test_results_state_and_served_model_are_objects_in_the_bucket(runs):
    root = runs["root"]
    for span, result in enumerate(runs["bucket"], start=1):
        saved = json.loads(storage.read_text(f"{root}/EWR/results/span-{span}.json"))
        assert saved["decision"] == result["decision"] and saved["run_id"] == result["run_id"]
        assert storage.exists(f"{root}/EWR/reports/span-{span}.html")
        assert storage.exists(f"{root}/EWR/state/statistics/span-{span}.pb")
    history = json.loads(storage.read_text(f"{root}/EWR/state/history.json"))
    assert history and "driftgate_span_decision" in storage.read_text(f"{root}/metrics/driftgate_ewr.prom")
    serving = f"{root}/serving/EWR"
    assert storage.exists(f"{serving}/flights_late/1/saved_model.pb")  # pushed through tf.io.gfile
    assert storage.listdir(f"{serving}/flights_late") == ["1"]
    (model,) = release.parse_config(
        storage.read_text(f"{serving}/{release.CONFIG_FILE}")
    ).model_config_list.config
    assert model.base_path == f"{serving}/flights_late" and dict(model.version_labels) == {"stable": 1}
    assert json.loads(storage.read_text(f"{root}/EWR/run.lease"))["released"] is True
    assert storage.listdir(f"{root}/EWR/pipeline")  # TFX's artifacts


def test_ml_metadata_is_written_back_to_the_bucket_not_left_beside_the_process(runs, tmp_path):
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    before, after = runs["cwd"]
    assert before == after  # no folder named "gs:" in the working directory
    local = tmp_path / "metadata.sqlite"
    local.write_bytes(storage.read_bytes(f"{runs['root']}/EWR/metadata.sqlite"))
    conn = metadata_store_pb2.ConnectionConfig()
    conn.sqlite.filename_uri = str(local)
    store = metadata_store.MetadataStore(conn)
    reports = store.get_artifacts_by_type(GateReport.TYPE_NAME)
    assert sorted(int(a.custom_properties["span"].int_value) for a in reports) == [1, 2]
    assert all(a.uri.startswith(f"{runs['root']}/EWR/pipeline/") for a in reports)
    assert not Path("gs:").exists()
