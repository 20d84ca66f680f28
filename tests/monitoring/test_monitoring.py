"""Monitoring material checked with the real tools: promtool (rules and rule
unit tests), amtool (Alertmanager config and routing), a Pushgateway started on
loopback, and the Grafana dashboard's queries against the exported metrics."""

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MON = ROOT / "kubeflow" / "monitoring"
PROMTOOL, AMTOOL = shutil.which("promtool"), shutil.which("amtool")
PUSHGATEWAY = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
need_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing (Debian prometheus; make test installs it)"
)
need_amtool = pytest.mark.skipif(AMTOOL is None, reason="amtool missing (Debian prometheus-alertmanager)")

UNIT_TESTS = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'driftgate_drift_severity{{region="EWR",feature="temp",baseline="training"}}'
        values: '2x10'
      - series: 'driftgate_drift_severity{{region="JFK",feature="dest",baseline="training"}}'
        values: '1x10'
      - series: 'driftgate_drift_severity{{region="LGA",feature="temp",baseline="previous"}}'
        values: '2x10'
      - series: 'driftgate_span_decision{{region="LGA",decision="block"}}'
        values: '1x10'
      - series: 'driftgate_drift_consecutive_spans{{region="EWR",feature="temp"}}'
        values: '3x10'
      - series: 'driftgate_canary_rollbacks_total{{region="JFK"}}'
        values: '0 0 1 1 1 1 1 1 1 1'
      - series: 'driftgate_last_success_timestamp_seconds{{region="EWR"}}'
        values: '0x10'
      - series: 'driftgate_serving_model_degraded{{region="JFK",version="3"}}'
        values: '1x10'
      - series: 'driftgate_serving_model_degraded{{region="EWR",version="2"}}'
        values: '0x10'
      - series: 'driftgate_release_rejected{{region="EWR",version="4"}}'
        values: '1x10'
      - series: 'driftgate_release_rejected{{region="JFK",version="0"}}'
        values: '0x10'
      - series: 'driftgate_prediction_drift_severity{{region="EWR",version="2"}}'
        values: '1x10'
      - series: 'driftgate_prediction_drift_severity{{region="LGA",version="5"}}'
        values: '2x10'
      - series: 'driftgate_run_failed{{region="JFK",run_id="run-7"}}'
        values: '1x10'
      - series: 'driftgate_slice_parity_findings{{region="LGA"}}'
        values: '2x10'
      - series: 'driftgate_integrity_findings{{region="EWR"}}'
        values: '0x10'
      - series: 'driftgate_integrity_findings{{region="JFK"}}'
        values: '3x10'
      - series: 'driftgate_importance_ndcg{{region="EWR",version="2"}}'
        values: '0.95x10'
      - series: 'driftgate_importance_ndcg{{region="LGA",version="5"}}'
        values: '0.78x10'
    alert_rule_test:
      - eval_time: 5m
        alertname: DriftgateDriftCritical
        exp_alerts:
          - exp_labels: {{severity: critical, region: EWR, feature: temp}}
            exp_annotations:
              summary: "EWR: temp drifts (critical) against the training baseline"
              description: "temp in EWR moved far from what the serving model learned; the next run retrains. See driftgate drift --region EWR --baseline training and the run report."
              runbook_url: "https://github.com/driftgate/driftgate/blob/main/kubeflow/monitoring/RUNBOOK.md#driftgatedriftcritical"
      - eval_time: 5m
        alertname: DriftgateDriftWarning
        exp_alerts:
          - exp_labels: {{severity: warning, region: JFK, feature: dest}}
            exp_annotations:
              summary: "JFK: dest drifts (warning) against the training baseline"
              description: "See driftgate drift --region JFK --baseline training, and the run report."
              runbook_url: "https://github.com/driftgate/driftgate/blob/main/kubeflow/monitoring/RUNBOOK.md#driftgatedriftwarning"
      - eval_time: 5m
        alertname: DriftgateSpanBlocked
        exp_alerts:
          - exp_labels: {{severity: critical, region: LGA}}
            exp_annotations:
              summary: "LGA: the latest span was blocked (bad data or training/serving skew)"
              description: "Nothing was trained and serving is unchanged. Read the run report's anomalies; fix the data or propose a schema version (driftgate schema check-span / propose)."
              runbook_url: "https://github.com/driftgate/driftgate/blob/main/kubeflow/monitoring/RUNBOOK.md#driftgatespanblocked"
      - eval_time: 5m
        alertname: DriftgateDriftPersistent
        exp_alerts:
          - exp_labels: {{severity: critical, region: EWR, feature: temp}}
            exp_annotations:
              summary: "EWR: temp drifted on 3 spans in a row"
              description: "Retraining has not brought temp back in line in EWR: check upstream data and whether the schema or thresholds need a new version."
              runbook_url: "https://github.com/driftgate/driftgate/blob/main/kubeflow/monitoring/RUNBOOK.md#driftgatedriftpersistent"
      - eval_time: 5m
        alertname: DriftgateCanaryRolledBack
        exp_alerts:
          - exp_labels: {{severity: warning, region: JFK}}
            exp_annotations:
              summary: "JFK: a canary was rolled back in the last day"
              description: "The canary in JFK lost to stable on the newest labelled span and was rolled back; see the canary record beside models.config."
              runbook_url: "https://github.com/driftgate/driftgate/blob/main/kubeflow/monitoring/RUNBOOK.md#driftgatecanaryrolledback"
      - eval_time: 5m
        alertname: DriftgateReleaseRejected
        exp_alerts:
          - exp_labels: {{severity: critical, region: EWR, version: "4"}}
            exp_annotations:
              summary: "EWR: version 4 was trained and pushed but rejected at release"
              description: "It failed its smoke test (load + serving signature on the span's examples) and got no label; the stable version keeps serving. The reason is in the run's decision line and in release.json."
              runbook_url: "https://github.com/driftgate/driftgate/blob/main/kubeflow/monitoring/RUNBOOK.md#driftgatereleaserejected"
      - eval_time: 5m
        alertname: DriftgateServingModelDegraded
        exp_alerts:
          - exp_labels: {{severity: warning, region: JFK, version: "3"}}
            exp_annotations:
              summary: "JFK: serving model v3 scores below its push-time AUC by more than the margin"
              description: "The whole bootstrap interval of the serving model's AUC on the newest labelled span lies below its reference minus quality.auc_margin; the gate retrains. See the run report's decision sentence."
              runbook_url: "https://github.com/driftgate/driftgate/blob/main/kubeflow/monitoring/RUNBOOK.md#driftgateservingmodeldegraded"
      - eval_time: 5m
        alertname: DriftgatePredictionDriftWarning
        exp_alerts:
          - exp_labels: {{severity: warning, region: EWR, version: "2"}}
            exp_annotations:
              summary: "EWR: serving model v2's predictions moved from its training span (PSI warning)"
              description: "The label-free early signal; labels may confirm it on a later span. See driftgate_prediction_drift_psi and the run report."
              runbook_url: "https://github.com/driftgate/driftgate/blob/main/kubeflow/monitoring/RUNBOOK.md#driftgatepredictiondriftwarning"
      - eval_time: 5m
        alertname: DriftgatePredictionDriftCritical
        exp_alerts:
          - exp_labels: {{severity: critical, region: LGA, version: "5"}}
            exp_annotations:
              summary: "LGA: serving model v5's predictions moved far from its training span (PSI critical)"
              description: "Predictions moved beyond quality.prediction_psi.critical; check the newest span's inputs and the serving model's AUC on it."
              runbook_url: "https://github.com/driftgate/driftgate/blob/main/kubeflow/monitoring/RUNBOOK.md#driftgatepredictiondriftcritical"
      - eval_time: 5m
        alertname: DriftgateRunFailed
        exp_alerts:
          - exp_labels: {{severity: critical, region: JFK, run_id: run-7}}
            exp_annotations:
              summary: "JFK: Kubeflow run run-7 ended without a run record"
              description: "A task of the run failed or was stopped; its exit task freed the region and marked the run failed. The span it took stays unprocessed and the next run takes it again. Clears when the next run of the region is recorded."
              runbook_url: "https://github.com/driftgate/driftgate/blob/main/kubeflow/monitoring/RUNBOOK.md#driftgaterunfailed"
      - eval_time: 5m
        alertname: DriftgateNoSuccessfulRun
        exp_alerts: []
      - eval_time: 5m
        alertname: DriftgateSliceParity
        exp_alerts:
          - exp_labels: {{severity: warning, region: LGA}}
            exp_annotations:
              summary: "LGA: the serving model treats 2 slices outside the four-fifths band"
              description: "A slice of evaluation.slices has a false positive rate, recall or positive rate outside evaluation.parity_band of the whole span's (driftgate_slice_parity). See the run report's Slices section."
              runbook_url: "https://github.com/driftgate/driftgate/blob/main/kubeflow/monitoring/RUNBOOK.md#driftgatesliceparity"
      - eval_time: 5m
        alertname: DriftgateDataIntegrity
        exp_alerts:
          - exp_labels: {{severity: warning, region: JFK}}
            exp_annotations:
              summary: "JFK: 3 feature rates (missing, outside the training range, unseen) above their threshold"
              description: "The newest span's integrity rates against the training span exceed the region's own history (driftgate_feature_integrity_rate); they never block a span. See the run report's Data integrity section."
              runbook_url: "https://github.com/driftgate/driftgate/blob/main/kubeflow/monitoring/RUNBOOK.md#driftgatedataintegrity"
      - eval_time: 5m
        alertname: DriftgateImportanceShift
        exp_alerts:
          - exp_labels: {{severity: warning, region: LGA, version: "5"}}
            exp_annotations:
              summary: "LGA: serving model v5 relies on different features than at push (nDCG 0.78)"
              description: "The ranking of its permutation importance on the newest labelled span against the one at push fell below 0.9 (SageMaker Clarify's rule). See the run report's importance row."
              runbook_url: "https://github.com/driftgate/driftgate/blob/main/kubeflow/monitoring/RUNBOOK.md#driftgateimportanceshift"
  - interval: 1m
    input_series:
      - series: 'driftgate_land_consumer_lag_records{{region="EWR",partition="0"}}'
        values: '60000x25'
      - series: 'driftgate_land_consumer_lag_records{{region="EWR",partition="1"}}'
        values: '50000x25'
      - series: 'driftgate_land_consumer_lag_records{{region="JFK",partition="0"}}'
        values: '90000x25'
      - series: 'driftgate_stream_consumer_lag_records{{region="LGA",partition="0"}}'
        values: '150000x25'
    alert_rule_test:
      - eval_time: 5m
        alertname: DriftgateLandLagging
        exp_alerts: []
      - eval_time: 15m
        alertname: DriftgateLandLagging
        exp_alerts:
          - exp_labels: {{severity: warning, region: EWR}}
            exp_annotations:
              summary: "EWR: driftgate land is 110000 records behind its topic"
              description: "The lander writes slower than records arrive, or is stuck; spans seal late and the region's next run waits for them. Check that its Deployment runs and can write to the bucket, then give it more CPU."
              runbook_url: "https://github.com/driftgate/driftgate/blob/main/kubeflow/monitoring/RUNBOOK.md#driftgatelandlagging"
      - eval_time: 15m
        alertname: DriftgateStreamLagging
        exp_alerts:
          - exp_labels: {{severity: warning, region: LGA}}
            exp_annotations:
              summary: "LGA: driftgate stream is 150000 records behind its topic"
              description: "The stream watcher reads slower than records arrive; its windows judge old data. Give its Deployment more CPU, or check that it is running."
              runbook_url: "https://github.com/driftgate/driftgate/blob/main/kubeflow/monitoring/RUNBOOK.md#driftgatestreamlagging"
"""


@need_promtool
def test_alert_rules_pass_promtool_check():
    files = [str(MON / "alerts.yml"), str(MON / "objectives.yml")]
    out = subprocess.run([PROMTOOL, "check", "rules", *files], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "26 rules found" in out.stdout and "9 rules found" in out.stdout  # alerts.yml, objectives.yml


@need_promtool
def test_alert_rules_fire_as_intended(tmp_path):
    tests = tmp_path / "alerts_test.yml"
    tests.write_text(UNIT_TESTS.format(rules=MON / "alerts.yml"))
    out = subprocess.run([PROMTOOL, "test", "rules", str(tests)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@need_amtool
def test_alertmanager_config_is_valid_and_routes_by_severity():
    cfg = str(MON / "alertmanager.yml")
    out = subprocess.run([AMTOOL, "check-config", cfg], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    for severity, receiver in (("critical", "pagerduty-critical"), ("warning", "slack-warnings")):
        route = subprocess.run(
            [
                AMTOOL,
                "config",
                "routes",
                "test",
                f"--config.file={cfg}",
                f"severity={severity}",
                "region=EWR",
            ],
            capture_output=True,
            text=True,
        )
        assert route.stdout.strip() == receiver, route.stdout + route.stderr


def test_no_secret_is_committed_in_the_alertmanager_config():
    text = (MON / "alertmanager.yml").read_text()
    assert "hooks.slack.com" not in text and "routing_key:" not in text and "api_url:" not in text
    assert "api_url_file:" in text and "routing_key_file:" in text


QUALITY = {
    "version": 2,
    "span": 5,
    "rows": 9000,
    "verdict": "degraded",
    "auc": 0.61,
    "auc_low": 0.6,
    "auc_high": 0.62,
    "accuracy": 0.7,
    "reference_auc": 0.8,
    "prediction_drift": {"psi": 0.3, "ks": 0.2, "overlap": 0.71},
    "prediction_severity": "critical",
    "fairness": {
        "slices": [{"slice": "carrier", "value": "EV", "auc": 0.6, "parity": {"fpr": 1.4}}],
        "findings": [{"sentence": "carrier=EV: false positive rate 1.40x the region's"}],
    },
    "importance": {"ndcg": 0.8, "reference": {"temp": 0.1}, "current": {"temp": 0.05}},
    "estimate": {"span": 5, "auc": 0.7, "auc_low": 0.69, "accuracy": 0.75},
}


def _exported_names():
    from prometheus_client import generate_latest

    from components.monitor import metrics
    from serving.release import ReleaseState
    from tests.components.monitor.test_metrics import _result

    history = [
        {
            "span": 1,
            "decision": "retrain",
            "recorded_at": "2026-11-20T06:00:00Z",
            "drifted": {"training": ["temp"]},
            "scores": {"training": {"temp": {}}},
        }
    ]
    state = ReleaseState(
        model_name="m", base_path="/b", stable=1, history=[{"action": "rollback", "version": 2}]
    )
    result = _result()
    result.canary = {"verdict": "none", "quality": QUALITY}
    result.drift.integrity = {
        "rates": {"temp": {"missing": 0.01}},
        "findings": [{"sentence": "temp: 5.0% missing"}],
    }
    text = generate_latest(metrics.build_registry(result, history, state)).decode()
    text += generate_latest(
        metrics.run_failed_registry("EWR", "run-1")
    ).decode()  # a Kubeflow run's exit task
    text += _stream_metrics_text()
    text += _land_metrics_text()
    return set(re.findall(r"^(driftgate_[a-z_]+)", text, re.M))


def _stream_metrics_text() -> str:
    """What a stream watcher exports once it has judged a window and opened an episode."""
    from tests.streaming.test_stream_metrics import scrape_text

    return scrape_text()


def _land_metrics_text() -> str:
    """What a lander exports once it has read its lag (the lander's own state,
    no broker: tests/streaming/test_land.py scrapes a running one)."""
    from types import SimpleNamespace

    from prometheus_client import CollectorRegistry, generate_latest

    from driftgate.core.config import load_region_config
    from streaming import metrics
    from streaming.watermark import Watermark

    lander = SimpleNamespace(
        cfg=load_region_config("EWR"),
        counts={},
        buffered=lambda: 0,
        last_checkpoint=0.0,
        checkpoint_seconds=0.0,
        watermark=Watermark(0, 0),
        lag={0: 5},
    )
    registry = CollectorRegistry()
    registry.register(metrics.LanderCollector(lander))
    return generate_latest(registry).decode()


def test_dashboard_and_rules_only_query_exported_metrics():
    import yaml

    from serving.health import LATENCY, READ

    names = _exported_names()
    dash = json.loads((MON / "grafana-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for panel in dash["panels"] for t in panel.get("targets", []))
    rules = (MON / "alerts.yml").read_text()
    queried = set(re.findall(r"driftgate_[a-z_]+", exprs + rules))
    assert queried, "no driftgate metric queried"
    assert queried <= names, f"not exported: {sorted(queried - names)}"
    # TF Serving's own series (_sum is left out: its exporter prints it to 6 significant digits)
    tfserving = set(re.findall(r":tensorflow:[a-z_:]+", exprs + rules))
    assert tfserving and tfserving <= set(READ) | {LATENCY + "_count"}, sorted(tfserving)
    recorded = {
        r["record"]
        for f in ("alerts.yml", "objectives.yml")
        for g in yaml.safe_load((MON / f).read_text())["groups"]
        for r in g["rules"]
        if "record" in r
    }
    used = set(re.findall(r"driftgate:[a-z0-9_:]+", exprs + rules))
    assert used and used <= recorded, f"not recorded: {sorted(used - recorded)}"
    types = {p["type"] for p in dash["panels"]}
    assert {"heatmap", "state-timeline", "timeseries"} <= types


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(PUSHGATEWAY is None, reason="Pushgateway missing (Debian prometheus-pushgateway)")
def test_metrics_pushed_to_a_real_pushgateway_can_be_read_back(tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    from components.monitor import metrics
    from tests.components.monitor.test_metrics import _result

    port = _free_port()
    proc = subprocess.Popen(
        [PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        from driftgate.core.layout import RegionLayout

        layout = RegionLayout(str(tmp_path), "EWR", "flights_late")
        metrics.export(_result(), layout, pushgateway=f"127.0.0.1:{port}")
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    rows = [
        s for f in text_string_to_metric_families(text) if f.name == "driftgate_span_rows" for s in f.samples
    ]
    assert rows and rows[0].labels["region"] == "EWR" and rows[0].labels["job"] == "driftgate"
    assert rows[0].value == 10015


def test_every_rule_has_a_description_and_a_runbook_section():
    import yaml

    groups = yaml.safe_load((MON / "alerts.yml").read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"] if "alert" in rule]
    runbook = (MON / "RUNBOOK.md").read_text()
    for rule in rules:
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"], rule["alert"]
        anchor = notes["runbook_url"].rsplit("#", 1)[1]
        assert anchor == rule["alert"].lower() and f"\n## {rule['alert']}\n" in runbook


def test_operator_objects_carry_the_same_rules_and_dashboard():
    import yaml

    from serving import manifests

    alerts, objectives = (MON / "alerts.yml").read_text(), (MON / "objectives.yml").read_text()
    dash = (MON / "grafana-dashboard.json").read_text()
    rule, dashboard = manifests.monitoring_objects(alerts, dash, "team-a", objectives)
    assert rule["kind"] == "PrometheusRule" and rule["metadata"]["namespace"] == "team-a"
    groups = yaml.safe_load(alerts)["groups"] + yaml.safe_load(objectives)["groups"]
    assert rule["spec"]["groups"] == groups
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["driftgate.json"]) == json.loads(
        (MON / "grafana-dashboard.json").read_text()
    )
    committed = yaml.safe_load((MON / "k8s" / "prometheusrule.yaml").read_text())
    expected = manifests.monitoring_objects(alerts, dash, "driftgate", objectives)[0]
    assert committed == expected, "run: driftgate serving manifests --region EWR"
