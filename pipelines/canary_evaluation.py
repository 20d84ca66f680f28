"""``driftgate canary evaluate``: judge the region's canary on a labelled span,
then promote or roll it back and record the verdict.

The use case around the pure analysis in ``serving/canary.py``: it reads the
span's CSV files and the region's schema (which ``serving`` must not know
about), calls the analysis, applies the verdict through ``serving/release.py``
and records it beside the TF Serving config and in ML Metadata.
"""

import json

import pandas as pd

from driftgate.core import storage
from driftgate.core.config import region_data_dir, schema_file
from driftgate.core.layout import RegionLayout
from pipelines import preflight
from pipelines.schemas import load
from serving import canary, release


def evaluate_and_apply(
    config, span: int, root: str, data=None, schemas_dir=None, dry_run: bool = False
) -> dict:
    """``driftgate canary evaluate``: analyse, promote or roll back, record
    (JSON beside the config + ML Metadata). Returns the result. ``dry_run``
    analyses only: labels, records and ML Metadata stay as they are."""
    lay = RegionLayout(storage.absolute(root), config.region, config.serving.model_name)
    serving_dir = lay.serving_dir
    state = release.load_state(serving_dir, config.serving.model_name)
    if state.canary is None:
        raise release.ReleaseError(f"region {config.region}: no canary to evaluate (stable {state.stable})")
    sf = preflight.span_files(region_data_dir(config, data), config.data.span_pattern, span)
    frame = pd.concat([pd.read_csv(f) for f in sf.files], ignore_index=True)
    labels = frame.pop(config.features.label).to_numpy()
    examples = canary.examples_from_frame(frame, load(schema_file(config, schemas_dir)))
    result = canary.analyse(
        storage.join(state.base_path, str(state.stable)),
        storage.join(state.base_path, str(state.canary)),
        examples,
        labels,
        config.serving.canary,
    )
    result.update(region=config.region, span=span, stable_version=state.stable, canary_version=state.canary)
    reason = (
        f"canary analysis on span {span}: "
        + "; ".join(r for r in result["reasons"] if r.startswith("FAILED"))
        if result["verdict"] == "rollback"
        else f"canary analysis on span {span}: all checks passed"
    )
    result["dry_run"] = dry_run
    if dry_run:
        result["report"], result["mlmd_execution_id"] = None, None
        return result
    if result["verdict"] == "promote":
        release.promote(serving_dir, config.serving.model_name, reason=reason)
    elif result["verdict"] == "rollback":
        release.rollback(serving_dir, config.serving.model_name, reason=reason)
    # pending: the canary keeps its share and is judged again on a later span
    path = lay.canary_record(result["canary_version"], span)
    storage.write_atomic(path, json.dumps(result, indent=1))
    result["report"] = path
    result["mlmd_execution_id"] = canary.record_in_mlmd(lay.metadata_path, config.region, result)
    return result
