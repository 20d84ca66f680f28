"""A region's buckets on local folders and runs of its compiled spec through the
emulated open-source KFP backend (``tests/pipelines/kfp_backend.py``), from the
pipeline image's install (``tests/pipelines/image.py``). Test support for the
Kubeflow end-to-end files."""

import json
import sys
from pathlib import Path

from driftgate.core.config import load_region_config
from pipelines.kubeflow_runner import read_spec
from tests.pipelines.kfp_backend import FAILED, OMITTED, SKIPPED, SUCCEEDED, SpecRun, dockerfile_env

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "kubeflow" / "pipelines"
TRAINING = {"serving_baseline", "trainer", "evaluator", "pusher", "release_recorder", "run_recorder_retrain"}
INGEST = {
    "example_gen",
    "schema_importer",
    "statistics_gen",
    "example_validator",
    "canary_judge",
    "span_gate",
}
RUN = {"tfx-dag", "run_finalizer"}  # the root DAG: TFX's sub-DAG and the exit task


def write_month(frame, origin: str, month: int, dst: Path) -> None:
    from driftgate.app import datasets

    rows = frame[(frame.origin == origin) & (frame.month == month)]
    dst.parent.mkdir(parents=True, exist_ok=True)
    rows[list(datasets.FLIGHTS_COLUMNS)].to_csv(dst, index=False)


class Cluster:
    """Local folders standing in for the buckets of one region's config."""

    def __init__(
        self,
        base: Path,
        region: str,
        image,
        workers: int = 2,
        spec: Path = None,
        env=(),
        secrets=(),
        data=None,
    ):
        """``image``: the pipeline image's install (``tests/pipelines/image.py``):
        every task imports the project from it, never from the checkout.
        ``data``: where the config's ``kubeflow.data_root`` points instead of a
        local folder (a ``gs://`` URI on the bucket server: ``env`` then
        carries its client settings)."""
        self.region = region
        self.image = image
        self.workers = workers
        self.config = load_region_config(region)
        self.spec = spec or SPECS / f"{region}.yaml"
        self.env = {**dockerfile_env(ROOT / "kubeflow" / "Dockerfile"), **dict(env), **image.env()}
        self.secrets = dict(secrets)
        self.data = data or base / "bucket-data"
        self.runs = base / "bucket-runs"
        self.work = base / "pods"
        self.n = 0
        self.log = []

    def run(self, parameters=None, env=None, backend: str = "2.5"):
        """One run of the spec; ``parameters``: the run's parameters (the UI's
        run form); ``env``: extra environment of every task pod (a failpoint).
        The SpecRun is kept as ``self.last`` (its ``state``: the run's)."""
        self.n += 1
        kf = self.config.kubeflow
        rewrite = {
            kf.root.rstrip("/"): str(self.runs),
            kf.data_root.rstrip("/"): str(self.data),
            f"{kf.project_dir.rstrip('/')}/schemas/": f"{self.image.project_dir / 'schemas'}/",
        }
        spec_path = self.spec

        root = read_spec(spec_path.read_text())[0]["defaultPipelineRoot"]
        for old, new in rewrite.items():
            root = root.replace(old, new)
        run = SpecRun(
            spec_path,
            pipeline_root=root,
            run_id=f"run-{self.n}",
            work_dir=self.work / f"run-{self.n}",
            rewrite=rewrite,
            env={**self.env, **dict(env or {})},
            secrets=self.secrets,
            workers=self.workers,
            parameters=parameters,
            backend=backend,
        )
        self.last = run
        results = run.run()
        table = [f"{self.region} run {self.n} {dict(parameters or {})}: {run.state}"] + run.table()
        self.log.append("\n".join(table))
        print("\n".join(table), file=sys.stderr)
        return results

    def history(self):
        path = self.runs / self.region / "state" / "history.json"
        return json.loads(path.read_text()) if path.exists() else []

    @property
    def serving(self) -> Path:
        return self.runs / "serving" / self.region


def failures(results) -> str:
    return "\n\n".join(
        f"{r.name}: exit {r.exit_code}\n{r.log_tail}"
        for r in results.values()
        if r.state not in (SUCCEEDED, SKIPPED, OMITTED)
    )


def failed(results) -> bool:
    return any(r.state == FAILED for r in results.values())
