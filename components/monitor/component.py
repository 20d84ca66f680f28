"""The run recorder: the last node of every run, whatever the gate decided.

It builds the run's ``RunResult`` from its own inputs (``result.build``) and
publishes it (``publish``): result JSON and HTML report under the region root,
metrics to the textfile and the Pushgateway, alerts to Slack or PagerDuty
(secrets from the task's environment: on Kubeflow a Kubernetes Secret, see
``pipelines.kubeflow_runner``). Copies of the result and the report are its
output artifact, so the Kubeflow UI lists them on the run page.

A node outside ``Cond(decision == retrain)`` cannot consume the outputs of
nodes inside it, so the pipeline has two instances: ``run_recorder`` under
``decision != retrain`` with the ingest and canary inputs, and
``run_recorder_retrain`` inside the retrain branch, after the release step.
Exactly one of them runs.

For the Kubeflow Pipelines UI each also writes the run as the UI draws it
(``components.monitor.ui``): the report as ``system.HTML``, a Markdown summary,
the run's numbers as ``system.Metrics`` and, in the retrain branch, the
candidate's ROC curve and confusion matrix as ``system.ClassificationMetrics``.

Docs: ``docs/monitoring.md``.
"""

import json
import os

from tfx.types import standard_artifacts as std
from tfx.utils import io_utils

from components.artifacts import (
    CanaryVerdict,
    GateReport,
    ModelQuality,
    ReleaseRecord,
    RunMetrics,
    RunRecord,
    RunReportHtml,
    RunSummaryMarkdown,
)
from components.monitor import finalizer, publish, result, trail, ui
from components.node import In, Out, Param, component
from components.state import RegionState
from driftgate.core import lease, storage
from driftgate.core import vocabulary as ids
from driftgate.core.config import alerts_config_from_dict
from driftgate.core.layout import RegionLayout


@component
def RunRecorder(
    examples: In[std.Examples],
    report: In[GateReport],
    canary: In[CanaryVerdict],
    record: Out[RunRecord],
    html: Out[RunReportHtml],
    summary: Out[RunSummaryMarkdown],
    metrics: Out[RunMetrics],
    layout: Param[str],
    features: Param[str],
    alerts_config: Param[str],
    pushgateway: Param[str] = "",
    driftgate_version: Param[str] = "",
    run_id: Param[str] = "",
    note: Param[str] = ids.NO_NOTE,
    config_hash: Param[str] = "",
):
    """Records and publishes a run that did not train (never fails on a side channel)."""
    run = _record(dict(examples=examples, report=report, canary=canary), record, **_parameters(locals()))
    _write_ui(run, html, summary, metrics)


@component
def RunRecorderRetrain(
    examples: In[std.Examples],
    report: In[GateReport],
    canary: In[CanaryVerdict],
    baseline: In[std.Model],
    blessing: In[std.ModelBlessing],
    evaluation: In[std.ModelEvaluation],
    pushed_model: In[std.PushedModel],
    release: In[ReleaseRecord],
    record: Out[RunRecord],
    html: Out[RunReportHtml],
    summary: Out[RunSummaryMarkdown],
    metrics: Out[RunMetrics],
    quality: Out[ModelQuality],
    layout: Param[str],
    features: Param[str],
    alerts_config: Param[str],
    pushgateway: Param[str] = "",
    driftgate_version: Param[str] = "",
    run_id: Param[str] = "",
    note: Param[str] = ids.NO_NOTE,
    config_hash: Param[str] = "",
):
    """Records and publishes a run that trained, with the candidate's ROC and
    confusion matrix (never fails on a side channel)."""
    given = dict(
        examples=examples,
        report=report,
        canary=canary,
        baseline=baseline,
        blessing=blessing,
        evaluation=evaluation,
        pushed_model=pushed_model,
        release=release,
    )
    run = _record(given, record, **_parameters(locals()))
    _write_ui(run, html, summary, metrics)
    quality.set_string_custom_property(
        ui.DISPLAY_NAME, f"{ui.display_name(run)}: candidate on the eval split"
    )
    try:
        roc = ui.classification_metrics(evaluation.uri)
    except Exception as exc:  # noqa: BLE001 - a view, never a failed run
        roc = None
        run.warnings.append(f"ui: ROC not read from the evaluation ({type(exc).__name__}: {exc})")
    if roc is not None:
        confusion, confidence = roc
        quality.set_json_value_custom_property(ui.CONFUSION_MATRIX, confusion)
        quality.set_json_value_custom_property(ui.CONFIDENCE_METRICS, confidence)


@component
def RunFinalizer(
    outcome: Out[RunSummaryMarkdown],
    layout: Param[str],
    alerts_config: Param[str],
    pushgateway: Param[str] = "",
):
    """The Kubeflow run's exit task (``components.monitor.finalizer``): frees the
    region of a run that ended without a run record, and then fails (exit 1)."""
    where = RegionLayout.from_json(layout)
    done = finalizer.finalize(
        where,
        outcome.uri,
        alerts_cfg=alerts_config_from_dict(json.loads(alerts_config)),
        pushgateway=pushgateway or None,
        environ=os.environ,
    )
    outcome.set_string_custom_property(ui.DISPLAY_NAME, f"{where.region} run {done.run_id}: {done.state}")
    if done.failed:
        trail.failure(done, where)
        raise finalizer.RunFailed(done.summary + (f" ({'; '.join(done.warnings)})" if done.warnings else ""))


# the recorders' parameters, the same on both (a function component takes no **kwargs)
PARAMETERS = (
    "layout",
    "features",
    "alerts_config",
    "pushgateway",
    "driftgate_version",
    "run_id",
    "note",
    "config_hash",
)


def _parameters(scope: dict) -> dict:
    return {k: scope[k] for k in PARAMETERS}


def _record(
    artifacts,
    record,
    *,
    layout,
    features,
    alerts_config,
    pushgateway,
    driftgate_version,
    run_id,
    note,
    config_hash,
):
    layout = RegionLayout.from_json(layout)
    run = result.build(layout.region, layout.model_base_path, artifacts)
    run.driftgate_version = driftgate_version or None
    run.note = "" if note in ("", ids.NO_NOTE) else note
    # the runner's id for the run, else (Kubeflow: one spec, many runs) where KFP put this output
    run.run_id = run_id or lease.run_id_from_uri(record.uri, layout.pipeline_root)
    if run.span is not None:  # its state work is done: the next run moves on (components.state);
        # what follows are side channels, which never fail the run
        RegionState(layout.state_dir).mark_completed(run.span, run.run_id)
    if run.run_id:  # the region is free for the next run (taken by the ingest task)
        try:
            lease.release_run(layout.lease_file, run.run_id)
        except Exception as exc:  # noqa: BLE001 - it expires on its own
            run.warnings.append(f"region lease not released ({type(exc).__name__}: {exc}); it expires")
    publish.publish(
        run,
        layout,
        features=json.loads(features),
        alerts_cfg=alerts_config_from_dict(json.loads(alerts_config)),
        pushgateway=pushgateway or None,
        environ=os.environ,
    )
    trail.decision(run, layout)  # the decision as a log event and an audit record, with its report
    io_utils.write_string_file(
        os.path.join(record.uri, ids.RUN_RECORD_FILE), json.dumps(run.to_json_dict(), indent=1)
    )
    if run.files.get("report") and storage.exists(run.files["report"]):
        io_utils.write_string_file(
            os.path.join(record.uri, ids.RUN_REPORT_FILE), storage.read_text(run.files["report"])
        )
    record.set_string_custom_property(ids.PROP_DECISION, run.decision)
    record.set_int_custom_property(ids.PROP_SPAN, run.span or 0)
    record.set_string_custom_property("canary_verdict", str(run.canary.get("verdict", "")))
    record.set_int_custom_property("pushed_version", run.pushed_version or 0)
    record.set_string_custom_property("release_label", run.release_label or "")
    record.set_int_custom_property("warnings", len(run.warnings))
    return run


def _write_ui(run, html, summary, metrics) -> None:
    """The run as the Kubeflow UI draws it: each file *at* its artifact's URI."""
    name = ui.display_name(run)
    report = run.files.get("report")
    page = storage.read_text(report) if report and storage.exists(report) else ui.fallback_html(run)
    for artifact, text, kind in (
        (html, page, "report"),
        (summary, ui.summary_markdown(run), "summary"),
    ):
        storage.write_atomic(artifact.uri, text)
        artifact.set_string_custom_property(ui.DISPLAY_NAME, f"{name} ({kind})")
    metrics.set_string_custom_property(ui.DISPLAY_NAME, name)
    for key, value in ui.scalar_metrics(run).items():
        metrics.set_float_custom_property(key, value)
