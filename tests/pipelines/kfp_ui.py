"""What the Kubeflow Pipelines v2 UI would draw for a task's output artifacts:
the rules its frontend applies, written here from kubeflow/pipelines'
``frontend/`` sources (read at 2.0.5 and HEAD; see ``../shared/notes/kubeflow-ui.md``
§1.4), applied to artifacts as the emulated backend recorded them
(``tests/pipelines/kfp_backend.py``: MLMD type name = schema title, metadata
after the MLMD round trip, ``display_name`` defaulted to the output key).

- Kinds are selected by MLMD **type name** (``frontend/src/mlmd/MlmdUtils.ts``
  ``filterArtifactsByType`` / ``filterLinkedArtifactsByType``, l.372/383), and
  each needs a string ``display_name`` custom property
  (``MetricsVisualizations.tsx``, every ``getVerified*`` filter).
- ``system.HTML`` / ``system.Markdown``: ``getHtmlViewerConfig`` /
  ``getMarkdownViewerConfig`` (l.844/872) read the artifact URI as **one file**;
  the server handler (``frontend/server/handlers/artifacts.ts``) keeps only the
  object named exactly by the key, so a folder URI gives an empty card.
- ``system.Metrics``: ``ScalarMetricsSection`` (l.798) tabulates every custom
  property but ``display_name`` (``store_session_info``, which the backend
  puts on every artifact, is listed too on UI 2.5 to 2.16 and hidden from
  2.17: ``isReservedArtifactProperty``; the emulated backend sets none).
- ``system.ClassificationMetrics``: ``getVerifiedClassificationMetricsArtifacts``
  (l.231) keeps an artifact with a ``confidenceMetrics`` (list) or
  ``confusionMatrix`` (struct) custom property; ``validateConfusionMatrix``
  (l.756) needs ``{annotationSpecs: [{displayName}], rows: [{row: [Number]}]}``
  with one row of N numbers per spec; ``validateConfidenceMetrics``
  (``ROCCurveHelper``) needs ``{confidenceThreshold, falsePositiveRate, recall}``
  numbers per point.

Not proven: the frontend's rendering itself (React, the iframe), its access to
the bucket (the ml-pipeline-ui ServiceAccount's credentials).
"""

from __future__ import annotations

import os
from typing import Dict, List

from google.protobuf import json_format

HTML, MARKDOWN, METRICS, CLASSIFICATION = (
    "system.HTML",
    "system.Markdown",
    "system.Metrics",
    "system.ClassificationMetrics",
)
HIDDEN = ("display_name", "store_session_info")


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def confusion_matrix_problem(cm) -> str:
    """'' when ``cm`` passes ``validateConfusionMatrix``, else why not."""
    specs, rows = cm.get("annotationSpecs"), cm.get("rows")
    if not isinstance(specs, list) or not all(isinstance(s.get("displayName"), str) for s in specs):
        return "annotationSpecs must be a list of {displayName: string}"
    if not isinstance(rows, list) or len(rows) != len(specs):
        return f"rows must hold one row per annotation spec ({len(specs)})"
    for r in rows:
        row = r.get("row")
        if not isinstance(row, list) or len(row) != len(specs) or not all(_number(x) for x in row):
            return f"each row must be {len(specs)} numbers: {r!r}"
    return ""


def confidence_metrics_problem(points) -> str:
    """'' when ``points`` pass ``validateConfidenceMetrics``, else why not."""
    if not isinstance(points, list) or not points:
        return "confidenceMetrics must be a non-empty list"
    for p in points:
        if not all(_number(p.get(k)) for k in ("confidenceThreshold", "falsePositiveRate", "recall")):
            return f"a point needs numeric confidenceThreshold, falsePositiveRate, recall: {p!r}"
    return ""


def visualizations(task) -> Dict[str, List[dict]]:
    """The cards the UI would draw on the Visualization tabs of ``task``'s output artifacts, by kind:
    each ``{"key", "display_name", ...}`` (HTML/Markdown: ``text``; Metrics:
    ``rows``; ClassificationMetrics: ``confusion``, ``roc``). An artifact of a
    UI type that a rule drops is listed under ``"dropped"`` with the reason."""
    cards: Dict[str, List[dict]] = {HTML: [], MARKDOWN: [], METRICS: [], CLASSIFICATION: [], "dropped": []}
    for key, art in task.outputs.items():
        kind = task.types.get(key)
        if kind not in (HTML, MARKDOWN, METRICS, CLASSIFICATION):
            continue
        meta = json_format.MessageToDict(art.metadata)
        name = meta.get("display_name")
        if not isinstance(name, str) or not name:
            cards["dropped"].append({"key": key, "why": "no display_name"})
            continue
        card = {"key": key, "display_name": name, "uri": art.uri}
        if kind in (HTML, MARKDOWN):
            if not os.path.isfile(art.uri):
                cards["dropped"].append({"key": key, "why": f"URI is not a file: {art.uri}"})
                continue
            with open(art.uri, encoding="utf-8") as fh:
                card["text"] = fh.read()
        elif kind == METRICS:
            card["rows"] = {k: v for k, v in meta.items() if k not in HIDDEN}
        else:
            cm = (meta.get("confusionMatrix") or {}).get("struct")
            roc = (meta.get("confidenceMetrics") or {}).get("list")
            if cm is None and roc is None:
                cards["dropped"].append({"key": key, "why": "neither confusionMatrix nor confidenceMetrics"})
                continue
            problems = [
                p
                for p in (
                    cm is not None and confusion_matrix_problem(cm),
                    roc is not None and confidence_metrics_problem(roc),
                )
                if p
            ]
            if problems:
                cards["dropped"].append({"key": key, "why": "; ".join(problems)})
                continue
            card.update(confusion=cm, roc=roc)
        cards[kind].append(card)
    return cards


def bool_metadata(task) -> List[str]:
    """``key.property`` of every bool an executor wrote (before the MLMD round
    trip): TFX's entrypoint refuses a bool custom property."""
    return [
        f"{key}.{k}"
        for key, meta in task.metadata_before_mlmd.items()
        for k, v in meta.items()
        if isinstance(v, bool)
    ]
