"""``driftgate drift``: compare one span with a baseline outside a pipeline run.

Statistics come from the region state when the pipeline has seen the span,
otherwise they are computed from the span's CSV with TFDV (same schema and
quantile resolution as StatisticsGen), so an engineer can look at drift
before running anything.
"""

import glob
import os
from typing import Optional

from components.state import RegionState
from driftgate.core import storage
from driftgate.core.config import RegionConfig, region_data_dir, schema_file
from driftgate.core.layout import RegionLayout
from pipelines.preflight import PreflightError, available_spans


def span_statistics(config: RegionConfig, span: int, state: RegionState, data_dir: str, schemas_dir=None):
    """The span's statistics from the state folder, or computed from its CSV files."""
    stats = state.load_statistics(span)
    if stats is not None:
        return stats
    files = sorted(glob.glob(os.path.join(data_dir, config.data.span_pattern.replace("{SPAN}", str(span)))))
    if not files:
        raise PreflightError(
            f"region {config.region}: span {span} has no statistics in {state.path} and no files in {data_dir}"
        )
    import pandas as pd
    import tensorflow_data_validation as tfdv
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    with open(schema_file(config, schemas_dir)) as fh:
        schema = text_format.Parse(fh.read(), schema_pb2.Schema())
    from components.ingest.errors import read_csv_frame  # refuses NUL bytes, which pandas cuts cells at

    df = pd.concat([read_csv_frame(f) for f in files], ignore_index=True)
    opts = tfdv.StatsOptions(schema=schema, num_quantiles_histogram_buckets=config.drift.quantile_buckets)
    return tfdv.generate_statistics_from_dataframe(df, stats_options=opts)


def compare_span(
    config: RegionConfig, span: int, baseline: str, *, root: str, data: Optional[str] = None, schemas_dir=None
) -> dict:
    """Drift comparison of ``span`` against the ``previous`` span or the
    ``training`` baseline (the latter at the thresholds the gate used: calibrated
    on the region's history before ``span`` when there is enough of it)."""
    from components.drift.calibration import calibrate
    from components.drift.evaluate import compare
    from components.drift.summaries import summarize
    from serving import layout

    lay = RegionLayout(storage.absolute(root), config.region, config.serving.model_name)
    state = RegionState(lay.state_dir)
    data_dir = region_data_dir(config, data)
    if baseline == "training":
        version = layout.serving_version(lay.model_base_path)
        base_span = state.training_span(version)
        if base_span is None:
            raise PreflightError(
                f"region {config.region}: no training baseline under {root}: "
                + (
                    "no model serves yet"
                    if version is None
                    else f"version {version} has no recorded training span"
                )
                + "; run the pipeline first or use --baseline previous"
            )
    else:
        base_span = state.previous_span(span)
        if base_span is None:
            earlier = [s for s in available_spans(data_dir, config.data.span_pattern) if s < span]
            if not earlier:
                raise PreflightError(f"region {config.region}: no span before {span} to compare with")
            base_span = earlier[-1]
    features = list(config.features.all)
    cur = summarize(span_statistics(config, span, state, data_dir, schemas_dir).datasets, features)
    base = summarize(span_statistics(config, base_span, state, data_dir, schemas_dir).datasets, features)
    cal = None
    if baseline == "training":
        earlier = [h for h in state.history() if h["span"] < span and h.get("decision") != "block"]
        cal = calibrate(earlier, config.drift)
    return compare(base, cur, config.drift, baseline, base_span, calibration=cal)


def recorded_summary(config: RegionConfig, span: int, root: str) -> Optional[str]:
    """The gate's one-sentence decision for ``span`` from the run's result, if recorded."""
    import json

    lay = RegionLayout(storage.absolute(root), config.region, config.serving.model_name)
    path = lay.result_file(span)
    if not storage.exists(path):
        return None
    return json.loads(storage.read_text(path)).get("summary") or None
