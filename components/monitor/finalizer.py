"""The exit task of a Kubeflow run: frees the region of a run that failed.

On Kubeflow every TFX task of a region's pipeline sits inside TFX's exit-handler
sub-DAG (``tfx-dag``); this task runs after it whatever happened there (Argo
runs an exit handler on success, failure and error). It needs no final-status
input: open-source backends before 2.14 refuse ``PipelineTaskFinalStatus`` when a
run is created. It tells the run's outcome from the region's own state instead:

1. the run recorder ran (the lease was given back by this run, or the history
   has a completed entry with its id): the run completed; exit 0;
2. this run still holds the lease: it died between its first and last task.
   The lease is released at once (not after its TTL), the failure is recorded
   (``<root>/<REGION>/results/failed-<run id>.json``), alerted (critical) and
   pushed (``driftgate_run_failed``), and the task exits 1 so the run is red
   also on backends (2.0-2.3) that colour a run by its exit handler;
3. another run holds the lease, or none: this run never took it (it was refused
   by the lease, or failed before ingesting). Nothing of the region is touched;
   the failure is recorded and the task exits 1.

The span the failed run took stays unprocessed (its history entry is not
completed), so the next run takes it again. Alerts and metrics are side
channels: they never change the outcome.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import List, Mapping, Optional

from driftgate.core import lease, storage
from driftgate.core import vocabulary as ids

COMPLETED, FREED, NOT_HELD = "completed", "failed, region freed", "failed, lease not ours"


@dataclass
class Outcome:
    region: str
    run_id: str
    state: str  # COMPLETED | FREED | NOT_HELD
    summary: str
    holder: Optional[str] = None  # who holds the region's lease now (NOT_HELD)
    at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    warnings: List[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.state != COMPLETED

    def markdown(self) -> str:
        lines = [f"### {self.region} run {self.run_id}: {self.state}", "", self.summary, ""]
        if self.holder:
            lines.append(f"- **lease holder now**: {self.holder}")
        lines.append(f"- **warnings**: {'; '.join(self.warnings) if self.warnings else 'none'}")
        return "\n".join(lines) + "\n"


def _completed(layout, run_id: str, doc: Optional[dict]) -> bool:
    from components.state import RegionState

    if doc and doc.get("holder", {}).get("run") == run_id and doc.get("released"):
        return True
    return any(
        h.get("run_id") == run_id and h.get("completed") for h in RegionState(layout.state_dir).history()
    )


def judge(layout, run_id: str) -> Outcome:
    """What became of run ``run_id`` of the region; releases its lease when it
    died holding it (case 2 of the module docstring)."""
    doc = lease.document(layout.lease_file)
    if not run_id:
        return Outcome(layout.region, "?", NOT_HELD, "no run id in the task's output URI: nothing touched")
    if _completed(layout, run_id, doc):
        return Outcome(layout.region, run_id, COMPLETED, "the run recorder recorded the run; nothing to do")
    if lease.release_run(layout.lease_file, run_id):  # only when this run still holds it (CAS)
        return Outcome(
            layout.region,
            run_id,
            FREED,
            f"{layout.region} run {run_id} ended without a run record (a task failed or was stopped); "
            "region freed at once; its span stays unprocessed and the next run takes it again",
        )
    now = lease.holder_of(lease.document(layout.lease_file), time.time())
    return Outcome(
        layout.region,
        run_id,
        NOT_HELD,
        f"{layout.region} run {run_id} failed without taking the region "
        + (f"(held by {now.describe()}, left alone)" if now else "(its lease is free)"),
        holder=now.describe() if now else None,
    )


def failure_file(layout, run_id: str) -> str:
    return storage.join(layout.results_dir, f"failed-{run_id}.json")


def report(outcome: Outcome, layout, *, alerts_cfg, pushgateway: Optional[str], environ: Mapping[str, str]):
    """Records, alerts and pushes a failed run (side channels: warnings, never raises)."""
    from components.monitor import alerts, metrics
    from components.monitor.result import RunResult

    try:
        storage.write_atomic(failure_file(layout, outcome.run_id), json.dumps(asdict(outcome), indent=1))
    except Exception as exc:  # noqa: BLE001
        outcome.warnings.append(f"record: {type(exc).__name__}: {exc}")
    if alerts_cfg.enabled:
        run = RunResult.empty(
            outcome.region,
            layout.model_base_path,
            decision=ids.RUN_FAILED,
            summary=outcome.summary,
            run_id=outcome.run_id,
        )
        try:
            alerts.notify(run, [], alerts_cfg, layout.alerts_file, env=dict(environ))
        except Exception as exc:  # noqa: BLE001
            outcome.warnings.append(f"alerts: {exc}")
    if pushgateway:
        try:
            metrics.push_run_failed(outcome.region, outcome.run_id, pushgateway)
        except Exception as exc:  # noqa: BLE001
            outcome.warnings.append(f"metrics: {type(exc).__name__}: {exc}")


def finalize(
    layout, outcome_uri: str, *, alerts_cfg, pushgateway: Optional[str], environ: Mapping[str, str]
) -> Outcome:
    """The whole exit task: judge, report a failure, write the Markdown at ``outcome_uri``."""
    run_id = lease.run_id_from_uri(outcome_uri, layout.pipeline_root)
    outcome = judge(layout, run_id)
    if outcome.failed:
        report(outcome, layout, alerts_cfg=alerts_cfg, pushgateway=pushgateway, environ=environ)
    storage.write_atomic(outcome_uri, outcome.markdown())
    return outcome


class RunFailed(RuntimeError):
    """The run ended without a run record (the exit task fails with this line)."""
