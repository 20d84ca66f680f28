"""Upload, schedule and watch region pipelines on a Kubeflow Pipelines server.

Everything goes through the official ``kfp.Client`` (v2beta1 API).
Credentials come only from the environment: ``KFP_TOKEN`` (bearer token),
``KFP_COOKIES`` (e.g. an auth-session cookie behind Dex/oauth2-proxy) and
``KFP_NAMESPACE`` (multi-user deployments). Nothing secret is written to a
spec, a config or a log line.

Per region: one pipeline ``driftgate-<region>``, a new *version* per upload
(named ``<region>-<git commit>-<UTC time>``), and one recurring run
``driftgate-<region>-daily`` in the experiment ``driftgate``.

Kubeflow cannot change a recurring run in place. ``schedule`` therefore
*replaces* it: the old recurring run is disabled (it starts nothing new), the
new one is created from the newest pipeline version, then the old one is
deleted. A run the old schedule already started is a separate object: it is
neither stopped nor deleted, and it finishes normally.
"""

import datetime as dt
import os
import subprocess
from dataclasses import dataclass
from typing import List, Optional

EXPERIMENT = "driftgate"


def schedule_name(region: str) -> str:
    return f"driftgate-{region.lower()}-schedule"


def client_from_env(host: str):
    """A ``kfp.Client`` for ``host`` with credentials from the environment only."""
    import kfp

    return kfp.Client(
        host=host,
        existing_token=os.environ.get("KFP_TOKEN") or None,
        cookies=os.environ.get("KFP_COOKIES") or None,
        namespace=os.environ.get("KFP_NAMESPACE", ""),
    )


def version_name(region: str, now: Optional[dt.datetime] = None, commit: Optional[str] = None) -> str:
    """``<region>-<short git commit>-<YYYYMMDD-HHMMSS>`` (UTC); ``nogit`` outside a checkout."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if commit is None:
        try:
            commit = subprocess.run(
                ["git", "rev-parse", "--short=8", "HEAD"],
                capture_output=True,
                text=True,
                check=True,
                timeout=10,
                cwd=os.path.dirname(os.path.abspath(__file__)),
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            commit = "nogit"
    return f"{region.lower()}-{commit or 'nogit'}-{now.strftime('%Y%m%d-%H%M%S')}"


@dataclass
class Uploaded:
    region: str
    pipeline_id: str
    version_id: str
    version_name: str
    created_pipeline: bool


def upload(client, config, spec_path: str, name: Optional[str] = None) -> Uploaded:
    """Uploads ``spec_path`` as a new version of the region's pipeline (created if missing)."""
    pipeline_name = config.pipeline_name
    pipeline_id = client.get_pipeline_id(pipeline_name)
    created = False
    if pipeline_id is None:
        pipeline = client.upload_pipeline(
            spec_path,
            pipeline_name=pipeline_name,
            description=f"driftgate continuous training for region {config.region}",
        )
        pipeline_id, created = pipeline.pipeline_id, True
    name = name or version_name(config.region)
    version = client.upload_pipeline_version(
        spec_path,
        pipeline_version_name=name,
        pipeline_id=pipeline_id,
        description=f"compiled from {os.path.basename(spec_path)}",
    )
    return Uploaded(config.region, pipeline_id, version.pipeline_version_id, name, created)


def _experiment_id(client, namespace: Optional[str]) -> str:
    return client.create_experiment(
        EXPERIMENT, description="driftgate region pipelines", namespace=namespace
    ).experiment_id


def _latest_version(client, pipeline_id: str):
    versions = client.list_pipeline_versions(
        pipeline_id, page_size=1, sort_by="created_at desc"
    ).pipeline_versions
    if not versions:
        raise ValueError(f"pipeline {pipeline_id} has no version: run `driftgate kfp upload` first")
    return versions[0]


def _recurring_runs(client, experiment_id: str, name: str) -> list:
    found, token = [], ""
    while True:
        page = client.list_recurring_runs(experiment_id=experiment_id, page_token=token, page_size=100)
        found += [r for r in (page.recurring_runs or []) if r.display_name == name]
        token = page.next_page_token
        if not token:
            return found


@dataclass
class Scheduled:
    region: str
    recurring_run_id: str
    version_id: str
    cron: str
    replaced: List[str]


def schedule(client, config) -> Scheduled:
    """Creates or replaces the region's recurring run from its config (see module doc)."""
    pipeline_id = client.get_pipeline_id(config.pipeline_name)
    if pipeline_id is None:
        raise ValueError(
            f"no pipeline '{config.pipeline_name}' on the server: run `driftgate kfp upload` first"
        )
    version = _latest_version(client, pipeline_id)
    namespace = os.environ.get("KFP_NAMESPACE") or None
    experiment_id = _experiment_id(client, namespace)
    name = schedule_name(config.region)
    old = _recurring_runs(client, experiment_id, name)
    for r in old:
        client.disable_recurring_run(r.recurring_run_id)
    sched = config.kubeflow.schedule
    new = client.create_recurring_run(
        experiment_id=experiment_id,
        job_name=name,
        description=f"driftgate {config.region}: newest span, cron {sched.cron}",
        cron_expression=sched.cron,
        max_concurrency=sched.max_concurrency,
        no_catchup=not sched.catchup,
        pipeline_id=pipeline_id,
        version_id=version.pipeline_version_id,
        enabled=sched.enabled,
    )
    for r in old:
        client.delete_recurring_run(r.recurring_run_id)
    return Scheduled(
        config.region,
        new.recurring_run_id,
        version.pipeline_version_id,
        sched.cron,
        [r.recurring_run_id for r in old],
    )


def status(client, configs, per_region: int = 5) -> List[dict]:
    """The newest runs of each region's pipeline: region, run, state, created, finished."""
    namespace = os.environ.get("KFP_NAMESPACE") or None
    rows = []
    runs = client.list_runs(page_size=200, sort_by="created_at desc", namespace=namespace).runs or []
    for config in configs:
        pipeline_id = client.get_pipeline_id(config.pipeline_name)
        mine = [
            r
            for r in runs
            if pipeline_id
            and r.pipeline_version_reference
            and r.pipeline_version_reference.pipeline_id == pipeline_id
        ][:per_region]
        if not mine:
            rows.append(
                {"region": config.region, "run": "-", "state": "no runs", "created": "", "finished": ""}
            )
        for r in mine:
            rows.append(
                {
                    "region": config.region,
                    "run": r.display_name or r.run_id,
                    "state": str(r.state),
                    "created": str(r.created_at or ""),
                    "finished": str(r.finished_at or ""),
                }
            )
    return rows
