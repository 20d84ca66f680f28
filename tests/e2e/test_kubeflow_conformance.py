"""The committed Kubeflow specs (``kubeflow/pipelines/<REGION>.yaml``) run, task
by task, the way the open-source KFP v2 backend runs them.

``tests/pipelines/kfp_backend.py`` builds each task's ExecutorInput as the
backend's driver does (constants from the spec, upstream artifacts with their
recorded metadata and *no* type schema, output URIs under the pipeline root),
evaluates ``triggerPolicy`` conditions with a real CEL implementation, runs the
container's exact command and args (TFX's executor entrypoint as wrapped by
``pipelines.kubeflow_entrypoint``) in a separate process, reads back the
ExecutorOutput and merges its metadata. Lifecycle hooks are not run: the
backend never runs them. The pipeline root is the spec's
``defaultPipelineRoot``: what ``driftgate kfp run`` / ``schedule`` pass.

Scenarios, on real flights data:
- EWR run 1: only span 1 is there: ``retrain``; all ten tasks succeed; version 1
  is pushed and labelled stable; the Examples artifact carries span 1.
- EWR run 2: spans 2 (span 1's rows again) and 3 (text in a numeric column)
  arrived together: the run takes span 2 (the oldest unprocessed), says
  ``skip``, and the five training tasks are not triggered.
- EWR run 3: takes span 3, ``block``; nothing trains, serving is unchanged.
- JFK and LGA run 1, side by side: span 1 trains and pushes version 1.
Each run records its real span number in the region's state.

Not proven here: Argo, Kubernetes, the image (its ``python`` is this
interpreter, its environment the Dockerfile's ``ENV`` lines), artifact
upload between pods (``gs://`` URIs are rewritten to local folders, which TFX's
gfile writes as it writes buckets), the MLMD server and the API server.
"""

import json
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from driftgate.core.config import load_region_config
from pipelines.kubeflow_runner import read_spec
from tests.e2e.helpers import corrupt_numeric, tree_digest
from tests.pipelines.kfp_backend import FAILED, OMITTED, SKIPPED, SUCCEEDED, SpecRun, dockerfile_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "kubeflow" / "pipelines"
TRAINING = {"serving_baseline", "trainer", "evaluator", "pusher", "release_recorder"}
INGEST = {"example_gen", "schema_importer", "statistics_gen", "example_validator", "span_gate"}


def _write_month(frame, origin: str, month: int, dst: Path) -> None:
    from pipelines import datasets

    rows = frame[(frame.origin == origin) & (frame.month == month)]
    dst.parent.mkdir(parents=True, exist_ok=True)
    rows[list(datasets.FLIGHTS_COLUMNS)].to_csv(dst, index=False)


class Cluster:
    """Local folders standing in for the buckets of one region's config."""

    def __init__(self, base: Path, region: str, workers: int = 2):
        self.region = region
        self.workers = workers
        self.config = load_region_config(region)
        self.data = base / "bucket-data"
        self.runs = base / "bucket-runs"
        self.work = base / "pods"
        self.n = 0
        self.log = []

    def run(self):
        self.n += 1
        kf = self.config.kubeflow
        rewrite = {
            kf.root.rstrip("/"): str(self.runs),
            kf.data_root.rstrip("/"): str(self.data),
            f"{kf.project_dir.rstrip('/')}/schemas/": f"{ROOT}/schemas/",
        }
        spec_path = SPECS / f"{self.region}.yaml"

        root = read_spec(spec_path.read_text())[0]["defaultPipelineRoot"]
        for old, new in rewrite.items():
            root = root.replace(old, new)
        run = SpecRun(
            spec_path,
            pipeline_root=root,
            run_id=f"run-{self.n}",
            work_dir=self.work / f"run-{self.n}",
            rewrite=rewrite,
            env=dockerfile_env(ROOT / "kubeflow" / "Dockerfile"),
            workers=self.workers,
        )
        results = run.run()
        table = [f"{self.region} run {self.n}"] + run.table()
        self.log.append("\n".join(table))
        print("\n".join(table), file=sys.stderr)
        return results

    def history(self):
        path = self.runs / self.region / "state" / "history.json"
        return json.loads(path.read_text()) if path.exists() else []

    @property
    def serving(self) -> Path:
        return self.runs / "serving" / self.region


def _failures(results) -> str:
    return "\n\n".join(
        f"{r.name}: exit {r.exit_code}\n{r.log_tail}"
        for r in results.values()
        if r.state not in (SUCCEEDED, SKIPPED, OMITTED)
    )


def _failed(results) -> bool:
    return any(r.state == FAILED for r in results.values())


@pytest.fixture(scope="module")
def ewr(tmp_path_factory, flights_frame):
    c = Cluster(tmp_path_factory.mktemp("kfp-ewr"), "EWR")
    out = {"cluster": c, "runs": [], "history": []}
    _write_month(flights_frame, "EWR", 1, c.data / "EWR" / "span-1" / "data.csv")
    out["runs"].append(c.run())
    out["history"].append(c.history())
    out["serving_after_1"] = tree_digest(c.serving)
    shutil.copytree(c.data / "EWR" / "span-1", c.data / "EWR" / "span-2")
    span_1 = c.data / "EWR" / "span-1" / "data.csv"
    corrupt_numeric(span_1, c.data / "EWR" / "span-3" / "data.csv", "distance")
    for _ in range(2):
        if _failed(out["runs"][-1]):
            break  # the runs after a failed one would only repeat the failure
        out["runs"].append(c.run())
        out["history"].append(c.history())
    out["serving_after_3"] = tree_digest(c.serving)
    return out


def _run(ewr, i):
    """The i-th EWR run's task results; fails with the first failure's log if it never ran."""
    if i >= len(ewr["runs"]):
        pytest.fail(
            f"EWR run {i + 1} did not start: run {len(ewr['runs'])} failed\n{_failures(ewr['runs'][-1])}"
        )
    return ewr["runs"][i]


@pytest.fixture(scope="module")
def other_regions(tmp_path_factory, flights_frame):
    """JFK and LGA span 1, the two runs side by side (as two KFP runs would be)."""
    clusters = {}
    for region in ("JFK", "LGA"):
        c = Cluster(tmp_path_factory.mktemp(f"kfp-{region.lower()}"), region, workers=1)
        _write_month(flights_frame, region, 1, c.data / region / "span-1" / "data.csv")
        clusters[region] = c
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(clusters, pool.map(lambda c: c.run(), clusters.values()), strict=False))
    return {r: (clusters[r], results[r]) for r in clusters}


def test_first_run_trains_and_pushes_version_1_through_all_ten_tasks(ewr):
    first = _run(ewr, 0)
    assert {n for n, r in first.items() if r.state == SUCCEEDED} == INGEST | TRAINING, _failures(first)
    assert first["example_gen"].metadata("examples")["span"] == 1
    gate = first["span_gate"].metadata("report")
    assert gate["decision"] == "retrain" and gate["span"] == 1
    assert first["pusher"].metadata("pushed_model")["pushed"] == 1
    serving = ewr["cluster"].serving
    assert (serving / "flights_late" / "1" / "saved_model.pb").is_file()
    release = json.loads((serving / "release.json").read_text())
    assert release["stable"] == 1
    assert [h["span"] for h in ewr["history"][0]] == [1]


def test_outputs_land_under_the_pipeline_root_from_the_spec(ewr):
    c = ewr["cluster"]
    uri = _run(ewr, 0)["example_gen"].outputs["examples"].uri
    assert uri.startswith(str(c.runs / "EWR" / "pipeline" / "driftgate-ewr" / "run-1" / "example_gen"))
    assert list(Path(uri).glob("Split-train/*.gz"))


def test_two_new_spans_take_the_oldest_first_and_an_identical_span_skips_training(ewr):
    second = _run(ewr, 1)
    assert {n for n, r in second.items() if r.state == SUCCEEDED} == INGEST, _failures(second)
    assert {n for n, r in second.items() if r.state in (SKIPPED, OMITTED)} == TRAINING
    assert second["example_gen"].metadata("examples")["span"] == 2
    gate = second["span_gate"].metadata("report")
    assert gate["decision"] == "skip" and gate["span"] == 2
    report = json.loads((Path(second["span_gate"].outputs["report"].uri) / "gate_report.json").read_text())
    assert report["ingest"] == {"reason": "next", "pending": [3]}
    assert [(h["span"], h["decision"]) for h in ewr["history"][1]] == [(1, "retrain"), (2, "skip")]


def test_a_corrupted_span_is_blocked_and_serving_stays_byte_for_byte(ewr):
    third = _run(ewr, 2)
    assert {n for n, r in third.items() if r.state == SUCCEEDED} == INGEST, _failures(third)
    assert third["span_gate"].metadata("report")["decision"] == "block"
    assert third["example_gen"].metadata("examples")["span"] == 3
    assert [h["span"] for h in ewr["history"][2]] == [1, 2, 3]
    assert ewr["serving_after_3"] == ewr["serving_after_1"]


@pytest.mark.parametrize("region", ["JFK", "LGA"])
def test_span_1_trains_and_pushes_in_every_other_region(region, other_regions):
    c, results = other_regions[region]
    assert all(r.state == SUCCEEDED for r in results.values()), _failures(results)
    assert results["span_gate"].metadata("report")["decision"] == "retrain"
    assert (c.serving / "flights_late" / "1" / "saved_model.pb").is_file()
    assert [h["span"] for h in c.history()] == [1]
