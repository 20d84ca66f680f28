"""Prometheus metrics of a region run, with ``prometheus-client``.

Always written as a node-exporter textfile (``<root>/metrics/driftgate_<region>.prom``,
atomically: the collector never reads half a file); also pushed to a
Pushgateway when one is configured (``--pushgateway URL``), grouped by region
so regions do not overwrite each other. Names follow Prometheus conventions:
``driftgate_`` prefix, base units in the name, ``_total`` for counters.
Counters are derived from the region's state history, so they only grow
across processes, as Prometheus expects.
"""

from typing import Optional

from components.monitor import model_view
from driftgate.core.vocabulary import DECISIONS, NO_CANARY, PENDING, PROMOTE, REJECTED, ROLLBACK
from driftgate.core.vocabulary import SEVERITY_RANK as SEVERITY_VALUE

CANARY_VERDICTS = (PROMOTE, ROLLBACK, PENDING)


def build_registry(result, history=(), release_state=None):
    """A CollectorRegistry holding the metrics of ``result`` (a RunResult)."""
    from prometheus_client import CollectorRegistry, Counter, Gauge

    from components.state import drift_streak

    reg = CollectorRegistry()
    region = result.region
    score = Gauge(
        "driftgate_drift_score",
        "Drift test score (effect size) of a feature against a baseline",
        ["region", "feature", "test", "baseline"],
        registry=reg,
    )
    severity = Gauge(
        "driftgate_drift_severity",
        "Drift severity (0 none, 1 warning, 2 critical)",
        ["region", "feature", "baseline"],
        registry=reg,
    )
    overall = Gauge(
        "driftgate_drift_overall_severity",
        "Worst drift severity against a baseline",
        ["region", "baseline"],
        registry=reg,
    )
    for baseline, comp in (result.drift.drift if result.drift is not None else {}).items():
        overall.labels(region, baseline).set(SEVERITY_VALUE.get(comp.severity, 0))
        for feature, entry in comp.features.items():
            severity.labels(region, feature, baseline).set(SEVERITY_VALUE.get(entry.severity, 0))
            for test, r in entry.tests.items():
                score.labels(region, feature, test, baseline).set(r.score)
    decision = Gauge(
        "driftgate_span_decision",
        "1 for the decision of the latest span",
        ["region", "decision"],
        registry=reg,
    )
    for d in DECISIONS:
        decision.labels(region, d).set(1 if result.decision == d else 0)
    Gauge("driftgate_span_number", "Latest span processed", ["region"], registry=reg).labels(region).set(
        result.span or 0
    )

    Gauge("driftgate_span_rows", "Rows in the latest span", ["region"], registry=reg).labels(region).set(
        result.rows
    )
    Gauge("driftgate_span_anomalies", "Anomalies found in the latest span", ["region"], registry=reg).labels(
        region
    ).set(len(result.anomalies))
    Gauge(
        "driftgate_model_blessed", "1 blessed, 0 not blessed, -1 not evaluated", ["region"], registry=reg
    ).labels(region).set(-1 if result.blessed is None else int(result.blessed))
    Gauge(
        "driftgate_release_rejected",
        "1 when the latest run's pushed version was rejected at release (no label; serving unchanged)",
        ["region", "version"],
        registry=reg,
    ).labels(region, str(result.pushed_version or 0)).set(int(result.release_label == REJECTED))
    # the verdict of this run's canary judge (pending included), else the
    # latest promote / rollback in the release history
    judged = (getattr(result, "canary", None) or {}).get("verdict")
    latest = judged if judged not in (None, NO_CANARY) else None
    if latest is None and release_state is not None:
        done = [e["action"] for e in release_state.history if e["action"] in (PROMOTE, ROLLBACK)]
        latest = done[-1] if done else None
    if latest is not None:
        canary = Gauge(
            "driftgate_canary_verdict", "1 for the latest canary verdict", ["region", "verdict"], registry=reg
        )
        for v in CANARY_VERDICTS:
            canary.labels(region, v).set(1 if latest == v else 0)
    quality_metrics(reg, region, (getattr(result, "canary", None) or {}).get("quality") or {})
    drift = getattr(result, "drift", None)
    integ = {"integrity": drift.integrity} if drift is not None and getattr(drift, "integrity", None) else {}
    model_view.export(reg, region, {"canary": getattr(result, "canary", None) or {}, "drift": integ})
    version = Gauge(
        "driftgate_model_version", "Model version serving under a label", ["region", "label"], registry=reg
    )
    if release_state is not None:
        for label in ("stable", "canary"):
            v = getattr(release_state, label)
            version.labels(region, label).set(v if v is not None else 0)
        verdicts = [e for e in release_state.history if e["action"] in ("promote", "rollback")]
        rollbacks = Counter("driftgate_canary_rollbacks", "Canary rollbacks", ["region"], registry=reg)
        rollbacks.labels(region).inc(sum(1 for e in verdicts if e["action"] == "rollback"))
    Gauge("driftgate_run_duration_seconds", "Wall time of the latest run", ["region"], registry=reg).labels(
        region
    ).set(result.duration_s)
    runs = Counter("driftgate_runs", "Region runs by decision", ["region", "decision"], registry=reg)
    for d in DECISIONS:
        runs.labels(region, d).inc(sum(1 for h in history if h.get("decision") == d))
    import calendar
    import time

    done = [h for h in history if h.get("decision") in ("skip", "retrain") and h.get("recorded_at")]
    last_ok = None
    if result.decision in ("skip", "retrain"):
        last_ok = time.time()
    elif done:  # blocked now: keep reporting when the region last succeeded
        last_ok = calendar.timegm(time.strptime(done[-1]["recorded_at"], "%Y-%m-%dT%H:%M:%SZ"))
    if last_ok is not None:
        Gauge(
            "driftgate_last_success_timestamp_seconds",
            "When a run last completed without being blocked",
            ["region"],
            registry=reg,
        ).labels(region).set(last_ok)
    streak = Gauge(
        "driftgate_drift_consecutive_spans",
        "Latest spans in a row drifting (warning or worse) against their training baseline",
        ["region", "feature"],
        registry=reg,
    )
    features = sorted({f for h in history for f in h.get("scores", {}).get("training", {})})
    for feature in features:
        streak.labels(region, feature).set(drift_streak(history, feature))
    return reg


def quality_metrics(reg, region: str, q: dict) -> None:
    """The serving model on the newest labelled span (``components.quality.serving``):
    AUC with its interval, the push-time reference, the verdict, and how far
    its predictions moved from its training span. Nothing when not judged."""
    from prometheus_client import Gauge

    if q.get("auc") is None:
        return
    labels = ["region", "version"]
    v = str(q["version"])
    for name, key, doc in (
        ("driftgate_serving_model_auc", "auc", "AUC of the serving model on the newest labelled span"),
        ("driftgate_serving_model_auc_lower", "auc_low", "Lower end of that AUC's bootstrap interval"),
        ("driftgate_serving_model_auc_upper", "auc_high", "Upper end of that AUC's bootstrap interval"),
        ("driftgate_serving_model_accuracy", "accuracy", "Accuracy of the serving model on that span"),
        ("driftgate_serving_model_reference_auc", "reference_auc", "The serving model's AUC when pushed"),
    ):
        if q.get(key) is not None:
            Gauge(name, doc, labels, registry=reg).labels(region, v).set(q[key])
    Gauge(
        "driftgate_serving_model_degraded",
        "1 when the serving model's AUC interval lies below its reference minus the margin",
        labels,
        registry=reg,
    ).labels(region, v).set(1 if q.get("verdict") == "degraded" else 0)
    st = q.get("staleness") or {}
    if st.get("lost") is not None:  # components.quality.challenger
        for name, key, doc in (
            (
                "driftgate_serving_model_advantage_lost",
                "lost",
                "AUC advantage over a challenger fitted on the span that the serving model lost since push",
            ),
            ("driftgate_serving_model_advantage_lost_lower", "lost_low", "Lower end of that loss's interval"),
            ("driftgate_challenger_auc", "challenger_auc", "AUC of the challenger fitted on the span"),
        ):
            Gauge(name, doc, labels, registry=reg).labels(region, v).set(st[key])
    drift = q.get("prediction_drift") or {}
    if drift.get("psi") is not None:
        for name, doc, value in (
            (
                "driftgate_prediction_drift_psi",
                "PSI of the serving model's predictions on the span vs on its training span",
                drift["psi"],
            ),
            (  # None from a judge before overlap was measured
                "driftgate_prediction_overlap",
                "Share of the serving model's prediction histogram on the span in common with its training span's",
                drift.get("overlap"),
            ),
            (
                "driftgate_prediction_drift_severity",
                "Prediction drift severity (0 none, 1 warning, 2 critical)",
                SEVERITY_VALUE.get(q.get("prediction_severity", "none"), 0),
            ),
        ):
            if value is not None:
                Gauge(name, doc, labels, registry=reg).labels(region, v).set(value)


def export(result, layout, pushgateway: Optional[str] = None) -> str:
    """Writes the region's textfile (``layout.metrics_file``) and pushes when
    ``pushgateway`` is set; returns the path."""
    from prometheus_client import generate_latest, push_to_gateway

    from components.state import RegionState
    from driftgate.core import storage
    from serving import release

    history = RegionState(layout.state_dir).history()
    has_release = storage.exists(storage.join(layout.serving_dir, release.STATE_FILE))
    rstate = release.load_state(layout.serving_dir, layout.model_name) if has_release else None
    reg = build_registry(result, history, rstate)
    path = layout.metrics_file
    storage.write_atomic(path, generate_latest(reg))
    if pushgateway:
        push_to_gateway(pushgateway, job="driftgate", grouping_key={"region": result.region}, registry=reg)
    return path


def run_failed_registry(region: str, run_id: str):
    """``driftgate_run_failed{region,run_id} 1`` and when: what a Kubeflow run's
    exit task pushes for a run that ended without a run record."""
    from prometheus_client import CollectorRegistry, Gauge

    reg = CollectorRegistry()
    Gauge(
        "driftgate_run_failed",
        "1 when the region's latest Kubeflow run ended without a run record (its exit task freed the region)",
        ["region", "run_id"],
        registry=reg,
    ).labels(region, run_id).set(1)
    Gauge(
        "driftgate_run_failed_timestamp_seconds",
        "When the region's latest failed run was finalized",
        ["region"],
        registry=reg,
    ).labels(region).set_to_current_time()
    return reg


def push_run_failed(region: str, run_id: str, pushgateway: str) -> None:
    """Adds the failure to the region's Pushgateway group (``pushadd``: the last
    recorded run's metrics stay). The next recorded run replaces the group
    (``export``) and with it these gauges, which clears the alert."""
    from prometheus_client import pushadd_to_gateway

    reg = run_failed_registry(region, run_id)
    pushadd_to_gateway(pushgateway, job="driftgate", grouping_key={"region": region}, registry=reg)
