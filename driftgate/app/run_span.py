"""Run one region's pipeline on a span, locally, and hand back its record.

Everything a run leaves for people (result JSON, HTML report, metrics,
alerts) is done inside the pipeline by its run recorder node
(``components.monitor``), as on Kubeflow; side channels that failed are in
``result.warnings`` and never fail the run. This adds what only the local
runner knows (wall time per component, the ML Metadata run id) to the result
JSON the node wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, List, Optional

from driftgate.core import storage


@dataclass
class RunOutcome:
    result: object  # components.monitor.result.RunResult
    result_file: Optional[str] = None
    report_file: Optional[str] = None
    metrics_file: Optional[str] = None
    alerts: List[dict] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)


def run_span(
    config,
    *,
    root: str,
    data: Optional[str] = None,
    span: Optional[int] = None,
    force_retrain: bool = False,
    schemas_dir=None,
    pushgateway: Optional[str] = None,
    progress: Callable[[str], None] = lambda line: None,
) -> RunOutcome:
    """Runs the region's pipeline (``pipelines.local_runner``); the run
    recorder node inside it publishes the run (alert secrets come from this
    process's environment). Raises what the runner raises (ConfigError,
    PreflightError, DataBlocked) before anything is changed."""
    from pipelines.local_runner import run_region

    result = run_region(
        config,
        root=root,
        data=data,
        span=span,
        force_retrain=force_retrain,
        schemas_dir=schemas_dir,
        pushgateway=pushgateway,
        progress=progress,
    )
    files = result.files
    if files.get("result"):  # the recorder's JSON, plus timings and the run id
        storage.write_atomic(files["result"], json.dumps(result.to_json_dict(), indent=1))
    return RunOutcome(
        result=result,
        result_file=files.get("result"),
        report_file=files.get("report"),
        metrics_file=files.get("metrics"),
        alerts=result.alerts,
        warnings=result.warnings,
    )
