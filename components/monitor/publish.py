"""Everything a run leaves for people, from its RunResult: the result JSON and
HTML report under the region root, the metrics (textfile, and a Pushgateway
when one is named), the alerts.

Side channels never fail a run: each one that fails is listed in
``result.warnings`` (and in the result JSON), the others still happen, and
the next run tries again (the textfile and the Pushgateway are overwritten,
an alert not recorded as sent is sent then). The result JSON is written last,
so it lists every warning.
"""

from __future__ import annotations

import json
from typing import List, Mapping, Optional, Sequence

from driftgate.core import storage


def publish(
    result,
    layout,
    *,
    features: Sequence[str],
    alerts_cfg,
    pushgateway: Optional[str] = None,
    environ: Mapping[str, str] = (),
) -> None:
    """Writes and sends what the run leaves; fills ``result.files``,
    ``result.alerts`` and ``result.warnings``. ``environ`` holds the alert
    secrets (``driftgate.core.secrets.secret``)."""
    from components.monitor import alerts, metrics, report
    from components.state import RegionState

    warnings: List[str] = result.warnings
    result.files["result"] = layout.result_file(result.span)
    try:
        result.files["metrics"] = metrics.export(result, layout, pushgateway)
    except Exception as exc:  # a side channel: recorded, never fails the run
        warnings.append(f"metrics: {type(exc).__name__}: {exc}")
    if alerts_cfg.enabled:
        try:
            history = RegionState(layout.state_dir).history()
            result.alerts = alerts.notify(result, history, alerts_cfg, layout.alerts_file, env=dict(environ))
        except alerts.NotifyError as exc:  # what was sent is recorded; the rest goes out next run
            result.alerts = exc.outcomes
            warnings.append(f"alerts: {exc}")
        except Exception as exc:
            warnings.append(f"alerts: {type(exc).__name__}: {exc}")
    try:
        result.files["report"] = report.write_run_report(layout, result.to_json_dict(), list(features))
    except Exception as exc:
        warnings.append(f"report: {type(exc).__name__}: {exc}")
    storage.write_atomic(result.files["result"], json.dumps(result.to_json_dict(), indent=1))
