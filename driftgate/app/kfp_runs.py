"""Upload, run, schedule and watch region pipelines on a Kubeflow Pipelines server.

Everything goes through the official ``kfp.Client``, made by
``driftgate.app.kfp_connection`` (endpoint, credentials, profile namespace).

Per region: one pipeline ``driftgate-<region>``, a new *version* per upload
(named ``<region>-<git commit>-<UTC time>``), and one recurring run
``driftgate-<region>-schedule`` in the experiment ``driftgate``. Every run and
recurring run is created with ``pipeline_root`` = ``<kubeflow.root>/<REGION>/pipeline``:
the open-source backend ignores a spec's ``defaultPipelineRoot`` and would fall
back to its own default (``minio://`` on a stock install, where TFX cannot write).

Run parameters (the compiled spec's root inputs, ``driftgate.core.vocabulary``):
``span`` ("next" or a span number), ``retrain`` ("auto" or "force") and ``note``
(free text). ``run_now`` sends them from the CLI flags; ``schedule`` sends the
defaults explicitly (note "scheduled"), so every run page lists them. The
recurring run's ``max_concurrency`` is always 1 (the config refuses more) and
catchup is the backfill path: one run per missed tick, each taking the next span.

Kubeflow cannot change a recurring run in place. ``schedule`` therefore
*replaces* it: the old recurring run is disabled (it starts nothing new), the
new one is created from the newest pipeline version, then the old one is
deleted. A run the old schedule already started is a separate object: it is
neither stopped nor deleted, and it finishes normally.
"""

import contextlib
import datetime as dt
import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional

from driftgate.app.kfp_connection import EXPERIMENT, KfpError
from driftgate.core.vocabulary import (
    PARAM_NOTE,
    PARAM_RETRAIN,
    PARAM_SPAN,
    RETRAIN_FORCE,
    RUN_PARAMETERS,
)
from pipelines.kubeflow_runner import pipeline_root

SCHEDULED_NOTE = "scheduled"  # the note parameter of every scheduled run


def _links_to_stderr():
    """kfp.Client prints "Experiment / Pipeline / Run details: <link>" to stdout;
    sent to stderr, the links stay visible and ``--output json`` stays JSON."""
    return contextlib.redirect_stdout(sys.stderr)


def schedule_name(region: str) -> str:
    return f"driftgate-{region.lower()}-schedule"


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
        with _links_to_stderr():
            pipeline = client.upload_pipeline(
                spec_path,
                pipeline_name=pipeline_name,
                description=f"driftgate continuous training for region {config.region}",
            )
        pipeline_id, created = pipeline.pipeline_id, True
    name = name or version_name(config.region)
    with _links_to_stderr():
        version = client.upload_pipeline_version(
            spec_path,
            pipeline_version_name=name,
            pipeline_id=pipeline_id,
            description=f"compiled from {os.path.basename(spec_path)}",
        )
    return Uploaded(config.region, pipeline_id, version.pipeline_version_id, name, created)


def _experiment_id(client, namespace: Optional[str]) -> str:
    # create_experiment returns the existing experiment of that name
    with _links_to_stderr():
        return client.create_experiment(
            EXPERIMENT, description="driftgate region pipelines", namespace=namespace
        ).experiment_id


def _latest_version(client, pipeline_id: str):
    versions = client.list_pipeline_versions(
        pipeline_id, page_size=1, sort_by="created_at desc"
    ).pipeline_versions
    if not versions:
        raise KfpError(f"pipeline {pipeline_id} has no version: run `driftgate kfp upload` first")
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
    version_name: str
    cron: str
    max_concurrency: int
    catchup: bool
    start: Optional[str]
    end: Optional[str]
    parameters: Dict[str, str]
    description: str
    replaced: List[str]


def run_parameters(span: Optional[int] = None, force_retrain: bool = False, note: Optional[str] = None):
    """The run parameters of one run: ``span`` N or "next", ``retrain`` "force" or
    "auto", ``note`` the text or "-" (the defaults where not given)."""
    params = dict(RUN_PARAMETERS)
    if span is not None:
        if isinstance(span, bool) or not isinstance(span, int) or span < 1:
            raise KfpError(f"span {span!r}: must be a positive whole number")
        params[PARAM_SPAN] = str(span)
    if force_retrain:
        params[PARAM_RETRAIN] = RETRAIN_FORCE
    if note is not None and note.strip():
        params[PARAM_NOTE] = note.strip()
    return params


def config_digest(path: str) -> str:
    """The first 12 hex digits of the sha256 of a config file's content ("unreadable" if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()[:12]
    except OSError:
        return "unreadable"


def schedule_description(config, version_name: str, version_id: str) -> str:
    """The recurring run's description: cron, the region file's content hash,
    the pipeline version (the UI shows it on the recurring run's page)."""
    sched = config.kubeflow.schedule
    source = config.source_file
    where = f"{os.path.basename(source)} sha256:{config_digest(source)}" if source else "config unknown"
    return (
        f"driftgate {config.region}: cron '{sched.cron}' (UTC), "
        f"{'catchup (one run per missed tick)' if sched.catchup else 'no catchup'}; "
        f"config {where}; pipeline version {version_name} ({version_id})"
    )


def _uploaded(client, config):
    """(pipeline id, newest version) of the region's pipeline, or KfpError."""
    pipeline_id = client.get_pipeline_id(config.pipeline_name)
    if pipeline_id is None:
        raise KfpError(
            f"no pipeline '{config.pipeline_name}' on the server: run `driftgate kfp upload` first"
        )
    return pipeline_id, _latest_version(client, pipeline_id)


@dataclass
class Started:
    region: str
    run_id: str
    run_name: str
    version_id: str
    pipeline_root: str
    state: str  # as the server reports it (after --wait: the final state)
    parameters: Dict[str, str]


def run_name(region: str, params: Mapping[str, str], now: dt.datetime) -> str:
    """``driftgate-<region>[-span<N>][-force]-<YYYYMMDD-HHMMSS>``: the runs list
    shows names (kfp 2.5's run_pipeline takes no description)."""
    parts = [f"driftgate-{region.lower()}"]
    if params.get(PARAM_SPAN, RUN_PARAMETERS[PARAM_SPAN]) != RUN_PARAMETERS[PARAM_SPAN]:
        parts.append(f"span{params[PARAM_SPAN]}")
    if params.get(PARAM_RETRAIN) == RETRAIN_FORCE:
        parts.append(RETRAIN_FORCE)
    return "-".join(parts + [now.strftime("%Y%m%d-%H%M%S")])


def run_now(
    client,
    config,
    namespace: Optional[str] = None,
    wait_s: Optional[int] = None,
    now=None,
    params: Optional[Mapping[str, str]] = None,
) -> Started:
    """Starts one run of the region's newest uploaded version now (as
    ``kfp run create`` does), in the ``driftgate`` experiment, with the region's
    pipeline root and the run parameters ``params`` (default: ``run_parameters()``);
    with ``wait_s``, waits for it to finish."""
    params = dict(params or run_parameters())
    pipeline_id, version = _uploaded(client, config)
    experiment_id = _experiment_id(client, namespace)
    now = now or dt.datetime.now(dt.timezone.utc)
    name = run_name(config.region, params, now)
    root = pipeline_root(config)
    with _links_to_stderr():
        run = client.run_pipeline(
            experiment_id=experiment_id,
            job_name=name,
            pipeline_id=pipeline_id,
            version_id=version.pipeline_version_id,
            pipeline_root=root,
            params=params,
        )
    state = str(run.state or "PENDING")
    if wait_s:
        state = str(client.wait_for_run_completion(run.run_id, timeout=wait_s, sleep_duration=10).state)
    return Started(config.region, run.run_id, name, version.pipeline_version_id, root, state, params)


def schedule(client, config, namespace: Optional[str] = None) -> Scheduled:
    """Creates or replaces the region's recurring run from its config (see module doc)."""
    sched = config.kubeflow.schedule
    if sched.max_concurrency != 1:  # the config loader refuses it; a hand-built config too
        raise KfpError(f"{config.source_file or config.region}: kubeflow.schedule.max_concurrency must be 1")
    pipeline_id, version = _uploaded(client, config)
    experiment_id = _experiment_id(client, namespace)
    name = schedule_name(config.region)
    old = _recurring_runs(client, experiment_id, name)
    for r in old:
        client.disable_recurring_run(r.recurring_run_id)
    params = dict(RUN_PARAMETERS, **{PARAM_NOTE: SCHEDULED_NOTE})
    description = schedule_description(config, version.display_name, version.pipeline_version_id)
    new = client.create_recurring_run(
        experiment_id=experiment_id,
        job_name=name,
        description=description,
        start_time=sched.start,
        end_time=sched.end,
        cron_expression=sched.cron,
        max_concurrency=1,
        no_catchup=not sched.catchup,
        params=params,
        pipeline_id=pipeline_id,
        version_id=version.pipeline_version_id,
        enabled=sched.enabled,
        pipeline_root=pipeline_root(config),
    )
    for r in old:
        client.delete_recurring_run(r.recurring_run_id)
    return Scheduled(
        region=config.region,
        recurring_run_id=new.recurring_run_id,
        version_id=version.pipeline_version_id,
        version_name=version.display_name,
        cron=sched.cron,
        max_concurrency=1,
        catchup=sched.catchup,
        start=sched.start,
        end=sched.end,
        parameters=params,
        description=description,
        replaced=[r.recurring_run_id for r in old],
    )


STATUS_KEYS = (
    "region",
    "run",
    "state",
    PARAM_SPAN,
    PARAM_RETRAIN,
    PARAM_NOTE,
    "recurring_run_id",
    "created",
    "finished",
)


def _run_row(region: str, r) -> dict:
    config = r.runtime_config
    params = dict((config.parameters if config else None) or {})
    return {
        "region": region,
        "run": r.display_name or r.run_id,
        "state": str(r.state),
        # a run sent without a value used the spec's default; "" when the run carries none
        PARAM_SPAN: str(params.get(PARAM_SPAN, "")),
        PARAM_RETRAIN: str(params.get(PARAM_RETRAIN, "")),
        PARAM_NOTE: str(params.get(PARAM_NOTE, "")),
        # set on runs the region's recurring run started; "" for one-off runs
        "recurring_run_id": r.recurring_run_id or "",
        "created": str(r.created_at or ""),
        "finished": str(r.finished_at or ""),
    }


def status(client, configs, per_region: int = 5, namespace: Optional[str] = None) -> List[dict]:
    """The newest runs of each region's pipeline: region, run, state, the run
    parameters span / retrain / note, the recurring run that started it ("" for a
    one-off run), created, finished (``STATUS_KEYS``)."""
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
            rows.append(dict({k: "" for k in STATUS_KEYS}, region=config.region, run="-", state="no runs"))
        rows += [_run_row(config.region, r) for r in mine]
    return rows
