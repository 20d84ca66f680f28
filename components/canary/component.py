"""Judges the region's canary on the new span before the gate decides anything.

When the region has a canary (``serving/release.py`` state), both models score
every labelled row of the span through their serving signature, and
``serving.canary.judge_and_apply`` promotes it, rolls it back or leaves it
pending (too few rows, or an inconclusive interval), records the verdict
beside the TF Serving config and returns it. The verdict is this node's
output artifact, so ML Metadata holds it and the run record reads it. Runs in
both runners (no Resolver, no extra task type): the gate depends on it, so a
new version is never pushed over a canary that was not judged.
"""

import json
import os

import numpy as np
from absl import logging
from tfx import v1 as tfx
from tfx.utils import io_utils

from components.artifacts import CanaryVerdict
from components.gate.decision import classify
from components.gate.executor import read_anomalies
from components.ingest import spans
from components.ingest.executor import artifact_span, ingest_choice
from components.ingest.records import label_values, serialized_examples
from components.state import RegionState
from driftgate.core import vocabulary as ids
from driftgate.core.config import canary_config_from_dict
from driftgate.core.layout import RegionLayout


def hold_reason(span: int, ingest_reason: str, canary_span, findings) -> "str | None":
    """Why span ``span`` must not judge the canary (None: it may): no new span
    arrived, the span is not newer than the canary's training span, or the
    span has blocking anomalies (the gate will block it)."""
    if ingest_reason == spans.NO_NEW_SPAN:
        return f"no new span (span {span} read again); judged when one arrives"
    if canary_span is not None and span <= canary_span:
        return f"span {span} is not newer than the canary's training span {canary_span}"
    blocking = [f for f in findings if f.blocking]
    if blocking:
        return f"span {span} has {len(blocking)} blocking data anomalies; judged on the next good span"
    return None


@tfx.dsl.components.component
def CanaryJudge(
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    verdict: tfx.dsl.components.OutputArtifact[CanaryVerdict],
    root: tfx.dsl.components.Parameter[str],
    region: tfx.dsl.components.Parameter[str],
    model_name: tfx.dsl.components.Parameter[str],
    label: tfx.dsl.components.Parameter[str],
    canary_config: tfx.dsl.components.Parameter[str],
    warn_only_types: tfx.dsl.components.Parameter[str] = "[]",
    warn_only_features: tfx.dsl.components.Parameter[str] = "[]",
):
    """Promotes, rolls back or keeps pending the region's canary (``none`` without one)."""
    from serving import canary, release

    layout = RegionLayout(root, region, model_name)
    span = artifact_span(examples)
    state = release.load_state(layout.serving_dir, model_name)
    records, labels, hold = [], np.zeros(0), None
    if state.canary is not None:
        findings = classify(
            read_anomalies(anomalies), json.loads(warn_only_types), json.loads(warn_only_features)
        )
        canary_span = RegionState(layout.state_dir).training_span(state.canary)
        hold = hold_reason(span, ingest_choice(examples).reason, canary_span, findings)
        if hold is None:
            records = serialized_examples(examples)
            labels = label_values(records, label)
            keep = ~np.isnan(labels)
            records, labels = [r for r, k in zip(records, keep, strict=True) if k], labels[keep]
    try:
        result = canary.judge_and_apply(
            layout.serving_dir,
            model_name,
            records,
            labels,
            canary_config_from_dict(json.loads(canary_config)),
            span,
            record_path=layout.canary_record,
            hold=hold,
        )
    except Exception as exc:  # cannot judge now: the labels stay, the next span judges it
        logging.exception("canary judgement failed")
        why = f"could not judge on span {span}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        result = canary.judge_and_apply(layout.serving_dir, model_name, records, labels, None, span, hold=why)
    result["region"] = region
    logging.info("canary verdict for %s span %d: %s", region, span, result["verdict"])
    io_utils.write_string_file(
        os.path.join(verdict.uri, ids.CANARY_VERDICT_FILE), json.dumps(result, indent=1)
    )
    verdict.set_string_custom_property("verdict", result["verdict"])
    verdict.set_int_custom_property("span", span)
    verdict.set_int_custom_property("stable_version", result.get("stable_version") or 0)
    verdict.set_int_custom_property("canary_version", result.get("canary_version") or 0)
