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
"""

import json
import os

from tfx import v1 as tfx
from tfx.utils import io_utils

from components.artifacts import CanaryVerdict, GateReport, ReleaseRecord, RunRecord
from components.monitor import publish, result
from components.state import RegionState
from driftgate.core import lease, storage
from driftgate.core import vocabulary as ids
from driftgate.core.config import alerts_config_from_dict
from driftgate.core.layout import RegionLayout

std = tfx.types.standard_artifacts
In = tfx.dsl.components.InputArtifact


@tfx.dsl.components.component
def RunRecorder(
    examples: In[std.Examples],
    report: In[GateReport],
    canary: In[CanaryVerdict],
    record: tfx.dsl.components.OutputArtifact[RunRecord],
    root: tfx.dsl.components.Parameter[str],
    region: tfx.dsl.components.Parameter[str],
    model_name: tfx.dsl.components.Parameter[str],
    features: tfx.dsl.components.Parameter[str],
    alerts_config: tfx.dsl.components.Parameter[str],
    pushgateway: tfx.dsl.components.Parameter[str] = "",
    driftgate_version: tfx.dsl.components.Parameter[str] = "",
    run_id: tfx.dsl.components.Parameter[str] = "",
    baseline: In[std.Model] = None,
    blessing: In[std.ModelBlessing] = None,
    evaluation: In[std.ModelEvaluation] = None,
    pushed_model: In[std.PushedModel] = None,
    release: In[ReleaseRecord] = None,
):
    """Records and publishes the run (never fails on a side channel)."""
    layout = RegionLayout(root, region, model_name)
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
    run = result.build(region, layout.model_base_path, {k: a for k, a in given.items() if a is not None})
    run.driftgate_version = driftgate_version or None
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
