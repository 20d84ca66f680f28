"""Runs one region's pipeline on this machine with TFX's LocalDagRunner.

Thin: config -> paths -> region lease -> preflight -> ``create_pipeline`` ->
LocalDagRunner under a run id chosen here, then reads that run (and no other)
back from ML Metadata (``components.monitor.result``). One run of a region at
a time: the whole run holds the region's lease (``driftgate.core.lease``),
so two runs started together never pick the same span or push over each other.
State of a region lives under ``<root>/<REGION>/`` (SQLite metadata and TFX
artifacts); served models under ``<root>/serving/<REGION>/<model>/``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import uuid
from typing import Callable, Dict, Optional

from components.ingest import spans
from components.state import RegionState
from driftgate.core import lease, local_copies, storage
from driftgate.core.config import RegionConfig, region_data_dir, schema_file
from driftgate.core.layout import RegionLayout
from pipelines import preflight

Progress = Callable[[str], None]


def new_run_id(region: str) -> str:
    """A pipeline run id unique across processes: ``<REGION>-<UTC time>-<random>``."""
    return f"{region}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:6]}"


def _runner(run_id: str):
    """TFX's LocalDagRunner, running the pipeline under ``run_id`` (its own
    would be the start time: two runs in one second would share it)."""
    from tfx import v1 as tfx
    from tfx.dsl.compiler import constants
    from tfx.orchestration.portable import runtime_parameter_utils

    class Runner(tfx.orchestration.LocalDagRunner):
        def run_with_ir(self, pipeline, run_options=None):
            runtime_parameter_utils.substitute_runtime_parameter(
                pipeline, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id}
            )
            return super().run_with_ir(pipeline, run_options)

    return Runner()


def region_layout(
    config: RegionConfig, root: str, data: Optional[str] = None, schemas_dir=None
) -> RegionLayout:
    """Every location of ``config``'s region for a local run under ``root``."""
    return RegionLayout(
        storage.absolute(root),
        config.region,
        config.serving.model_name,
        data_dir=region_data_dir(config, data),
        schema_file=str(schema_file(config, schemas_dir)),
        served_base_path=config.serving.served_base_path(config.region),
    )


class _ComponentProgress(logging.Handler):
    """Turns LocalDagRunner's 'Component X is running/finished' log lines into
    one readable line per component that runs, and records each one's wall
    time. A node on the branch not taken (the retrain branch of a skipped or
    blocked span) is announced by the runner too, then skipped when its
    inputs resolve: it gets no line and is listed in ``skipped``."""

    def __init__(self, progress: Progress):
        super().__init__(level=logging.INFO)
        self.progress = progress
        self.started: Dict[str, float] = {}
        self.seconds: Dict[str, float] = {}
        self.skipped: list = []
        self.pending: Optional[str] = None  # announced, not yet known to run
        self.t0 = time.time()

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if msg.startswith("Component ") and msg.endswith(" is running."):
            self.pending = msg[len("Component ") : -len(" is running.")]
            self.started[self.pending] = time.time()
        elif msg.startswith("Going to run a new execution") and self.pending:
            self.progress(f"  [{self.started[self.pending] - self.t0:6.1f}s] {self.pending} ...")
            self.pending = None
        elif msg.startswith("Skipping execution for "):
            node = msg[len("Skipping execution for ") :]
            self.skipped.append(node)
            self.started.pop(node, None)
            self.pending = None
        elif msg.startswith("Component ") and msg.endswith(" is finished."):
            node = msg[len("Component ") : -len(" is finished.")]
            if node in self.started:
                self.seconds[node] = time.time() - self.started[node]


@contextlib.contextmanager
def _quiet_tfx(handler: logging.Handler):
    """Routes TFX/absl INFO chatter away from the terminal, keeping our handler
    and warnings; Keras' own prints go to stderr so stdout stays clean (--json)."""
    from absl import logging as absl_logging

    absl_logger = logging.getLogger("absl")
    absl_handler = absl_logging.get_absl_handler()
    old_level, old_handler_level = absl_logger.level, absl_handler.level
    absl_logging.set_verbosity(absl_logging.INFO)
    absl_handler.setLevel(logging.ERROR)
    old_propagate = absl_logger.propagate
    absl_logger.propagate = False  # beam installs a root handler that would echo INFO
    absl_logger.addHandler(handler)
    tf_logger = logging.getLogger("tensorflow")
    old_tf_level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)  # deprecation notices from TFMA internals
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        absl_logger.removeHandler(handler)
        absl_logger.propagate = old_propagate
        tf_logger.setLevel(old_tf_level)
        absl_handler.setLevel(old_handler_level)
        absl_logger.setLevel(old_level)


def choose_span_or_fail(layout: RegionLayout, config: RegionConfig, span: Optional[int]):
    """The span a run of the region ingests now (``components.ingest.spans``)."""
    processed = RegionState(layout.state_dir).processed_spans()
    available = preflight.available_spans(layout.data_dir, config.data.span_pattern)
    if not available:
        preflight.span_files(layout.data_dir, config.data.span_pattern, span)  # raises the usual error
    try:
        return spans.choose_span(available, processed, span)
    except spans.SpanError as exc:
        raise preflight.PreflightError(
            f"{layout.data_dir}: {exc} (pattern '{config.data.span_pattern}')"
        ) from None


def run_region(
    config: RegionConfig,
    *,
    root: str = "runs",
    data: Optional[str] = None,
    span: Optional[int] = None,
    force_retrain: bool = False,
    schemas_dir=None,
    pushgateway: Optional[str] = None,
    progress: Progress = lambda line: print(line, file=sys.stderr),
    wait_s: float = 0.0,
):
    """Runs the region's pipeline for ``span`` (when None, the span
    ``components.ingest.spans.choose_span`` picks: the oldest one not processed yet).

    ``pushgateway``: where the run recorder also pushes the metrics.
    ``wait_s``: how long to wait for another run of the region to finish.
    Returns a ``RunResult``. Raises LeaseHeld (another run of the region is
    under way), PreflightError (cannot start) or DataBlocked (span unfit,
    found before TFX ran); a span blocked by the pipeline's own data gate
    returns a result with ``blocked=True``.
    """
    run_id = new_run_id(config.region)
    lease_file = region_layout(config, root).lease_file
    with lease.held(lease_file, run_id, wait_s=wait_s, progress=progress):
        return _run_held(config, root, data, span, force_retrain, schemas_dir, pushgateway, progress, run_id)


def _failed(layout, run_id: str, node, exc: Exception) -> None:
    """A run whose task failed, as a ``run_failed`` event and an audit record
    (side channels: never hide the failure itself)."""
    import logging

    from driftgate.core import audit, logs

    text = (
        f"{layout.region} run {run_id} failed in {node or 'a task'}: {type(exc).__name__}: {str(exc)[:300]}"
    )
    with logs.context(region=layout.region, run_id=run_id):
        logs.event("run_failed", text, level=logging.ERROR, node_failed=node)
        why = {"by": "pipeline", "run_id": run_id, "node": node, "runner": "local"}
        audit.try_record(layout.region_root, "span_decision", "failed", text, why=why)


def _run_held(config, root, data, span, force_retrain, schemas_dir, pushgateway, progress, run_id):
    layout = region_layout(config, root, data, schemas_dir)
    required = list(config.features.all) + [config.features.label]
    preflight.check_schema_file(layout.schema_file, required)
    # the span example_gen will take (same rule, components.ingest.spans), checked first
    choice = choose_span_or_fail(layout, config, span)
    sf = preflight.span_files(layout.data_dir, config.data.span_pattern, choice.span)
    sf = preflight.check_span(sf, required, config.data.format)
    progress(
        f"{config.region} {choice.describe()}: {sf.rows:,} rows in {layout.data_dir}; "
        f"schema v{config.schema.version}"
    )

    from tfx import v1 as tfx

    from components.monitor.result import collect
    from driftgate.core.version import driftgate_version
    from pipelines.pipeline import create_pipeline
    from pipelines.schema_store import git_commit_of

    # ML Metadata is SQLite: a local file (on a bucket root, a copy written back after the run)
    with local_copies.local_file(layout.metadata_path) as metadata_path:
        pipeline = create_pipeline(
            config,
            layout,
            span=span,  # None: example_gen chooses by the same rule when it runs
            force_retrain=force_retrain,
            schema_commit=git_commit_of(layout.schema_file),
            pushgateway=pushgateway or "",
            driftgate_version=driftgate_version(),
            run_id=run_id,
            metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
                metadata_path
            ),
        )
        handler = _ComponentProgress(progress)
        t0 = time.time()
        try:
            with _quiet_tfx(handler):
                _runner(run_id).run(pipeline)
        except Exception as exc:  # a task failed: one run_failed event (on Kubeflow: the exit task's)
            _failed(layout, run_id, handler.pending, exc)
            raise
        result = collect(config, layout, run_id, metadata_path)
    result.duration_s = round(time.time() - t0, 1)
    result.component_seconds = {k: round(v, 2) for k, v in handler.seconds.items()}
    if handler.skipped:
        progress(f"  not run (branch not taken): {', '.join(handler.skipped)}")
    return result
