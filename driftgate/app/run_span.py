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
from typing import Callable, Optional

from driftgate.core import storage


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
    wait_s: float = 0.0,
) -> object:
    """Runs the region's pipeline (``pipelines.local_runner``); the run
    recorder node inside it publishes the run (alert secrets come from this
    process's environment). Raises what the runner raises (ConfigError,
    PreflightError, DataBlocked, and LeaseHeld when another run of the
    region is under way after ``wait_s`` seconds) before anything is changed. Returns the
    ``components.monitor.result.RunResult``: its ``files``, ``alerts`` and
    ``warnings`` say what the recorder wrote and sent."""
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
        wait_s=wait_s,
    )
    if result.files.get("result"):  # the recorder's JSON, plus timings and the run id
        storage.write_atomic(result.files["result"], json.dumps(result.to_json_dict(), indent=1))
    return result
