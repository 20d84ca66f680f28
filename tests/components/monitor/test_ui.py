"""What the Kubeflow UI is given for a run (components/monitor/ui.py), checked
against the UI's own rules (tests/pipelines/kfp_ui.py)."""

import re
from types import SimpleNamespace

from components.drift.results import Comparison
from components.gate.decision import SpanReport
from components.monitor import ui
from components.monitor.result import RunResult
from tests.pipelines import kfp_ui


def _run(**kw) -> RunResult:
    report = SpanReport(
        span=12,
        decision="retrain",
        rows={"train": 800, "eval": 200},
        drift={
            "training": Comparison(
                baseline="training", span=1, severity="critical", drifted=("temp", "dewp"), features={}
            )
        },
        ingest={"reason": "requested"},
    )
    base = dict(
        span=12,
        rows=1000,
        blessed=True,
        pushed_version=4,
        metrics={"auc": 0.81, "binary_accuracy": 0.77},
        decision="retrain",
        summary="retrain: drift critical vs training baseline (span 1) on dewp, temp",
        release_label="canary",
        drift=report,
        run_id="run-9",
        canary={"verdict": "promote", "canary_version": 3, "stable_version": 2},
    )
    base.update(kw)
    return RunResult.empty("EWR", "/x", **base)


def test_display_name_names_region_span_and_decision():
    assert ui.display_name(_run()) == "EWR span 12: retrain"


def test_summary_has_the_decision_drift_canary_version_and_note():
    text = ui.summary_markdown(_run(warnings=["alerts: pagerduty: HTTP 500"], note="backfill after outage"))
    assert "retrain: drift critical" in text
    assert "drift vs training** (span 1): critical; features: dewp, temp" in text
    assert "canary**: v3 vs stable v2: promote" in text
    assert "pushed** version 4, label canary" in text
    assert "note**: backfill after outage" in text and "pagerduty" in text
    assert "note" not in ui.summary_markdown(_run())  # the default: no note


PYTHON_SPELLING = re.compile(r"\bNone\b|\bTrue\b|\bFalse\b|\bnan\b|v None|vNone")


def test_first_model_card_says_no_canary_in_words_not_python_values():
    """EWR span 1 of ``make demo``: no canary, no stable model, no baseline."""
    first = _run(
        span=1,
        pushed_version=1,
        release_label="stable",
        canary={"verdict": "none", "canary_version": None, "stable_version": None, "live": {}},
    )
    text = ui.summary_markdown(first)
    assert "- **canary**: no canary (no model serves yet)" in text
    assert not PYTHON_SPELLING.search(text), text
    held = _run(canary={"verdict": "pending", "canary_version": 3, "stable_version": None})
    assert "canary**: v3 vs no stable model: pending" in ui.summary_markdown(held)
    odd = _run(span=None, canary={"verdict": "rollback", "canary_version": None, "stable_version": 2})
    text = ui.summary_markdown(odd)
    assert "canary**: no canary (stable v2 serves)" in text and not PYTHON_SPELLING.search(text), text


def test_scalar_metrics_are_numbers_only():
    metrics = ui.scalar_metrics(_run())
    assert metrics["span"] == 12.0 and metrics["candidate auc"] == 0.81 and metrics["pushed version"] == 4.0
    assert metrics["drift vs training (0 none, 1 warning, 2 critical)"] == 2.0
    assert all(isinstance(v, float) for v in metrics.values())


def _matrix(t, tp, fp, tn, fn):
    return SimpleNamespace(
        threshold=t,
        true_positives=tp,
        false_positives=fp,
        true_negatives=tn,
        false_negatives=fn,
        recall=tp / (tp + fn),
        false_positive_rate=fp / (fp + tn),
    )


def test_roc_and_confusion_matrix_pass_the_ui_validators_and_are_downsampled():
    matrices = [_matrix(i / 1000, 100 - i // 20, 300 - i // 4, 600 + i // 4, i // 20) for i in range(1000)]
    confusion, roc = ui.roc_and_confusion(matrices)
    assert kfp_ui.confusion_matrix_problem(confusion) == ""
    assert kfp_ui.confidence_metrics_problem(roc) == ""
    assert len(roc) == ui.MAX_ROC_POINTS
    assert roc[0]["confidenceThreshold"] == 0.0 and roc[-1]["confidenceThreshold"] == 0.999
    at_half = _matrix(0.5, 75, 175, 725, 25)
    assert confusion["rows"] == [
        {"row": [float(at_half.true_negatives), float(at_half.false_positives)]},
        {"row": [float(at_half.false_negatives), float(at_half.true_positives)]},
    ]
    assert [s["displayName"] for s in confusion["annotationSpecs"]] == ["on_time", "late"]


def test_the_ui_validators_refuse_what_the_frontend_refuses():
    assert "one row per annotation spec" in kfp_ui.confusion_matrix_problem(
        {"annotationSpecs": [{"displayName": "a"}, {"displayName": "b"}], "rows": [{"row": [1, 2]}]}
    )
    assert "numbers" in kfp_ui.confusion_matrix_problem(
        {"annotationSpecs": [{"displayName": "a"}], "rows": [{"row": ["1"]}]}
    )
    assert kfp_ui.confidence_metrics_problem([{"confidenceThreshold": 0.5, "recall": 1.0}])


def test_fallback_page_is_self_contained_html():
    page = ui.fallback_html(_run(warnings=["report: OSError: disk full"]))
    assert page.startswith("<!DOCTYPE html>") and "disk full" in page and "<script" not in page


def test_non_finite_numbers_never_reach_ml_metadata():
    """TFMA's precision is NaN when the model predicts no positive (a small
    span): ML Metadata's store refuses a NaN property and would fail the run."""
    metrics = ui.scalar_metrics(_run(metrics={"auc": 0.6, "precision": float("nan"), "recall": 0.0}))
    assert "candidate precision" not in metrics and metrics["candidate recall"] == 0.0
    nan = float("nan")
    matrices = [
        _matrix(0.1, 5, 5, 5, 5),
        SimpleNamespace(**dict(vars(_matrix(0.9, 0, 0, 10, 10)), recall=nan)),
    ]
    matrices[1].false_positive_rate = nan
    _, roc = ui.roc_and_confusion(matrices)
    assert [p["confidenceThreshold"] for p in roc] == [0.1]
