"""Names that cross file boundaries, declared once: span decisions, drift
severities and their order, the drift tests, baselines, node ids and the ML
Metadata property keys the gate writes and the runners, reports and pipeline
conditions read. Plain strings (they are what JSON files, MLMD and KFP
conditions hold); nothing here imports another module.
"""

# what the span gate decides (custom property "decision" of its report)
SKIP, RETRAIN, BLOCK = "skip", "retrain", "block"
DECISIONS = (SKIP, RETRAIN, BLOCK)

# drift severities, in order; "insufficient_data" ranks as none (no verdict)
NONE, WARNING, CRITICAL, INSUFFICIENT = "none", "warning", "critical", "insufficient_data"
SEVERITY_RANK = {NONE: 0, INSUFFICIENT: 0, WARNING: 1, CRITICAL: 2}
NEVER = "never"  # a floor no severity reaches (drift.block_on_skew: never)

# drift tests: name -> (feature kind, label in reports)
NUMERIC, CATEGORICAL = "numeric", "categorical"
DRIFT_TESTS = {  # in the order tables and reports show them
    "ks": ((NUMERIC,), "KS distance"),
    "wasserstein": ((NUMERIC,), "W1 / std"),
    "chi2": ((CATEGORICAL,), "Cramér's V"),
    "psi": ((NUMERIC, CATEGORICAL), "PSI"),
    "js": ((NUMERIC, CATEGORICAL), "Jensen-Shannon distance"),
    "linf": ((CATEGORICAL,), "L-inf"),
}


def tests_for(kind: str) -> tuple:
    """The drift tests that apply to a feature of ``kind``."""
    return tuple(name for name, (kinds, _) in DRIFT_TESTS.items() if kind in kinds)


# what a span is compared with
PREVIOUS, TRAINING, SERVING = "previous", "training", "serving"
BASELINES = (PREVIOUS, TRAINING, SERVING)

# pipeline node ids
EXAMPLE_GEN = "example_gen"
SCHEMA_IMPORTER = "schema_importer"
STATISTICS_GEN = "statistics_gen"
EXAMPLE_VALIDATOR = "example_validator"
CANARY_JUDGE = "canary_judge"
SPAN_GATE = "span_gate"
SERVING_BASELINE = "serving_baseline"
TRAINER = "trainer"
EVALUATOR = "evaluator"
PUSHER = "pusher"
RELEASE_RECORDER = "release_recorder"
TRAINING_NODES = (SERVING_BASELINE, TRAINER, EVALUATOR, PUSHER, RELEASE_RECORDER)
# the run recorder: one node per branch of the decision (a node outside the
# retrain condition cannot read its outputs), so exactly one of them runs
RUN_RECORDER, RUN_RECORDER_RETRAIN = "run_recorder", "run_recorder_retrain"

# files inside artifacts
CANARY_VERDICT_FILE = "canary_verdict.json"
RUN_RECORD_FILE = "result.json"
RUN_REPORT_FILE = "report.html"

# canary verdicts (the judge's, plus "none" when the region has no canary)
NO_CANARY, PROMOTE, ROLLBACK, PENDING = "none", "promote", "rollback", "pending"
# what the release step made of a pushed version
STABLE_LABEL, CANARY_LABEL, REJECTED = "stable", "canary", "rejected"

# custom properties of the gate's report artifact (ML Metadata / KFP metadata)
PROP_DECISION = "decision"
PROP_SPAN = "span"
PROP_SCHEMA_VERSION = "schema_version"
PROP_SCHEMA_COMMIT = "schema_commit"
PROP_INGEST_REASON = "ingest_reason"
PROP_BLOCKING_ANOMALIES = "blocking_anomalies"


def drift_property(baseline: str) -> str:
    """Custom property holding the drift severity against ``baseline``."""
    return f"drift_{baseline}"


# Kubeflow run parameters (the run form in the KFP UI, `driftgate kfp run`,
# each scheduled run): name -> default. Defaults are truthy strings, so the
# UI's run form (versions up to 2.4 treat a falsy default as missing) shows them.
PARAM_SPAN, PARAM_RETRAIN, PARAM_NOTE = "span", "retrain", "note"
SPAN_NEXT = "next"  # the span parameter's default: the next unprocessed span
LANDING_MANIFEST = "_MANIFEST.json"  # a span folder being landed from Kafka holds this from its first file
SEALED_MARKER = "_SUCCESS"  # a Kafka-sourced span is complete once its folder holds this (driftgate land)
RETRAIN_AUTO, RETRAIN_FORCE = "auto", "force"
NO_NOTE = "-"  # the note parameter's default: no note
RUN_PARAMETERS = {PARAM_SPAN: SPAN_NEXT, PARAM_RETRAIN: RETRAIN_AUTO, PARAM_NOTE: NO_NOTE}
RUN_PARAMETER_HELP = {
    PARAM_SPAN: '"next" (the oldest span not yet processed) or a span number to (re)ingest, e.g. "7"',
    PARAM_RETRAIN: '"auto" (the gate decides) or "force" (retrain even without drift)',
    PARAM_NOTE: 'free text copied into the run\'s result and report (an audit trail); "-" for none',
}

# what a run that ended without a run record is reported as (the exit task's alert)
RUN_FAILED = "failed"
# the exit task of a Kubeflow run (runs after every other task, failed or not)
RUN_FINALIZER = "run_finalizer"
# container env of every Kubeflow task: the region's lease and pipeline root,
# so the task entrypoint renews its run's lease while it works
ENV_LEASE_FILE = "DRIFTGATE_LEASE_FILE"
ENV_PIPELINE_ROOT = "DRIFTGATE_PIPELINE_ROOT"
