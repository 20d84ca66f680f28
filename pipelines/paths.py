"""Resolved locations of one region (kept free of TFX so the CLI stays fast)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PipelinePaths:
    """Resolved locations for one region (paths or bucket URIs)."""

    data_dir: str  # folder holding the region's spans
    pipeline_root: str  # TFX artifacts
    model_base_path: str  # TF Serving base path: <root>/serving/<REGION>/<model>
    schema_file: str  # the pinned schema.pbtxt
    state_dir: str  # region state: span statistics, history, releases
    root: str  # the root all of the above sit under (RegionLayout's root)
