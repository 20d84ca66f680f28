"""What the Kubeflow Pipelines UI shows of a run, from its ``RunResult``: pure.

The UI draws four kinds of output artifact on the Visualization tab of the
artifact's node (not the task's) and on the Compare-runs page
(``frontend/src/components/viewers/MetricsVisualizations.tsx`` in
kubeflow/pipelines), selected by ML Metadata type name, each needing a
``display_name`` custom property:

- ``system.HTML`` / ``system.Markdown``: one file read at the artifact URI;
- ``system.Metrics``: a table of every scalar custom property (numbers only:
  TFX's entrypoint refuses a bool custom property);
- ``system.ClassificationMetrics``: ``confusionMatrix`` and ``confidenceMetrics``
  custom properties in the shape the KFP SDK's ``ClassificationMetrics`` writes.

The run recorders (``components.monitor.component``) write them; this module
says what goes in. ``classification_metrics`` reads the Evaluator's plots.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Tuple

from components.monitor import model_view
from driftgate.core import vocabulary as ids

SEVERITY_VALUE = {ids.NONE: 0, ids.INSUFFICIENT: 0, ids.WARNING: 1, ids.CRITICAL: 2}
DECISION_VALUE = {ids.SKIP: 0, ids.RETRAIN: 1, ids.BLOCK: 2}
CLASS_NAMES = ("on_time", "late")  # label 0, 1 of the flights model; see ``class_names``
MAX_ROC_POINTS = 100
# custom property keys the UI reads
DISPLAY_NAME = "display_name"
CONFUSION_MATRIX = "confusionMatrix"
CONFIDENCE_METRICS = "confidenceMetrics"


def display_name(run) -> str:
    """``EWR span 12: retrain``: the card title in the UI."""
    span = run.span if run.span is not None else "?"
    return f"{run.region} span {span}: {run.decision or 'no decision'}"


def summary_markdown(run) -> str:
    """About fifteen lines: the decision sentence, span, drift per baseline,
    canary verdict, version and label, warnings."""
    lines = [f"### {display_name(run)}", "", run.summary or run.decision or "", ""]
    lines.append(f"- **span**: {model_view.text(run.span)} ({run.rows:,} rows), run `{run.run_id or '-'}`")
    reason = (run.drift.ingest.get("reason") if run.drift is not None else None) or "-"
    lines.append(f"- **why this span**: {reason}")
    for baseline in ids.BASELINES:
        comp = run.comparison(baseline)
        if comp is None:
            continue
        drifted = ", ".join(sorted(comp.drifted)[:8]) or "none"
        lines.append(
            f"- **drift vs {baseline}** (span {model_view.text(comp.span)}): {comp.severity}; features: {drifted}"
        )
    canary = run.canary or {}
    if canary:
        lines.append(f"- **canary**: {canary_line(canary)}")
    lines.append(f"- **live health**: {model_view.live_health_line({'canary': canary})}")
    if run.pushed_version is not None:
        lines.append(f"- **pushed** version {run.pushed_version}, label {run.release_label or 'none'}")
    elif run.decision == ids.RETRAIN:
        lines.append(f"- **not pushed**: {'; '.join(run.not_blessed_reasons[:3]) or 'not blessed'}")
    if run.metrics.get("auc") is not None:
        lines.append(
            f"- **candidate**: AUC {run.metrics['auc']:.3f}, accuracy {run.metrics.get('binary_accuracy', 0):.3f}"
        )
    integ = {"integrity": run.drift.integrity} if run.drift is not None else {}
    lines += model_view.markdown_lines(
        {"canary": run.canary or {}, "slice_metrics": run.slice_metrics, "drift": integ}
    )
    if run.note:  # the run parameter, "-" already read as none (RunResult.note)
        lines.append(f"- **note**: {run.note}")
    lines.append(f"- **warnings**: {'; '.join(run.warnings) if run.warnings else 'none'}")
    return "\n".join(lines) + "\n"


def canary_line(canary: dict) -> str:
    """``v3 vs stable v2: promote``, or ``no canary (stable v2 serves)``."""
    stable, version = canary.get("stable_version"), canary.get("canary_version")
    serving = "no model serves yet" if stable is None else f"stable v{stable} serves"
    if version is None or canary.get("verdict") in (None, ids.NO_CANARY):
        return f"no canary ({serving})"
    against = "no stable model" if stable is None else f"stable v{stable}"
    return f"v{version} vs {against}: {canary.get('verdict')}"


def fallback_html(run) -> str:
    """A self-contained page when the run's report could not be written."""
    import html

    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
        + html.escape(display_name(run))
        + "</title></head><body><h1>"
        + html.escape(display_name(run))
        + "</h1><p>"
        + html.escape(run.summary or "")
        + "</p><p>The full report was not written: "
        + html.escape("; ".join(w for w in run.warnings if w.startswith("report")) or "unknown")
        + "</p></body></html>"
    )


def scalar_metrics(run) -> Dict[str, float]:
    """The run's numbers for the Scalar Metrics table (floats, no bools)."""
    out: Dict[str, float] = {
        "span": float(run.span or 0),
        "rows": float(run.rows),
        "decision (0 skip, 1 retrain, 2 block)": float(DECISION_VALUE.get(run.decision, -1)),
        "blocking anomalies": float(sum(1 for a in run.anomalies if a.get("blocking", True))),
        "warnings": float(len(run.warnings)),
    }
    for baseline in ids.BASELINES:
        comp = run.comparison(baseline)
        if comp is not None:
            out[f"drift vs {baseline} (0 none, 1 warning, 2 critical)"] = float(
                SEVERITY_VALUE.get(comp.severity, 0)
            )
    quality = (run.canary or {}).get("quality") or {}
    if quality.get("auc") is not None:
        out["serving model auc"] = float(quality["auc"])
    for key in ("auc", "binary_accuracy", "precision", "recall"):
        if run.metrics.get(key) is not None:
            out[f"candidate {key}"] = float(run.metrics[key])
    if run.pushed_version is not None:
        out["pushed version"] = float(run.pushed_version)
    # ML Metadata refuses NaN (TFMA's precision on a span where the model predicts
    # no positive is 0/0), and the UI could not show it: a missing row instead
    return {k: v for k, v in out.items() if math.isfinite(v)}


def _downsample(points: List[dict], n: int) -> List[dict]:
    if len(points) <= n:
        return points
    step = (len(points) - 1) / (n - 1)
    return [points[round(i * step)] for i in range(n)]


def roc_and_confusion(
    matrices, class_names=CLASS_NAMES, threshold: float = 0.5, max_points: int = MAX_ROC_POINTS
) -> Tuple[dict, List[dict]]:
    """(confusionMatrix, confidenceMetrics) from TFMA's confusion matrices at
    thresholds (``ConfusionMatrixAtThreshold`` protos or objects with the same
    fields): the matrix at the threshold nearest ``threshold``, the ROC curve
    downsampled to ``max_points`` points."""
    matrices = sorted(matrices, key=lambda m: m.threshold)
    if not matrices:
        raise ValueError("no confusion matrices in the evaluation")
    at = min(matrices, key=lambda m: abs(m.threshold - threshold))
    confusion = {
        "annotationSpecs": [{"displayName": name} for name in class_names],
        "rows": [
            {"row": [float(at.true_negatives), float(at.false_positives)]},
            {"row": [float(at.false_negatives), float(at.true_positives)]},
        ],
    }
    roc = [
        {
            "confidenceThreshold": float(m.threshold),
            "recall": float(m.recall),
            "falsePositiveRate": float(m.false_positive_rate),
        }
        for m in matrices
        if all(math.isfinite(float(x)) for x in (m.threshold, m.recall, m.false_positive_rate))
    ]  # no NaN point (a span without positives or negatives): ML Metadata and the UI refuse them
    return confusion, _downsample(roc, max_points)


def classification_metrics(evaluation_uri: str, class_names=CLASS_NAMES) -> Optional[Tuple[dict, List[dict]]]:
    """The candidate's ROC and confusion matrix on the overall slice from an
    Evaluator output (its ``ConfusionMatrixPlot``), or None without one."""
    import tensorflow_model_analysis as tfma

    for per_slice in tfma.load_plots(evaluation_uri):
        if per_slice.slice_key.single_slice_keys:
            continue
        for kv in per_slice.plot_keys_and_values:
            if kv.key.model_name not in ("", "candidate"):
                continue
            matrices = kv.value.confusion_matrix_at_thresholds.matrices
            if matrices:
                return roc_and_confusion(matrices, class_names)
    return None
