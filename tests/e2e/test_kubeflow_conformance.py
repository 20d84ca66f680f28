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
- EWR, months arriving one a run, with a spec compiled (``compile_region``,
  as ``driftgate compile`` does) from the committed EWR config with alerts on,
  a real Pushgateway on loopback and the roots on local folders; the alert
  secrets reach the recorder tasks only through the spec's kubernetes platform
  section (a mounted Secret), the PagerDuty receiver fails every request:
  - run 1, January: ``retrain``; version 1 is pushed and labelled stable.
  - run 2, February: ``retrain``; version 2 is pushed as canary.
  - run 3, March: ``canary_judge`` judges version 2 on March's rows before the
    gate, and promotes or rolls it back with no CLI command; then March trains.
  - run 4, March with text in a numeric column: the judge holds (blocking
    anomalies), the gate blocks, serving is unchanged.
  Every run's result JSON and report land under the region root; metrics
  reach the Pushgateway; alerts reach the receivers, and the failing one
  leaves every run green with a warning in its result.
- JFK runs its committed spec: span 1 trains and pushes version 1.
Each run records its real span number in the region's state.

Not proven here: Argo, Kubernetes (a Secret volume is a folder the harness
fills), the image (its ``python`` is this
interpreter, its environment the Dockerfile's ``ENV`` lines), artifact
upload between pods (``gs://`` URIs are rewritten to local folders, which TFX's
gfile writes as it writes buckets), the MLMD server and the API server.
"""

import json
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from driftgate.core.config import load_region_config
from pipelines.kubeflow_runner import read_spec
from tests.e2e.helpers import corrupt_numeric, tree_digest
from tests.pipelines.kfp_backend import FAILED, OMITTED, SKIPPED, SUCCEEDED, SpecRun, dockerfile_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "kubeflow" / "pipelines"
TRAINING = {"serving_baseline", "trainer", "evaluator", "pusher", "release_recorder", "run_recorder_retrain"}
INGEST = {
    "example_gen",
    "schema_importer",
    "statistics_gen",
    "example_validator",
    "canary_judge",
    "span_gate",
}


def _write_month(frame, origin: str, month: int, dst: Path) -> None:
    from pipelines import datasets

    rows = frame[(frame.origin == origin) & (frame.month == month)]
    dst.parent.mkdir(parents=True, exist_ok=True)
    rows[list(datasets.FLIGHTS_COLUMNS)].to_csv(dst, index=False)


class Cluster:
    """Local folders standing in for the buckets of one region's config."""

    def __init__(self, base: Path, region: str, workers: int = 2, spec: Path = None, env=(), secrets=()):
        self.region = region
        self.workers = workers
        self.config = load_region_config(region)
        self.spec = spec or SPECS / f"{region}.yaml"
        self.env = dict(dockerfile_env(ROOT / "kubeflow" / "Dockerfile"), **dict(env))
        self.secrets = dict(secrets)
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
        spec_path = self.spec

        root = read_spec(spec_path.read_text())[0]["defaultPipelineRoot"]
        for old, new in rewrite.items():
            root = root.replace(old, new)
        run = SpecRun(
            spec_path,
            pipeline_root=root,
            run_id=f"run-{self.n}",
            work_dir=self.work / f"run-{self.n}",
            rewrite=rewrite,
            env=self.env,
            secrets=self.secrets,
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
def receivers():
    """A Slack webhook that accepts and a PagerDuty endpoint that fails (HTTP 500)."""
    got = {"slack": [], "pagerduty": []}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            channel = "slack" if self.path.startswith("/slack") else "pagerduty"
            got[channel].append(body)
            self.send_response(200 if channel == "slack" else 500)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", got
    server.shutdown()


@pytest.fixture(scope="module")
def ewr(tmp_path_factory, flights_frame, receivers, pushgateway):
    import dataclasses

    from pipelines.kubeflow_runner import compile_region

    url, got = receivers
    base = tmp_path_factory.mktemp("kfp-ewr")
    cfg = load_region_config("EWR")
    # until_calibrated: fixed (the gate before history calibration): February's
    # weather then retrains at the fixed thresholds, so the four runs walk the
    # whole release path (stable, canary, promotion, a held canary) in a
    # region with one month of history; the default (hold) would skip it
    calibration = dataclasses.replace(cfg.drift.calibration, until_calibrated="fixed")
    cfg = dataclasses.replace(
        cfg,
        alerts=dataclasses.replace(cfg.alerts, enabled=True, retries=0, cooldown_minutes=0),
        kubeflow=dataclasses.replace(cfg.kubeflow, pushgateway=pushgateway),
        drift=dataclasses.replace(cfg.drift, calibration=calibration),
    )
    spec = Path(compile_region(cfg, str(base / "spec")))
    c = Cluster(
        base,
        "EWR",
        spec=spec,
        env={"DRIFTGATE_PAGERDUTY_URL": f"{url}/pagerduty"},
        secrets={
            cfg.kubeflow.alerts_secret: {
                "slack-webhook-url": f"{url}/slack/hook",
                "pagerduty-routing-key": "routing-key-from-the-secret",
            }
        },
    )
    out = {"cluster": c, "runs": [], "history": [], "release": [], "metrics": [], "got": got}
    for span, month in ((1, 1), (2, 2), (3, 3), (4, None)):
        dst = c.data / "EWR" / f"span-{span}" / "data.csv"
        if month:
            _write_month(flights_frame, "EWR", month, dst)
        else:
            corrupt_numeric(c.data / "EWR" / "span-3" / "data.csv", dst, "distance")
        if span == 4:
            out["serving_before_4"] = tree_digest(c.serving)
        out["runs"].append(c.run())
        out["history"].append(c.history())
        release = c.serving / "release.json"
        out["release"].append(json.loads(release.read_text()) if release.exists() else None)
        out["metrics"].append(
            urllib.request.urlopen(f"http://{pushgateway}/metrics", timeout=5).read().decode()
        )
        if _failed(out["runs"][-1]):
            break  # the runs after a failed one would only repeat the failure
    out["serving_after_4"] = tree_digest(c.serving)
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
    """JFK's committed spec, span 1. (LGA's committed spec differs from JFK's
    only in the region's constants, which tests/pipelines/test_kubeflow.py
    checks; running it too would add four minutes to every ``make test``.)"""
    c = Cluster(tmp_path_factory.mktemp("kfp-jfk"), "JFK")
    _write_month(flights_frame, "JFK", 1, c.data / "JFK" / "span-1" / "data.csv")
    return {"JFK": (c, c.run())}


def _result_json(ewr, span: int) -> dict:
    return json.loads((ewr["cluster"].runs / "EWR" / "results" / f"span-{span}.json").read_text())


def test_first_run_trains_and_pushes_version_1_through_every_task(ewr):
    first = _run(ewr, 0)
    assert {n for n, r in first.items() if r.state == SUCCEEDED} == INGEST | TRAINING, _failures(first)
    assert first["run_recorder"].state == SKIPPED  # the other branch's recorder
    assert first["example_gen"].metadata("examples")["span"] == 1
    gate = first["span_gate"].metadata("report")
    assert gate["decision"] == "retrain" and gate["span"] == 1
    assert first["canary_judge"].metadata("verdict")["verdict"] == "none"
    assert first["pusher"].metadata("pushed_model")["pushed"] == 1
    serving = ewr["cluster"].serving
    assert (serving / "flights_late" / "1" / "saved_model.pb").is_file()
    assert ewr["release"][0]["stable"] == 1
    assert [h["span"] for h in ewr["history"][0]] == [1]


def test_outputs_land_under_the_pipeline_root_from_the_spec(ewr):
    c = ewr["cluster"]
    uri = _run(ewr, 0)["example_gen"].outputs["examples"].uri
    assert uri.startswith(str(c.runs / "EWR" / "pipeline" / "driftgate-ewr" / "run-1" / "example_gen"))
    assert list(Path(uri).glob("Split-train/*.gz"))


def test_the_next_month_is_pushed_as_canary(ewr):
    second = _run(ewr, 1)
    assert {n for n, r in second.items() if r.state == SUCCEEDED} == INGEST | TRAINING, _failures(second)
    assert second["example_gen"].metadata("examples")["span"] == 2
    assert second["release_recorder"].metadata("release")["label"] == "canary"
    assert (ewr["release"][1]["stable"], ewr["release"][1]["canary"]) == (1, 2)


def test_the_third_run_judges_the_canary_before_the_gate_with_no_cli_command(ewr):
    third = _run(ewr, 2)
    assert {n for n, r in third.items() if r.state == SUCCEEDED} == INGEST | TRAINING, _failures(third)
    verdict = third["canary_judge"].metadata("verdict")
    assert verdict["verdict"] in ("promote", "rollback") and verdict["canary_version"] == 2
    event = [
        h for h in ewr["release"][2]["history"] if h["version"] == 2 and h["action"] == verdict["verdict"]
    ]
    assert event and event[0]["reason"].startswith("canary analysis on span 3")
    assert ewr["release"][2]["stable"] == (2 if verdict["verdict"] == "promote" else 1)
    assert ewr["release"][2]["canary"] == 3  # March's model, pushed after the judgement
    record = ewr["cluster"].serving / "canary-v2-span-3.json"
    assert json.loads(record.read_text())["verdict"] == verdict["verdict"]
    assert _result_json(ewr, 3)["canary"]["verdict"] == verdict["verdict"]


def test_a_corrupted_span_holds_the_canary_is_blocked_and_serving_stays_byte_for_byte(ewr):
    fourth = _run(ewr, 3)
    recorded = INGEST | {"run_recorder"}
    assert {n for n, r in fourth.items() if r.state == SUCCEEDED} == recorded, _failures(fourth)
    assert fourth["span_gate"].metadata("report")["decision"] == "block"
    assert fourth["canary_judge"].metadata("verdict")["verdict"] == "pending"
    assert "blocking data anomalies" in " ".join(_result_json(ewr, 4)["canary"]["reasons"])
    assert [h["span"] for h in ewr["history"][3]] == [1, 2, 3, 4]
    assert ewr["serving_after_4"] == ewr["serving_before_4"]


def test_every_run_leaves_its_result_report_and_metrics_from_pipeline_nodes(ewr):
    from prometheus_client.parser import text_string_to_metric_families

    root = ewr["cluster"].runs / "EWR"
    decisions = []
    for span in (1, 2, 3, 4):
        result = _result_json(ewr, span)
        decisions.append(result["decision"])
        assert (root / "reports" / f"span-{span}.html").is_file()
        assert result["files"]["report"] == str(root / "reports" / f"span-{span}.html")
        assert not [w for w in result["warnings"] if not w.startswith("alerts:")], result["warnings"]
    assert decisions == ["retrain", "retrain", "retrain", "block"]
    for i, text in enumerate(ewr["metrics"]):
        samples = {
            (s.name, s.labels.get("decision")): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.labels.get("region") == "EWR"
        }
        assert samples[("driftgate_span_number", None)] == i + 1
        assert samples[("driftgate_span_decision", decisions[i])] == 1
    # each run's id is KFP's (read from where the backend writes outputs), in its result and history;
    # the ingest task took the region's lease under it and the recorder task gave it back
    assert [_result_json(ewr, span)["run_id"] for span in (1, 2, 3, 4)] == [
        "run-1",
        "run-2",
        "run-3",
        "run-4",
    ]
    assert [h["run_id"] for h in ewr["history"][3]] == ["run-1", "run-2", "run-3", "run-4"]
    held = json.loads((root / "run.lease").read_text())
    assert held["holder"]["run"] == "run-4" and held["released"] is True
    # the record is also the recorder task's output artifact (KFP lists it on the run page)
    record = Path(_run(ewr, 3)["run_recorder"].outputs["record"].uri)
    assert json.loads((record / "result.json").read_text())["decision"] == "block"
    assert (record / "report.html").read_text().lower().startswith("<!doctype html>")


def test_alerts_reach_the_receivers_and_a_failing_one_leaves_the_runs_green_with_a_warning(ewr):
    got = ewr["got"]
    assert got["pagerduty"], "the blocked span raises a critical alert for PagerDuty"
    assert all(body["routing_key"] == "routing-key-from-the-secret" for body in got["pagerduty"])
    slack_sent = 0
    for span in (1, 2, 3, 4):
        result = _result_json(ewr, span)
        outcomes = [a["outcome"] for a in result["alerts"]]
        slack_sent += outcomes.count("sent to slack")
        failed = [o for o in outcomes if o.startswith("failed")]
        assert bool(failed) == any(w.startswith("alerts:") for w in result["warnings"]), (span, result)
    assert slack_sent == len(got["slack"])  # what the results say was sent, arrived
    fourth = _result_json(ewr, 4)
    assert any("pagerduty" in w for w in fourth["warnings"])
    assert all(r.state in (SUCCEEDED, SKIPPED, OMITTED) for run in ewr["runs"] for r in run.values())


@pytest.mark.parametrize("region", ["JFK"])
def test_span_1_trains_and_pushes_in_another_region_from_its_committed_spec(region, other_regions):
    c, results = other_regions[region]
    assert {n for n, r in results.items() if r.state == SUCCEEDED} == INGEST | TRAINING, _failures(results)
    assert results["run_recorder"].state == SKIPPED
    assert results["span_gate"].metadata("report")["decision"] == "retrain"
    assert (c.serving / "flights_late" / "1" / "saved_model.pb").is_file()
    assert [h["span"] for h in c.history()] == [1]
