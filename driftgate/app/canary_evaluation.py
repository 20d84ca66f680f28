"""``driftgate canary evaluate``: judge the region's canary on a labelled span,
then promote or roll it back and record the verdict.

The use case around the pure analysis in ``components/canary/analysis.py``: it reads the
span's CSV files and the region's schema (which ``serving`` must not know
about), calls the analysis, applies the verdict through ``serving/release.py``
and records it beside the TF Serving config and in ML Metadata.
"""

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from components.canary import analysis, live
from components.ingest import fast
from components.ingest.records import label_values
from driftgate.core import local_copies, storage
from driftgate.core.config import region_data_dir
from driftgate.core.layout import RegionLayout
from pipelines import preflight
from serving import release


@dataclass(frozen=True)
class CanaryEvaluation:
    """What ``driftgate canary evaluate`` shows: the verdict and its evidence."""

    region: str
    span: int
    verdict: str  # promote | rollback | pending
    canary_version: int
    stable_version: int
    rows: int
    metrics: dict  # per model ("stable", "canary"): auc, accuracy, failure_rate, latencies; prediction_ks
    reasons: List[str]
    dry_run: bool
    report: Optional[str] = None  # the JSON record beside the TF Serving config (None on a dry run)
    mlmd_execution_id: Optional[int] = None
    detail: dict = field(default_factory=dict, repr=False)  # the analysis as recorded

    def to_json_dict(self) -> dict:
        """The analysis as recorded, with the region and where it was recorded."""
        return dict(
            self.detail, region=self.region, report=self.report, mlmd_execution_id=self.mlmd_execution_id
        )


def evaluate_and_apply(
    config, span: int, root: str, data=None, dry_run: bool = False, prometheus_url: Optional[str] = None
) -> CanaryEvaluation:
    """``driftgate canary evaluate``: analyse, promote or roll back, record
    (JSON beside the config + ML Metadata). ``dry_run`` analyses only:
    labels, records and ML Metadata stay as they are. With a Prometheus URL
    (``prometheus_url`` or ``serving.prometheus_url``) live health is judged too."""
    lay = RegionLayout(storage.absolute(root), config.region, config.serving.model_name)
    state = release.load_state(lay.serving_dir, config.serving.model_name)
    if state.canary is None:
        raise release.ReleaseError(f"region {config.region}: no canary to evaluate (stable {state.stable})")
    sf = preflight.span_files(region_data_dir(config, data), config.data.span_pattern, span)
    records = fast.span_records(config.data.format, sf.files)  # as ingest encodes them
    labels = label_values(records, config.features.label)
    keep = ~np.isnan(labels)
    examples, labels = [r for r, k in zip(records, keep, strict=True) if k], labels[keep]
    url, cfg = prometheus_url or config.serving.prometheus_url, config.serving.canary
    live_check = None
    if url:
        live_check = lambda since: live.assess(url, config.region, config.serving.model_name, cfg, since)  # noqa: E731
    result = analysis.judge_and_apply(
        lay.serving_dir,
        config.serving.model_name,
        examples,
        labels,
        cfg,
        span,
        record_path=lay.canary_record,
        dry_run=dry_run,
        served=config.serving.served_base_path(config.region),
        live_check=live_check,
    )
    result["region"] = config.region
    execution = None
    if not dry_run:
        with local_copies.local_file(
            lay.metadata_path
        ) as metadata_path:  # SQLite: local (a bucket root's copy)
            execution = analysis.record_in_mlmd(metadata_path, config.region, result)
    return CanaryEvaluation(
        region=config.region,
        span=span,
        verdict=result["verdict"],
        canary_version=result["canary_version"],
        stable_version=result["stable_version"],
        rows=result["rows"],
        metrics=result["metrics"],
        reasons=list(result["reasons"]),
        dry_run=dry_run,
        report=None if dry_run else result.get("report"),
        mlmd_execution_id=execution,
        detail=result,
    )
