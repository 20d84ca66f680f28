"""Judges the region's canary on the new span before the gate decides anything.

When the region has a canary (``serving/release.py`` state), both models score
every labelled row of the span through their serving signature, and
``components.canary.analysis.judge_and_apply`` promotes it, rolls it back or leaves it
pending (too few rows, or an inconclusive interval), records the verdict
beside the TF Serving config and returns it. The verdict is this node's
output artifact, so ML Metadata holds it and the run record reads it. Runs in
both runners (no Resolver, no extra task type): the gate depends on it, so a
new version is never pushed over a canary that was not judged.

With ``serving.prometheus_url`` the verdict also weighs the canary's live
health: both TF Serving tracks' requests, errors and p99 latency in Prometheus
since the push (``components.canary.live``); a canary failing live health is
rolled back even when its offline quality holds.

After the judgement the node also judges the serving (stable) model on the
newest labelled span (``labels.delay_spans`` back; a delayed span is read
from the region's data files): AUC with a bootstrap interval, accuracy and
prediction drift against the reference recorded at its push, its staleness
and its fairness across the region's slices (``components.quality.span``). The verdict's ``quality`` block is what the gate
retrains on when the model degraded.

Docs: ``docs/canary.md``.
"""

import json
import os

import numpy as np
from absl import logging
from tfx.types import standard_artifacts as std
from tfx.utils import io_utils

from components.artifacts import CanaryVerdict
from components.canary import analysis, live
from components.gate.decision import classify
from components.gate.executor import read_anomalies
from components.ingest import spans
from components.ingest.recorded import artifact_span, ingest_choice
from components.ingest.records import labelled
from components.node import In, Out, Param, component
from components.quality.span import delayed_span_rows, serving_quality
from components.state import RegionState
from driftgate.core import vocabulary as ids
from driftgate.core.config import canary_config_from_dict
from driftgate.core.layout import RegionLayout
from serving import release, repair


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


@component
def CanaryJudge(
    examples: In[std.Examples],
    anomalies: In[std.ExampleAnomalies],
    verdict: Out[CanaryVerdict],
    layout: Param[str],
    label: Param[str],
    canary_config: Param[str],
    warn_only_types: Param[str] = "[]",
    warn_only_features: Param[str] = "[]",
    quality_config: Param[str] = "{}",
    labels_delay_spans: Param[int] = 0,
    span_pattern: Param[str] = "",
    data_format: Param[str] = "csv",
    challenger: Param[str] = "{}",
    slices: Param[str] = "{}",
    prometheus_url: Param[str] = "",
    config_hash: Param[str] = "",  # in the log context and audit records of the verdict
):
    """Promotes, rolls back or keeps pending the region's canary (``none``
    without one), then judges the serving model's quality."""
    from driftgate.core.config import quality_config_from_dict

    where = RegionLayout.from_json(layout)
    region, model_name, served_base_path = where.region, where.model_name, where.served_base_path
    span = artifact_span(examples)
    # what an earlier run stopped mid-way, or a moved root, left: repaired before anything relies on it
    repaired = repair.repair(where.serving_dir, model_name, served_base_path)
    for line in repaired.lines():
        logging.warning("%s: %s", region, line)
    state = release.load_state(where.serving_dir, model_name, served_base_path)
    findings = classify(
        read_anomalies(anomalies), json.loads(warn_only_types), json.loads(warn_only_features)
    )
    ingest_reason = ingest_choice(examples).reason
    records, labels, hold = [], np.zeros(0), None
    current: dict = {}

    def split_rows():  # the span's labelled rows (train, then eval) and which are eval, read once
        if not current:
            train, evals = labelled(examples, label, ("train",)), labelled(examples, label, ("eval",))
            is_eval = np.r_[np.zeros(len(train[0]), bool), np.ones(len(evals[0]), bool)]
            current["rows"] = (train[0] + evals[0], np.r_[train[1], evals[1]], is_eval)
        return current["rows"]

    def span_rows():
        return split_rows()[:2]

    if state.canary is not None:
        canary_span = RegionState(where.state_dir).training_span(state.canary)
        hold = hold_reason(span, ingest_reason, canary_span, findings)
        if hold is None:
            records, labels = span_rows()
    cfg = canary_config_from_dict(json.loads(canary_config))
    live_check = None
    if prometheus_url:  # both tracks' live health since the push (a token from the mounted Secret)
        live_check = lambda since: live.assess(prometheus_url, region, model_name, cfg, since)  # noqa: E731
    try:
        result = analysis.judge_and_apply(
            where.serving_dir,
            model_name,
            records,
            labels,
            cfg,
            span,
            record_path=where.canary_record,
            hold=hold,
            served=served_base_path,
            live_check=live_check,
        )
    except Exception as exc:  # cannot judge now: the labels stay, the next span judges it
        logging.exception("canary judgement failed")
        why = f"could not judge on span {span}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        result = analysis.judge_and_apply(
            where.serving_dir, model_name, records, labels, None, span, hold=why, served=served_base_path
        )
    result["region"] = region
    if repaired.relocated_from:
        result["relocated_from"] = repaired.relocated_from
    if repaired.reconciled:
        result["repaired"] = repaired.reconciled
    logging.info("canary verdict for %s span %d: %s", region, span, result["verdict"])
    qcfg = quality_config_from_dict(json.loads(quality_config))
    if qcfg.enabled:
        judged = span - int(labels_delay_spans)
        spec = json.loads(challenger)
        rows = split_rows
        if labels_delay_spans:
            buckets = (spec.get("train_buckets", 3), spec.get("eval_buckets", 1))
            rows = lambda: delayed_span_rows(  # noqa: E731
                where.data_dir, span_pattern, judged, data_format, label, buckets
            )
        why = hold_reason(span, ingest_reason, None, findings)
        try:
            cfg = {
                "config": qcfg,
                "delay": labels_delay_spans,
                "slices": json.loads(slices),
                "current": (span, lambda: split_rows()[0]),  # the label-free estimate's rows
            }
            result["quality"] = serving_quality(where, model_name, judged, rows, cfg, why, spec)
        except Exception as exc:  # a side judgement: the gate decides without it
            logging.exception("serving quality failed")
            result["quality"] = {
                "verdict": "not_judged",
                "span": judged,
                "sentence": f"quality not judged: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
            }
        logging.info("serving quality: %s", result["quality"].get("sentence", "none"))
    io_utils.write_string_file(
        os.path.join(verdict.uri, ids.CANARY_VERDICT_FILE), json.dumps(result, indent=1)
    )
    verdict.set_string_custom_property("verdict", result["verdict"])
    verdict.set_int_custom_property("span", span)
    verdict.set_int_custom_property("stable_version", result.get("stable_version") or 0)
    verdict.set_int_custom_property("canary_version", result.get("canary_version") or 0)
