"""Compiles a region's pipeline for Kubeflow Pipelines (KubeflowV2DagRunner).

The same ``create_pipeline`` as the local runner, with cluster locations from
the config's ``kubeflow`` section: bucket URIs for data, state and serving, and
the schema read from the project folder inside the pipeline image. No span is
pinned: ExampleGen picks the newest span when the run starts, so a recurring
run processes new data without recompiling. The output is a PipelineSpec with
schemaVersion 2.1.0, which Kubeflow Pipelines 2.x servers accept.
"""

import os
import posixpath
from typing import Optional

from pipelines.config import RegionConfig
from pipelines.paths import PipelinePaths


def cluster_paths(config: RegionConfig) -> PipelinePaths:
    """Locations as the pipeline's containers see them."""
    kf = config.kubeflow
    root = kf.root.rstrip("/")
    return PipelinePaths(
        data_dir=posixpath.join(kf.data_root.rstrip("/"), config.region),
        pipeline_root=posixpath.join(root, config.region, "pipeline"),
        model_base_path=posixpath.join(root, "serving", config.region, config.serving.model_name),
        schema_file=posixpath.join(
            kf.project_dir, "schemas", config.region, f"v{config.schema.version}", "schema.pbtxt"
        ),
        state_dir=posixpath.join(root, config.region, "state"),
    )


def compile_region(config: RegionConfig, out_dir: str, image: Optional[str] = None) -> str:
    """Writes ``<out_dir>/<REGION>.yaml`` and returns its path."""
    from tfx import v1 as tfx

    from pipelines.pipeline import create_pipeline
    from pipelines.schemas import git_commit_of, version_path

    commit = git_commit_of(version_path(config.region, config.schema.version))
    pipeline = create_pipeline(config, cluster_paths(config), schema_commit=commit)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=image or config.kubeflow.image,
            use_pipeline_spec_2_1=True,
            display_name=config.pipeline_name,
        ),
        output_dir=out_dir,
        output_filename=f"{config.region}.yaml",
    )
    path = os.path.join(out_dir, f"{config.region}.yaml")
    if os.path.exists(path):
        os.remove(path)  # the runner refuses to overwrite
    runner.run(pipeline, write_out=True)
    return path
