"""``driftgate compile`` and ``driftgate kfp``: region pipelines on Kubeflow Pipelines.

Credentials and the endpoint come from the environment here only
(``driftgate.app.kfp_connection.settings_from_env``): ``KF_PIPELINES_ENDPOINT``,
``KFP_TOKEN`` / ``KFP_COOKIES``, ``DRIFTGATE_PROFILE_NAMESPACE``.
"""

from __future__ import annotations

import os
import time

import click

from driftgate.cli import output
from driftgate.cli.options import config_dir_option, configs
from driftgate.core.errors import ExitCode
from driftgate.core.vocabulary import (
    PARAM_NOTE,
    PARAM_RETRAIN,
    PARAM_SPAN,
    RETRAIN_AUTO,
    RETRAIN_FORCE,
    RUN_PARAMETER_HELP,
    SPAN_NEXT,
)

which_regions = [
    click.option("--region", default=None, help="one region"),
    click.option("--all", "all_regions", is_flag=True, help="every configured region"),
]


def _regions_options(f):
    for opt in reversed(which_regions):
        f = opt(f)
    return f


def _server_options(f):
    f = click.option(
        "--namespace",
        default=None,
        help="profile namespace of a multi-user install [env DRIFTGATE_PROFILE_NAMESPACE]",
    )(f)
    f = click.option(
        "--endpoint",
        "--host",
        "endpoint",
        default=None,
        help="KFP API endpoint, e.g. http://localhost:8080 [env KF_PIPELINES_ENDPOINT]",
    )(f)
    return config_dir_option(f)


@click.command("compile")
@_regions_options
@click.option("--out", required=True, help="folder for <REGION>.yaml")
@click.option("--image", default=None, help="pipeline image (default: kubeflow.image in the config)")
@config_dir_option
def compile_cmd(region, all_regions, out, image, config_dir):
    """Compile region pipelines for Kubeflow Pipelines (PipelineSpec YAML)."""
    from pipelines.kubeflow_runner import compile_region

    for config in configs(region, all_regions, config_dir):
        t0 = time.time()
        path = compile_region(config, out, image=image)
        click.echo(
            f"{config.region}: {path} ({time.time() - t0:.1f}s, image {image or config.kubeflow.image})"
        )
    return 0


def _client(endpoint, namespace):
    from driftgate.app import kfp_connection

    settings = kfp_connection.settings_from_env(endpoint, os.environ, namespace)
    return kfp_connection.make_client(settings), settings.profile_namespace


@click.group("kfp")
def kfp_group():
    """Upload, run, schedule and list runs on a Kubeflow Pipelines server."""


@kfp_group.command("upload")
@_regions_options
@click.option("--specs", default="kubeflow/pipelines", show_default=True, help="folder with <REGION>.yaml")
@_server_options
@output.output_option
def upload_cmd(region, all_regions, specs, endpoint, namespace, config_dir, output_format):
    """Upload compiled pipelines as new versions."""
    from driftgate.app import kfp_runs

    chosen = configs(region, all_regions, config_dir)
    for config in chosen:
        spec = os.path.join(specs, f"{config.region}.yaml")
        if not os.path.isfile(spec):
            raise click.ClickException(
                f"{spec} not found: run `driftgate compile --region {config.region} --out {specs}` first"
            )
    client, _ = _client(endpoint, namespace)
    ups = [kfp_runs.upload(client, c, os.path.join(specs, f"{c.region}.yaml")) for c in chosen]
    rows = [[u.region, u.version_name, u.version_id, "yes" if u.created_pipeline else "no"] for u in ups]
    _show(
        output_format,
        [u.__dict__ for u in ups],
        rows,
        ["region", "version", "version id", "pipeline created"],
    )
    return 0


def _positive_int(text):
    """``text`` as a positive whole number, else None."""
    text = (text or "").strip()
    return int(text) if text.isdigit() and text.isascii() and int(text) > 0 else None


@kfp_group.command("run")
@_regions_options
@click.option(
    "--span",
    "span_text",
    default=None,
    metavar="N",
    help=f"(re)ingest span N, a positive whole number [run parameter {PARAM_SPAN}; "
    f"default {SPAN_NEXT}: the oldest span not yet processed]",
)
@click.option(
    "--force-retrain",
    is_flag=True,
    help=f"retrain even without drift [run parameter {PARAM_RETRAIN}={RETRAIN_FORCE}; "
    f"default {RETRAIN_AUTO}: the gate decides]",
)
@click.option(
    "--note",
    default=None,
    metavar="TEXT",
    help=f"[run parameter {PARAM_NOTE}] {RUN_PARAMETER_HELP[PARAM_NOTE]}",
)
@click.option(
    "--wait", type=int, default=None, metavar="SECONDS", help="wait up to SECONDS for the run to finish"
)
@_server_options
@output.output_option
def run_cmd(
    region, all_regions, span_text, force_retrain, note, wait, endpoint, namespace, config_dir, output_format
):
    """Start a run of the newest uploaded version now, with run parameters
    (default: the next unprocessed span, the gate decides, no note)."""
    from driftgate.app import kfp_runs

    span = None
    if span_text is not None:
        span = _positive_int(span_text)
        if span is None:  # one line, before anything is loaded or contacted
            output.error(f"--span {span_text!r}: expected a positive whole number (a span, e.g. --span 7)")
            return ExitCode.USAGE
    params = kfp_runs.run_parameters(span, force_retrain, note)
    chosen = configs(region, all_regions, config_dir)
    client, ns = _client(endpoint, namespace)
    started = [kfp_runs.run_now(client, c, namespace=ns, wait_s=wait, params=params) for c in chosen]
    shown = " ".join(f"{k}={v}" for k, v in params.items())
    rows = [[s.region, s.run_name, s.run_id, s.state, shown, s.pipeline_root] for s in started]
    _show(
        output_format,
        [s.__dict__ for s in started],
        rows,
        ["region", "run", "run id", "state", "parameters", "pipeline root"],
    )
    return ExitCode.OK


@kfp_group.command("schedule")
@click.option("--region", required=True)
@_server_options
@output.output_option
def schedule_cmd(region, endpoint, namespace, config_dir, output_format):
    """Create or replace a region's recurring run."""
    from driftgate.app import kfp_runs

    (config,) = configs(region, False, config_dir)
    client, ns = _client(endpoint, namespace)
    s = kfp_runs.schedule(client, config, namespace=ns)
    row = [
        s.region,
        s.recurring_run_id,
        s.version_name,
        s.cron,
        s.max_concurrency,
        s.catchup,
        f"{s.start or '-'} .. {s.end or '-'}",
        ", ".join(s.replaced) or "-",
    ]
    heads = ["region", "recurring run", "version", "cron", "max concurrency", "catchup", "window", "replaced"]
    _show(output_format, s.__dict__, [row], heads)
    return 0


@kfp_group.command("status")
@click.option("--region", default=None, help="one region (default: every configured one)")
@_server_options
@output.output_option
def status_cmd(region, endpoint, namespace, config_dir, output_format):
    """Newest runs per region: state, run parameters span / retrain, and
    whether the region's schedule started the run."""
    from driftgate.app import kfp_runs

    chosen = configs(region, region is None, config_dir)
    client, ns = _client(endpoint, namespace)
    found = kfp_runs.status(client, chosen, namespace=ns)
    heads = ["region", "run", "state", PARAM_SPAN, PARAM_RETRAIN, "scheduled", "created", "finished"]
    rows = [
        [r[h] for h in heads[:5]]
        + ["" if r["run"] == "-" else "yes" if r["recurring_run_id"] else "no"]
        + [r["created"], r["finished"]]
        for r in found
    ]
    _show(output_format, found, rows, heads)
    return 0


def _show(output_format, data, rows, heads) -> None:
    if output_format == output.JSON:
        output.emit_json(data)
    else:
        click.echo(output.table(rows, heads))


COMMANDS = [compile_cmd, kfp_group]
