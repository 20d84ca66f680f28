"""The record of one region run, built from the run's own artifacts.

``build`` turns the artifacts of a run (the span, the gate report, the canary
verdict and, when it trained, the baseline, blessing, evaluation, push and
release records) into a ``RunResult``: the run-recorder node calls it with its
inputs, in both runners. ``collect`` reads a finished run back from ML
Metadata: the record that node wrote, or (a run that stopped before it) the
same ``build`` over the run's outputs.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.gate.decision import BLOCK, REPORT_FILE, SpanReport
from driftgate.core import storage
from driftgate.core import vocabulary as ids

OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)


@dataclass
class RunResult:
    """One region run, as ``driftgate run --json`` prints it."""

    region: str
    span: Optional[int]
    rows: int
    anomalies: List[dict]
    blocked: bool
    blessed: Optional[bool]
    pushed_version: Optional[int]
    serving_dir: str
    metrics: Dict[str, float]
    decision: str = ""
    summary: str = ""  # the decision in one sentence, with its evidence (the gate's)
    schema_version: str = ""
    release_label: Optional[str] = None  # stable / canary / rejected for a pushed version
    schema_commit: Optional[str] = None
    drift: Optional[SpanReport] = None  # the span gate's report (JSON: its dict, or {})
    baseline_version: Optional[int] = None
    not_blessed_reasons: List[str] = field(default_factory=list)
    reasons: List[str] = field(default_factory=list)
    run_id: str = ""
    duration_s: float = 0.0
    component_seconds: Dict[str, float] = field(default_factory=dict)
    driftgate_version: Optional[str] = None  # of the code that ran
    warnings: List[str] = field(default_factory=list)  # side channels that failed (metrics, alerts, report)
    canary: Dict[str, object] = field(default_factory=dict)  # the canary judge's verdict before the gate
    release_reason: str = ""  # why a pushed version got no label (rejected: the smoke test's error)
    alerts: List[dict] = field(default_factory=list)  # what happened to each alert of the run
    files: Dict[str, str] = field(default_factory=dict)  # result, report, metrics: where they were written
    note: str = ""  # the run's free-text note (Kubeflow run parameter ``note``): an audit trail
    # the candidate per slice of evaluation.slices (the Evaluator's): slice, rows, auc, auc_diff vs
    # the serving model, fall_out, miss_rate; a slice below min_slice_rows: "not_judged": true
    slice_metrics: List[dict] = field(default_factory=list)

    def __post_init__(self):
        if isinstance(self.drift, dict):  # read back from JSON
            self.drift = SpanReport.from_json_dict(self.drift) if self.drift else None

    @classmethod
    def empty(cls, region: str, serving_dir: str, **fields) -> "RunResult":
        """A result with nothing recorded yet (``fields`` set the rest)."""
        base = dict(
            span=None, rows=0, anomalies=[], blocked=False, blessed=None, pushed_version=None, metrics={}
        )
        return cls(region=region, serving_dir=serving_dir, **dict(base, **fields))

    def comparison(self, baseline: str):
        """The drift comparison against ``baseline`` (a Comparison), or None."""
        return self.drift.drift.get(baseline) if self.drift is not None else None

    def to_json_dict(self) -> dict:
        d = asdict(self)
        d["drift"] = self.drift.to_json_dict() if self.drift is not None else {}
        return d


def _prop(artifact, name: str):
    """A custom property of a TFX Artifact (in a node: decoded by TFX, which
    also reads the JSON-valued properties a Kubeflow launcher hands over) or
    of an MLMD Artifact proto (read back from the store)."""
    if hasattr(artifact, "get_custom_property"):
        return artifact.get_custom_property(name) if artifact.has_custom_property(name) else None
    if name not in artifact.custom_properties:
        return None
    v = artifact.custom_properties[name]
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def _node_outputs(store: metadata_store.MetadataStore, run_id: str) -> tuple:
    """({node_id: {output_key: artifact}}, run_id) of the pipeline run ``run_id``
    (never "the newest": another run of the region may have started since)."""
    run = store.get_context_by_type_and_name("pipeline_run", run_id)
    if run is None:
        raise RuntimeError(f"pipeline run {run_id!r} is not recorded in ML Metadata")
    node_type = store.get_context_type("node")
    executions = store.get_executions_by_context(run.id)
    out: Dict[str, Dict[str, metadata_store_pb2.Artifact]] = {}
    events = store.get_events_by_execution_ids([e.id for e in executions])
    artifacts = {a.id: a for a in store.get_artifacts_by_id({ev.artifact_id for ev in events})}
    by_exec: Dict[int, list] = {}
    for ev in events:
        if ev.type in OUTPUT_EVENTS:
            by_exec.setdefault(ev.execution_id, []).append(ev)
    for e in executions:
        ctxs = [c for c in store.get_contexts_by_execution(e.id) if c.type_id == node_type.id]
        if not ctxs:
            continue
        node = ctxs[0].name.split(".", 1)[-1]
        for ev in by_exec.get(e.id, []):
            key = ev.path.steps[0].key if ev.path.steps else "output"
            out.setdefault(node, {})[key] = artifacts[ev.artifact_id]
    return out, run.name


def read_metrics(evaluation_uri: str) -> Dict[str, float]:
    """Overall-slice metrics of the candidate model from an Evaluator output."""
    import tensorflow_model_analysis as tfma

    metrics: Dict[str, float] = {}
    for per_slice in tfma.load_metrics(evaluation_uri):
        if per_slice.slice_key.single_slice_keys:
            continue
        for kv in per_slice.metric_keys_and_values:
            key = kv.key
            if key.is_diff or key.model_name not in ("", "candidate"):
                continue
            if kv.value.HasField("double_value"):
                metrics[key.name] = round(kv.value.double_value.value, 6)
    return metrics


def read_slice_metrics(evaluation_uri: str) -> List[dict]:
    """The candidate on each slice other than the whole span (none without
    ``evaluation.slices``), largest first."""
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.slicer import slicer_lib

    from components.evaluator.slicing import ERROR, label

    out = []
    for per_slice in tfma.load_metrics(evaluation_uri):
        key = slicer_lib.deserialize_slice_key(per_slice.slice_key)
        if not key:
            continue
        if ERROR in per_slice.metrics:
            out.append({"slice": label(key), "rows": None, "not_judged": True})
            continue
        row: Dict[str, object] = {"slice": label(key)}
        for kv in per_slice.metric_keys_and_values:
            k = kv.key
            if k.model_name not in ("", "candidate") or not kv.value.HasField("double_value"):
                continue
            name = {"example_count": "rows"}.get(k.name, k.name) + ("_diff" if k.is_diff else "")
            row[name] = round(kv.value.double_value.value, 6)
        out.append(row)
    return sorted(out, key=lambda r: (-(r.get("rows") or 0), r["slice"]))


def read_validation_failures(evaluation_uri: str) -> List[str]:
    """Readable reasons the Evaluator did not bless the candidate: the slice,
    the metric, its value and the threshold it failed."""
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format
    from tensorflow_model_analysis.slicer import slicer_lib

    from components.evaluator.slicing import label

    result = tfma.load_validation_result(evaluation_uri)
    reasons = []
    for per_slice in result.metric_validations_per_slice:
        where = label(slicer_lib.deserialize_slice_key(per_slice.slice_key))
        for failure in per_slice.failures:
            name = failure.metric_key.name + (" change vs serving" if failure.metric_key.is_diff else "")
            value = failure.metric_value.double_value.value if failure.HasField("metric_value") else None
            threshold = json_format.MessageToDict(failure.metric_threshold)
            said = f"{where}: {name}" + (f" {value:.4f}" if value is not None else "")
            reasons.append(f"{said} fails {threshold}" + (f" ({failure.message})" if failure.message else ""))
    if result.missing_slices:
        reasons.append(
            f"slices not found in the data: {[list(s.feature_keys) for s in result.missing_slices]}"
        )
    return reasons


def release_label(model_base_path: str, version: int) -> Optional[str]:
    """``stable``, ``canary`` or ``rejected``: what the release step made of a
    pushed version (``serving/release.py`` state beside the base path)."""
    from serving import release

    serving_dir = storage.dirname(model_base_path)
    if not storage.exists(storage.join(serving_dir, release.STATE_FILE)):
        return None
    state = release.load_state(serving_dir, os.path.basename(model_base_path))
    if state.stable == version:
        return "stable"
    if state.canary == version:
        return "canary"
    return ids.REJECTED if version in state.rejected else None


# (node id, output key) of each artifact a run record is built from
SOURCES = {
    "examples": (ids.EXAMPLE_GEN, "examples"),
    "report": (ids.SPAN_GATE, "report"),
    "canary": (ids.CANARY_JUDGE, "verdict"),
    "baseline": (ids.SERVING_BASELINE, "model"),
    "blessing": (ids.EVALUATOR, "blessing"),
    "evaluation": (ids.EVALUATOR, "evaluation"),
    "pushed_model": (ids.PUSHER, "pushed_model"),
    "release": (ids.RELEASE_RECORDER, "release"),
}


def build(region: str, model_base_path: str, artifacts: Dict[str, object]) -> RunResult:
    """The RunResult of a run from its artifacts (TFX Artifacts or MLMD
    protos, keyed as in ``SOURCES``; absent keys are steps that did not run)."""
    result = RunResult.empty(region, model_base_path)
    examples = artifacts.get("examples")
    if examples is not None:
        span = _prop(examples, "span")  # a custom property under the IR-based runners
        result.span = int(span) if span is not None else None
    report_art = artifacts.get("report")
    if report_art is not None:
        report = SpanReport.from_json_dict(
            json.loads(storage.read_text(storage.join(report_art.uri, REPORT_FILE)))
        )
        result.rows = sum(report.rows.values())
        result.anomalies = [dict(vars(f), types=list(f.types)) for f in report.findings]
        result.decision = report.decision
        result.summary = report.summary
        result.blocked = report.decision == BLOCK
        result.reasons = report.reasons
        result.drift = report
        result.schema_version = str(report.schema.get("version") or "")
        result.schema_commit = report.schema.get("commit")
    canary = artifacts.get("canary")
    if canary is not None:
        verdict = json.loads(storage.read_text(storage.join(canary.uri, ids.CANARY_VERDICT_FILE)))
        result.canary = {
            k: verdict.get(k)
            for k in (
                "verdict",
                "stable_version",
                "canary_version",
                "span",
                "rows",
                "reasons",
                "report",
                "quality",
                "live",  # the live health of both TF Serving tracks (components.canary.live)
                "decided_by",
                "offline_verdict",
            )
        }
        # the base path the configs named before the root moved; what an earlier
        # run stopped mid-way left, repaired before judging
        result.canary.update({k: verdict[k] for k in ("relocated_from", "repaired") if k in verdict})
    baseline = artifacts.get("baseline")
    if baseline is not None and _prop(baseline, "has_model"):
        result.baseline_version = int(_prop(baseline, "serving_version"))
    blessing, evaluation = artifacts.get("blessing"), artifacts.get("evaluation")
    if blessing is not None:
        result.blessed = bool(_prop(blessing, "blessed"))
    if evaluation is not None:
        result.metrics = read_metrics(evaluation.uri)
        result.slice_metrics = read_slice_metrics(evaluation.uri)
        if result.blessed is False:
            result.not_blessed_reasons = read_validation_failures(evaluation.uri)
    pushed = artifacts.get("pushed_model")
    if pushed is not None and _prop(pushed, "pushed"):
        result.pushed_version = int(_prop(pushed, "pushed_version"))
    release = artifacts.get("release")
    if release is not None and result.pushed_version is not None:
        result.release_label = _prop(release, "label") or None
        result.release_reason = _prop(release, "reason") or ""
    elif result.pushed_version is not None:
        result.release_label = release_label(model_base_path, result.pushed_version)
    if result.release_label == ids.REJECTED:  # said first: an operator must not read "pushed 4" as done
        result.summary = (
            f"{result.decision}: version {result.pushed_version} was pushed but REJECTED at release, "
            f"not labelled, serving unchanged ({result.release_reason or 'see release.json'})"
            + (f"; gate: {result.summary}" if result.summary else "")
        )
    return result


def collect(config, layout, run_id: str, metadata_path: str = "") -> RunResult:
    """The RunResult of pipeline run ``run_id`` in the region's ML Metadata
    (``metadata_path``, by default ``layout.metadata_path``: the local copy
    of a bucket root's): the run record its recorder node wrote, else built
    from the run's outputs."""
    conn = metadata_store_pb2.ConnectionConfig()
    conn.sqlite.filename_uri = metadata_path or layout.metadata_path
    conn.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    store = metadata_store.MetadataStore(conn)
    outputs, run_id = _node_outputs(store, run_id)
    for node in (ids.RUN_RECORDER, ids.RUN_RECORDER_RETRAIN):
        record = outputs.get(node, {}).get("record")
        if record is not None:
            result = RunResult(**json.loads(storage.read_text(storage.join(record.uri, ids.RUN_RECORD_FILE))))
            break
    else:
        artifacts = {name: outputs.get(node, {}).get(key) for name, (node, key) in SOURCES.items()}
        result = build(
            config.region, layout.model_base_path, {k: v for k, v in artifacts.items() if v is not None}
        )
    result.run_id = run_id
    return result
