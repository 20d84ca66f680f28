"""The real region pipeline under LocalDagRunner on a small flights sample.

One scenario, in order, on one region root:
1. span 1 retrains (nothing serves yet), is blessed by value thresholds alone
   and pushed as version 1 in the TF Serving layout; the SavedModel answers.
2. span 2 with text in a numeric column is blocked by the span gate
   (``driftgate run --json`` exits 3); the serving folder is byte-for-byte unchanged.
3. span 3 holds span 1's rows again, with identical serving logs: no drift
   against the training baseline, no skew -> ``skip``; nothing trains.
4. the next span (4, February; no span given) with ``force_retrain`` trains and
   is evaluated against version 1 as the Evaluator's baseline.
5. a run with no new span re-reads span 4, skips, and leaves the state alone.
With ``evaluation.slices: [[carrier]]``: the candidate per carrier, the
serving model's parity per carrier, its importance against its push's, the
label-free estimate beside the realised AUC and the integrity rates, in the
run's result, its report and its Kubeflow card.
"""

import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.artifacts import GateReport
from components.monitor.result import RunResult
from driftgate.core.config import load_region_config
from pipelines.local_runner import run_region
from tests.e2e.helpers import corrupt_numeric, tree_digest

pytestmark = pytest.mark.e2e

RUN_KEYS = {
    "region",
    "span",
    "rows",
    "anomalies",
    "blocked",
    "blessed",
    "pushed_version",
    "serving_dir",
    "metrics",
    "drift",
    "decision",
    "schema_version",
}


SECRETS = {  # never in a log line (driftgate.core.logs.Redact)
    "DRIFTGATE_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0E2E/B0E2E/e2e-secret-hook",
    "DRIFTGATE_PAGERDUTY_ROUTING_KEY": "e2e-secret-routing-key",
    "DRIFTGATE_PROMETHEUS_TOKEN": "e2e-secret-prometheus-token",
}
RESULT_FIELDS = {f.name for f in dataclasses.fields(RunResult)}


def _small_config():
    cfg = load_region_config("EWR")
    return dataclasses.replace(
        cfg,
        trainer=dataclasses.replace(cfg.trainer, train_steps=60, eval_steps=4, batch_size=32),
        evaluation=dataclasses.replace(
            cfg.evaluation, min_auc=0.5, min_accuracy=0.5, slices=(("carrier",),), min_slice_rows=20
        ),
    )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, small_spans):
    base = tmp_path_factory.mktemp("e2e")
    data, root = base / "data", base / "runs"
    shutil.copytree(small_spans, data)
    region = data / "EWR"
    good2 = region / "span-2" / "data.csv"
    (region / "span-4").mkdir()
    shutil.move(good2, region / "span-4" / "data.csv")
    corrupt_numeric(region / "span-4" / "data.csv", good2, "temp")
    (region / "span-3").mkdir()
    shutil.copy(region / "span-1" / "data.csv", region / "span-3" / "data.csv")
    (region / "serving-logs" / "span-3").mkdir(parents=True)
    with open(region / "span-1" / "data.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    label = rows[0].index("late")
    with open(region / "serving-logs" / "span-3" / "logs.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([[c for i, c in enumerate(r) if i != label] for r in rows])
    cfg = _small_config()

    first = run_region(cfg, root=str(root), data=str(data), span=1, progress=lambda _: None)
    serving = Path(first.serving_dir)
    before = tree_digest(serving)
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "driftgate",
            "run",
            "--region",
            "EWR",
            "--span",
            "2",
            "--data",
            str(data),
            "--root",
            str(root),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ),
    )
    after_block = tree_digest(serving)
    skipped = run_region(cfg, root=str(root), data=str(data), span=3, progress=lambda _: None)
    after_skip = tree_digest(serving)
    forced = run_region(cfg, root=str(root), data=str(data), force_retrain=True, progress=lambda _: None)
    history = (root / "EWR" / "state" / "history.json").read_text()
    # the idle run as a pod runs it: the CLI, logs as JSON, the secrets in its environment
    idle_cli = subprocess.run(
        [sys.executable, "-m", "driftgate", "--log-format", "json", "run", "--region", "EWR"]
        + ["--data", str(data), "--root", str(root), "--json"],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, **SECRETS),
    )
    assert idle_cli.returncode == 0, idle_cli.stderr[-3000:]
    idle = RunResult(**{k: v for k, v in json.loads(idle_cli.stdout).items() if k in RESULT_FIELDS})
    history_after_idle = (root / "EWR" / "state" / "history.json").read_text()
    return {
        "first": first,
        "cli": cli,
        "before": before,
        "after_block": after_block,
        "skipped": skipped,
        "after_skip": after_skip,
        "forced": forced,
        "idle": idle,
        "idle_log": idle_cli.stderr,
        "root": root,
        "history": (history, history_after_idle),
        "data": data,
        "serving": serving,
    }


def test_first_span_is_blessed_and_pushed_as_version_1(scenario):
    r = scenario["first"]
    assert r.span == 1 and r.rows == 400 and not r.blocked and r.decision == "retrain"
    assert "no model serves in this region yet" in r.reasons[0]
    assert r.schema_version == "v1"  # recorded in the gate report and ML Metadata
    assert r.baseline_version is None  # nothing served: value thresholds alone
    assert r.blessed is True and r.pushed_version == 1
    assert 0.5 <= r.metrics["auc"] <= 1.0 and r.metrics["example_count"] > 0
    assert (scenario["serving"] / "1" / "saved_model.pb").is_file()


def test_pushed_model_loads_and_answers_its_serving_signature(scenario):
    import numpy as np
    import pandas as pd
    import tensorflow as tf

    from tests.trainer.test_task import _example

    model = tf.saved_model.load(str(scenario["serving"] / "1"))
    rows = pd.read_csv(scenario["data"] / "EWR" / "span-4" / "data.csv").head(50).drop(columns=["late"])
    batch = tf.constant([_example(r) for r in rows.to_dict("records")])
    probs = model.signatures["serving_default"](examples=batch)["probabilities"].numpy()
    assert probs.shape == (50, 1) and np.all((probs >= 0) & (probs <= 1))


def test_corrupted_span_is_blocked_and_serving_untouched(scenario):
    cli = scenario["cli"]
    assert cli.returncode == 3, cli.stderr[-2000:]
    out = json.loads(cli.stdout)  # stdout holds exactly one JSON object
    assert RUN_KEYS <= set(out)
    assert out["blocked"] is True and out["decision"] == "block" and out["span"] == 2
    assert out["drift"]["decision"] == "block"
    assert out["blessed"] is None and out["pushed_version"] is None
    flagged = {a["feature"] for a in out["anomalies"] if a["blocking"]}
    assert "temp" in flagged
    assert scenario["after_block"] == scenario["before"]


def test_span_without_drift_or_skew_is_skipped(scenario):
    r = scenario["skipped"]
    assert r.span == 3 and r.decision == "skip" and not r.blocked
    assert r.blessed is None and r.pushed_version is None
    assert "trainer" not in r.component_seconds or r.component_seconds["trainer"] < 1.0
    drift = r.to_json_dict()["drift"]["drift"]
    assert drift["training"]["span"] == 1 and drift["training"]["severity"] == "none"
    assert drift["previous"]["span"] == 1  # span 2 was blocked: not a baseline
    assert drift["serving"]["severity"] == "none"
    assert set(drift["training"]["features"]) == set(_small_config().features.all)
    assert scenario["after_skip"] == scenario["before"]


def test_forced_newest_span_is_evaluated_against_the_serving_model(scenario):
    r = scenario["forced"]
    assert r.span == 4 and not r.blocked and r.decision == "retrain"
    assert any("forced" in reason for reason in r.reasons)
    assert r.baseline_version == 1
    assert r.blessed in (True, False)
    if r.blessed:
        assert r.pushed_version == 2 and (scenario["serving"] / "2" / "saved_model.pb").is_file()
        from components.state import RegionState

        state = RegionState(str(scenario["serving"].parents[2] / "EWR" / "state"))
        assert state.training_span(2) == 4 and state.training_span(1) == 1
    else:
        assert r.pushed_version is None and r.not_blessed_reasons
        assert sorted(p.name for p in scenario["serving"].iterdir()) == ["1"]


def test_schema_version_and_decision_are_recorded_in_ml_metadata(scenario):
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    conn = metadata_store_pb2.ConnectionConfig()
    conn.sqlite.filename_uri = str(scenario["serving"].parents[2] / "EWR" / "metadata.sqlite")
    store = metadata_store.MetadataStore(conn)
    reports = store.get_artifacts_by_type(GateReport.TYPE_NAME)
    assert len(reports) == 5  # one per run
    props = [
        (
            int(a.custom_properties["span"].int_value),
            a.custom_properties["decision"].string_value,
            a.custom_properties["schema_version"].string_value,
        )
        for a in reports
    ]
    assert sorted(props) == [
        (1, "retrain", "v1"),
        (2, "block", "v1"),
        (3, "skip", "v1"),
        (4, "retrain", "v1"),
        (4, "skip", "v1"),
    ]
    examples = store.get_artifacts_by_type("Examples")
    assert sorted(int(a.custom_properties["span"].int_value) for a in examples) == [1, 2, 3, 4, 4]
    assert sorted(a.properties["span"].int_value for a in examples) == [1, 2, 3, 4, 4]


def test_a_run_with_no_new_span_skips_and_leaves_the_state_alone(scenario):
    r = scenario["idle"]
    assert r.span == 4 and r.decision == "skip" and r.pushed_version is None
    assert r.reasons[0].startswith("no new span: span 4 was already processed")
    before, after = scenario["history"]
    assert before == after


def test_every_run_through_the_pipeline_is_recorded_by_its_recorder_node(scenario):
    """Result JSON, report and metrics come from the run recorder node (one of
    the two, by decision), not from the CLI: each run's record is its own."""
    root = scenario["serving"].parents[2]
    for key in ("first", "skipped", "idle"):
        r = scenario[key]
        assert r.files["result"] == str(root / "EWR" / "results" / f"span-{r.span}.json")
        assert Path(r.files["report"]).is_file() and Path(r.files["metrics"]).is_file()
        assert r.warnings == []
    assert scenario["first"].canary["verdict"] == "none"  # no canary in the region yet
    assert scenario["skipped"].canary["verdict"] == "none"
    idle = scenario["idle"].canary
    if scenario["forced"].release_label == "canary":  # span 4's model waits as canary
        # no new span: the canary is not judged again on the span it was trained on
        assert idle["verdict"] == "pending" and "no new span" in idle["reasons"][0]
    else:
        assert idle["verdict"] == "none"
    saved = json.loads((root / "EWR" / "results" / "span-3.json").read_text())
    assert saved["decision"] == "skip" and saved["files"]["report"].endswith("span-3.html")
    assert "driftgate_span_decision" in (root / "metrics" / "driftgate_ewr.prom").read_text()


def test_the_skipped_span_judged_the_serving_model_against_its_push_time_reference(scenario):
    """Span 3 holds span 1's rows again: the serving model is scored on them
    by the canary judge node, matches the reference its push recorded, and the
    decision's sentence quotes it."""
    r = scenario["skipped"]
    q = r.canary["quality"]
    assert q["verdict"] == "ok" and q["version"] == 1 and q["span"] == 3 and q["rows"] == 400
    assert q["auc_low"] <= q["auc"] <= q["auc_high"] and q["reference_span"] == 1
    assert q["prediction_severity"] == "none"
    releases = json.loads((scenario["serving"].parents[2] / "EWR" / "state" / "releases.json").read_text())
    assert (
        releases["1"]["reference"]["auc"] == q["reference_auc"]
        and sum(releases["1"]["reference"]["histogram"]) > 0
    )
    assert r.summary.startswith("skip: serving v1 scores AUC")
    page = (scenario["serving"].parents[2] / "EWR" / "reports" / "span-3.html").read_text()
    assert "Serving model on the newest labelled span" in page and r.summary.split(";")[0] in page


def test_slices_importance_estimate_and_integrity_reach_result_report_and_card(scenario):
    from components.monitor import ui

    r = scenario["skipped"]  # span 3 = span 1's rows, judged with serving v1
    q = r.canary["quality"]
    carriers = {s["value"] for s in q["fairness"]["slices"]}
    assert {"UA", "EV"} <= carriers and q["fairness"]["band"] == [0.8, 1.25]
    releases = json.loads((scenario["serving"].parents[2] / "EWR" / "state" / "releases.json").read_text())
    pushed = releases["1"]["reference"]
    assert set(pushed["importance"]["values"]) == set(_small_config().features.all) and pushed["calibration"]
    assert isinstance(pushed["slices"], dict) and q["slices_degraded"] == []  # span 1's rows again
    imp = q["importance"]
    assert imp["reference"] == pushed["importance"]["values"] and 0.0 <= imp["ndcg"] <= 1.0
    assert q["estimate"]["span"] == 3 and 0.0 < q["estimate"]["auc"] < 1.0
    then = q["estimate_then"]
    assert then["realised_auc"] == q["auc"] and then["error"] == pytest.approx(
        then["auc"] - q["auc"], abs=1e-6
    )
    integ = r.drift.integrity
    assert integ["baseline_span"] == 1 and all(v.get("out_of_range", 0) == 0 for v in integ["rates"].values())
    page = (scenario["serving"].parents[2] / "EWR" / "reports" / "span-3.html").read_text()
    assert "id='fairness'" in page and "id='model'" in page and "id='integrity-rates'" in page
    card = ui.summary_markdown(r)
    assert "**fairness** (serving model)" in card and "**importance**" in card and "before labels" in card
    # no serving.prometheus_url: live health is said to be off, on the card and the report alike
    assert "- **live health**: not configured (serving.prometheus_url unset)" in card
    assert r.canary["live"]["verdict"] == "not_configured"
    assert "id='live-health'>Live health: not configured (serving.prometheus_url unset)" in page
    forced = scenario["forced"]  # evaluated against v1 per carrier
    judged = [s for s in forced.slice_metrics if not s.get("not_judged")]
    assert judged and all(s["slice"].startswith("carrier=") and "auc_diff" in s for s in judged)


def test_a_run_logged_as_json_parses_line_by_line_and_leaks_no_secret(scenario):
    """``driftgate --log-format json run`` (the idle run): every stderr line is
    one JSON object with a time, level, logger and message; its decision is
    one ``span_decision`` event with region and span; no secret appears."""
    lines = [ln for ln in scenario["idle_log"].splitlines() if ln.strip()]
    assert lines, "the run logged nothing"
    events = []
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            pytest.fail(f"a log line that is not JSON: {line[:300]!r}")
        assert {"ts", "level", "logger", "message"} <= set(obj), line
        if obj.get("event"):
            events.append(obj)
    decisions = [e for e in events if e["event"] == "span_decision"]
    assert len(decisions) == 1, events
    assert (
        decisions[0]["region"] == "EWR" and decisions[0]["span"] == 4 and decisions[0]["decision"] == "skip"
    )
    assert decisions[0]["run_id"] and decisions[0]["node"] == "run_recorder"
    for value in SECRETS.values():
        assert value not in scenario["idle_log"]
    assert "e2e-secret" not in scenario["idle_log"]


def test_the_audit_trail_explains_every_run_and_the_release_state(scenario):
    from driftgate.app import audit_trail

    trail = audit_trail.load(load_region_config("EWR"), str(scenario["root"]))
    assert trail.ok, trail.problems
    decisions = [r for r in trail.records if r["kind"] == "span_decision"]
    assert [(r["span"], r["action"]) for r in decisions][:1] == [(1, "retrain")]
    assert all(r["trigger"]["by"] == "pipeline" and r["trigger"]["run_id"] for r in decisions)
    assert all(r["config_hash"] and r["code_version"] and r["schema_version"] == "v1" for r in decisions)
    releases = [(r["action"], r["version"]) for r in trail.records if r["kind"] == "release"]
    assert releases[0] == ("stable", 1)
    if scenario["forced"].pushed_version:
        assert (scenario["forced"].release_label, scenario["forced"].pushed_version) in releases
    pushed = decisions[0]["evidence"]
    assert pushed["pushed_version"] == 1 and pushed["blessed"] is True and pushed["report"].endswith(".html")
    # a record lost to a crash after the release committed: the check names it, --repair writes it back
    audit_dir = scenario["root"] / "EWR" / "audit"
    (victim,) = [p for p in audit_dir.iterdir() if '"kind": "release", "action": "stable"' in p.read_text()]
    victim.unlink()
    broken = audit_trail.load(load_region_config("EWR"), str(scenario["root"]))
    assert not broken.ok and "stable v1" in broken.problems[0] and "--repair" in broken.problems[0]
    fixed = audit_trail.load(load_region_config("EWR"), str(scenario["root"]), repair=True)
    assert fixed.ok and fixed.repaired[0]["action"] == "stable"
    again = [r for r in fixed.records if r["kind"] == "release" and r["action"] == "stable"]
    assert again[0]["trigger"] == {"by": "reconciled", "from": "release.json history"}
