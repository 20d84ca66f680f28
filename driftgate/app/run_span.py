"""Run one region's pipeline on a span and record everything a person reads
afterwards: the run's JSON, its HTML report, its metrics, its alerts.

The pipeline run decides and changes serving; the side channels after it
(metrics push, alert webhooks, the report) never fail the run: a failing one
is reported in ``RunOutcome.warnings`` and the others still happen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, List, Mapping, Optional

from driftgate.core import storage
from driftgate.core.layout import RegionLayout


@dataclass
class RunOutcome:
    result: object  # pipelines.run_result.RunResult
    result_file: str
    report_file: Optional[str] = None
    metrics_file: Optional[str] = None
    alerts: List[dict] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)


def driftgate_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("driftgate")
    except PackageNotFoundError:
        return "unknown"


def run_span(
    config,
    *,
    root: str,
    data: Optional[str] = None,
    span: Optional[int] = None,
    force_retrain: bool = False,
    schemas_dir=None,
    pushgateway: Optional[str] = None,
    environ: Mapping[str, str] = (),
    progress: Callable[[str], None] = lambda line: None,
) -> RunOutcome:
    """Runs the region's pipeline (``pipelines.local_runner``), then writes the
    result JSON, metrics, alerts and report. Raises what the runner raises
    (ConfigError, PreflightError, DataBlocked) before anything is changed.
    ``environ`` holds the alert secrets (the CLI passes the process environment)."""
    from components.state import RegionState
    from pipelines import alerts, metrics, report
    from pipelines.local_runner import run_region

    result = run_region(
        config,
        root=root,
        data=data,
        span=span,
        force_retrain=force_retrain,
        schemas_dir=schemas_dir,
        progress=progress,
    )
    result.driftgate_version = driftgate_version()
    layout = RegionLayout(storage.absolute(root), config.region, config.serving.model_name)
    # one list: what the outcome reports is what the result JSON and the report list
    outcome = RunOutcome(result=result, result_file=layout.result_file(result.span), warnings=result.warnings)
    try:
        outcome.metrics_file = metrics.export(result, layout, pushgateway)
    except Exception as exc:  # a side channel: recorded, never fails the run
        outcome.warnings.append(f"metrics: {type(exc).__name__}: {exc}")
    if config.alerts.enabled:
        try:
            history = RegionState(layout.state_dir).history()
            outcome.alerts = alerts.notify(result, history, config.alerts, layout.alerts_file, env=environ)
        except alerts.NotifyError as exc:  # what was sent is recorded; the rest goes out next run
            outcome.alerts = exc.outcomes
            outcome.warnings.append(f"alerts: {exc}")
        except Exception as exc:
            outcome.warnings.append(f"alerts: {type(exc).__name__}: {exc}")
    try:
        outcome.report_file = report.write_run_report(
            layout, result.to_json_dict(), list(config.features.all)
        )
    except Exception as exc:
        outcome.warnings.append(f"report: {type(exc).__name__}: {exc}")
    storage.write_atomic(outcome.result_file, json.dumps(result.to_json_dict(), indent=1))
    return outcome
