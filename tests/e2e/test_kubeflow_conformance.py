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
  - run 5, started as from the UI's run form with ``span="1"``,
    ``retrain="force"`` and a ``note``: January is ingested again (reason
    ``requested``) and retrained ("retraining forced"), the note in its result
    and report.
  After a retrain run the recorder's outputs pass the UI's rules for an HTML
  card, a Markdown card, a scalar-metrics table and a ROC curve + confusion
  matrix (``tests/pipelines/kfp_ui.py``); after the blocked run, the first
  three. Every run is green by both backend rules (exit task and DAG).
  Every run's result JSON and report land under the region root; metrics
  reach the Pushgateway; alerts reach the receivers, and the failing one
  leaves every run green with a warning in its result.
(JFK's committed spec runs in ``test_kubeflow_failures.py``.)
Each run records its real span number in the region's state.

The tasks run from the pipeline image's install (the ``image_install`` fixture,
``tests/pipelines/image.py``): the Dockerfile's ``COPY`` set staged as its
``WORKDIR`` and installed with its ``RUN`` line's pip arguments into a separate
site, which every task process imports the project's packages from (the venv's
editable install of the checkout hidden); the schemas the specs name under the
WORKDIR are read from that staged copy. So a package, module or schema the
image does not hold fails a task here.

Not proven here: Argo, Kubernetes (a Secret volume is a folder the harness
fills), the base image ``tensorflow/tfx:1.16.0`` (its OS, Python and TFX stack:
``python`` is this interpreter with the venv's packages, the environment the
Dockerfile's ``ENV`` lines; Docker itself never runs), the pod's working
directory (the image's WORKDIR, where ``python -m`` would find the copied
sources first; here the task's folder, so the installed package is used), artifact
upload between pods (``gs://`` URIs are rewritten to local folders, which TFX's
gfile writes as it writes buckets), the MLMD server and the API server.
"""

import json
import os
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from driftgate.core.config import load_region_config
from tests.e2e.helpers import corrupt_numeric, tree_digest
from tests.e2e.kfp_cluster import INGEST, RUN, TRAINING, Cluster, failed, failures, write_month
from tests.pipelines import kfp_ui
from tests.pipelines.kfp_backend import OMITTED, SKIPPED, SUCCEEDED

pytestmark = pytest.mark.e2e

BACKFILL_NOTE = "backfill of January after the upstream outage (ticket OPS-42)"


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
def ewr(tmp_path_factory, flights_frame, receivers, pushgateway, image_install):
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
        image_install,
        spec=spec,
        env={"DRIFTGATE_PAGERDUTY_URL": f"{url}/pagerduty"},
        secrets={
            cfg.kubeflow.alerts_secret: {
                "slack-webhook-url": f"{url}/slack/hook",
                "pagerduty-routing-key": "routing-key-from-the-secret",
            }
        },
    )
    out = {
        "cluster": c,
        "runs": [],
        "history": [],
        "release": [],
        "metrics": [],
        "got": got,
        "states": [],
        "results": [],
    }
    for span, month in ((1, 1), (2, 2), (3, 3), (4, None), (1, "backfill")):
        dst = c.data / "EWR" / f"span-{span}" / "data.csv"
        parameters = None
        if month == "backfill":  # from the UI's run form: span 1 again, retrain forced, with a note
            parameters = {"span": "1", "retrain": "force", "note": BACKFILL_NOTE}
        elif month:
            write_month(flights_frame, "EWR", month, dst)
        else:
            corrupt_numeric(c.data / "EWR" / "span-3" / "data.csv", dst, "distance")
        if span == 4:
            out["serving_before_4"] = tree_digest(c.serving)
        out["runs"].append(c.run(parameters))
        out["states"].append(c.last.state)
        result_file = c.runs / "EWR" / "results" / f"span-{span}.json"  # run 5 rewrites span 1's
        out["results"].append(json.loads(result_file.read_text()) if result_file.exists() else None)
        out["history"].append(c.history())
        release = c.serving / "release.json"
        out["release"].append(json.loads(release.read_text()) if release.exists() else None)
        out["metrics"].append(
            urllib.request.urlopen(f"http://{pushgateway}/metrics", timeout=5).read().decode()
        )
        if span == 4:
            out["serving_after_4"] = tree_digest(c.serving)
        if failed(out["runs"][-1]):
            break  # the runs after a failed one would only repeat the failure
    return out


def _run(ewr, i):
    """The i-th EWR run's task results; fails with the first failure's log if it never ran."""
    if i >= len(ewr["runs"]):
        pytest.fail(
            f"EWR run {i + 1} did not start: run {len(ewr['runs'])} failed\n{failures(ewr['runs'][-1])}"
        )
    return ewr["runs"][i]


def _result_json(ewr, span: int) -> dict:
    """The result JSON of EWR run ``span`` (runs 1-4 take spans 1-4) as it was after that run."""
    _run(ewr, span - 1)
    return ewr["results"][span - 1]


def test_first_run_trains_and_pushes_version_1_through_every_task(ewr):
    first = _run(ewr, 0)
    assert {n for n, r in first.items() if r.state == SUCCEEDED} == INGEST | TRAINING | RUN, failures(first)
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
    assert {n for n, r in second.items() if r.state == SUCCEEDED} == INGEST | TRAINING | RUN, failures(second)
    assert second["example_gen"].metadata("examples")["span"] == 2
    assert second["release_recorder"].metadata("release")["label"] == "canary"
    assert (ewr["release"][1]["stable"], ewr["release"][1]["canary"]) == (1, 2)


def test_the_third_run_judges_the_canary_before_the_gate_with_no_cli_command(ewr):
    third = _run(ewr, 2)
    assert {n for n, r in third.items() if r.state == SUCCEEDED} == INGEST | TRAINING | RUN, failures(third)
    verdict = third["canary_judge"].metadata("verdict")
    assert verdict["canary_version"] == 2
    record = json.loads((ewr["cluster"].serving / "canary-v2-span-3.json").read_text())
    # judged on span 3's labelled rows inside the pipeline: a promote, a rollback, or
    # (the two models this close) an inconclusive interval that waits for the next span
    assert record["judgement"]["rows"] >= 200 and len(record["judgement"]["auc_diff"]) == 3
    if verdict["verdict"] == "pending":
        assert "inconclusive" in " ".join(record["reasons"]), record["reasons"]
    else:
        assert verdict["verdict"] in ("promote", "rollback"), verdict
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
    recorded = INGEST | {"run_recorder"} | RUN
    assert {n for n, r in fourth.items() if r.state == SUCCEEDED} == recorded, failures(fourth)
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
    for i, text in enumerate(ewr["metrics"][:4]):
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
    assert held["holder"]["run"] == f"run-{len(ewr['runs'])}" and held["released"] is True
    # the record is also the recorder task's output artifact (KFP lists it on the run page)
    record = Path(_run(ewr, 3)["run_recorder"].outputs["record"].uri)
    assert json.loads((record / "result.json").read_text())["decision"] == "block"
    assert (record / "report.html").read_text().lower().startswith("<!doctype html>")


def test_alerts_reach_the_receivers_and_a_failing_one_leaves_the_runs_green_with_a_warning(ewr):
    got = ewr["got"]
    assert got["pagerduty"], "the blocked span raises a critical alert for PagerDuty"
    assert all(body["routing_key"] == "routing-key-from-the-secret" for body in got["pagerduty"])
    slack_sent = 0
    for result in ewr["results"]:
        outcomes = [a["outcome"] for a in result["alerts"]]
        slack_sent += outcomes.count("sent to slack")
        failing = [o for o in outcomes if o.startswith("failed")]
        assert bool(failing) == any(w.startswith("alerts:") for w in result["warnings"]), (
            result["span"],
            result,
        )
    assert len(ewr["results"]) == 5
    assert slack_sent == len(got["slack"])  # what the results say was sent, arrived
    fourth = _result_json(ewr, 4)
    assert any("pagerduty" in w for w in fourth["warnings"])
    assert all(r.state in (SUCCEEDED, SKIPPED, OMITTED) for run in ewr["runs"] for r in run.values())


def test_every_run_succeeds_by_both_backend_rules(ewr):
    """The run's state as the UI shows it: before 2.4 it follows the exit task,
    from 2.4 on the DAG; a run with no failed task is green by either."""
    assert len(ewr["states"]) == 5 and set(ewr["states"]) == {SUCCEEDED}
    for run in ewr["runs"]:
        assert run["run_finalizer"].state == SUCCEEDED and run["tfx-dag"].state == SUCCEEDED


def test_a_backfill_from_the_run_form_reingests_span_1_forces_a_retrain_and_keeps_the_note(ewr):
    fifth = _run(ewr, 4)
    assert {n for n, r in fifth.items() if r.state == SUCCEEDED} == INGEST | TRAINING | RUN, failures(fifth)
    assert fifth["example_gen"].metadata("examples")["span"] == 1  # after span 4, span 1 again
    gate = fifth["span_gate"].metadata("report")
    assert gate["ingest_reason"] == "requested" and gate["decision"] == "retrain"
    result = ewr["results"][4]
    assert result["span"] == 1 and result["run_id"] == "run-5"
    assert any("retraining forced" in r for r in result["reasons"]), result["reasons"]
    assert result["note"] == BACKFILL_NOTE
    report = ewr["cluster"].runs / "EWR" / "reports" / "span-1.html"
    assert BACKFILL_NOTE in report.read_text()
    assert [h["span"] for h in ewr["history"][4]] == [1, 2, 3, 4]  # span 1's record replaced, not added
    assert all(h["completed"] for h in ewr["history"][4])


def _cards(task):
    cards = kfp_ui.visualizations(task)
    assert not cards["dropped"], cards["dropped"]
    assert not kfp_ui.bool_metadata(task)  # TFX's entrypoint would have failed the task
    return cards


def test_after_a_retrain_run_the_ui_shows_report_summary_metrics_roc_and_confusion_matrix(ewr):
    recorder = _run(ewr, 2)["run_recorder_retrain"]
    cards = _cards(recorder)
    (html,) = cards[kfp_ui.HTML]
    assert html["text"].lower().startswith("<!doctype html>") and os.path.isfile(html["uri"])
    assert html["display_name"].startswith("EWR span 3: retrain")
    (md,) = cards[kfp_ui.MARKDOWN]
    assert "EWR span 3: retrain" in md["text"] and "drift vs" in md["text"] and "canary" in md["text"]
    (metrics,) = cards[kfp_ui.METRICS]
    assert metrics["rows"]["span"] == 3.0 and 0.5 < metrics["rows"]["candidate auc"] < 1.0
    (quality,) = cards[kfp_ui.CLASSIFICATION]
    rows = quality["confusion"]["rows"]
    assert sum(sum(r["row"]) for r in rows) == ewr["results"][2]["metrics"]["example_count"]
    assert 10 <= len(quality["roc"]) <= 100
    fprs = [p["falsePositiveRate"] for p in quality["roc"]]
    assert fprs == sorted(fprs, reverse=True)  # thresholds ascending: the curve runs from (1, 1) down


def test_after_a_blocked_run_the_ui_shows_report_summary_and_metrics(ewr):
    cards = _cards(_run(ewr, 3)["run_recorder"])
    assert [len(cards[k]) for k in (kfp_ui.HTML, kfp_ui.MARKDOWN, kfp_ui.METRICS, kfp_ui.CLASSIFICATION)] == [
        1,
        1,
        1,
        0,
    ]
    assert cards[kfp_ui.METRICS][0]["rows"]["decision (0 skip, 1 retrain, 2 block)"] == 2.0
    assert "EWR span 4: block" in cards[kfp_ui.MARKDOWN][0]["text"]
    finalizer = _cards(_run(ewr, 3)["run_finalizer"])
    assert "completed" in finalizer[kfp_ui.MARKDOWN][0]["text"]
