"""``driftgate serving``, ``driftgate canary`` and ``driftgate report``."""

from __future__ import annotations

import click

from driftgate.cli import output
from driftgate.cli.options import config_dir_option, data_option, load, region_option, root_option
from driftgate.cli.output import fmt


def _state_lines(config, sdir, st) -> list:
    from serving import release

    name = config.serving.model_name
    lines = [
        f"{config.region} {name}: stable {fmt(st.stable)}, canary {fmt(st.canary)} "
        f"({config.serving.canary_share}% of traffic when present), earlier stables {st.previous_stables or '-'}, "
        f"rejected {st.rejected or '-'}",
        f"  config: {sdir}/{release.CONFIG_FILE}",
    ]
    lines += [
        f"  {ev['at']}  {ev['action']:<10} v{ev['version']}  {ev.get('reason', '')}" for ev in st.history[-5:]
    ]
    return lines


@click.group("serving")
def serving_group():
    """TF Serving release state: status, promote, rollback, manifests."""


def _release_action(action, region, root, config_dir, output_format):
    from dataclasses import asdict

    from driftgate.core import storage
    from driftgate.core.layout import RegionLayout
    from serving import release

    config = load(region, config_dir)
    sdir = RegionLayout(storage.absolute(root), config.region, config.serving.model_name).serving_dir
    served = config.serving.served_base_path(config.region)  # what the configs must name
    if action == "promote":
        release.promote(sdir, config.serving.model_name, served=served)
    elif action == "rollback":
        release.rollback(sdir, config.serving.model_name, served=served)
    st = release.load_state(sdir, config.serving.model_name, served)
    if output_format == output.JSON:
        output.emit_json(asdict(st))
    else:
        output.lines(_state_lines(config, sdir, st))
    return 0


def _release_command(action: str, doc: str):
    @serving_group.command(action, help=doc)
    @region_option
    @root_option
    @config_dir_option
    @output.output_option
    def command(region, root, config_dir, output_format):
        return _release_action(action, region, root, config_dir, output_format)

    return command


_release_command("status", "Stable and canary versions, earlier stables, recent history.")
_release_command("promote", "Make the canary stable (the old stable is kept for rollback).")
_release_command("rollback", "Drop the canary label, or return to the previous stable.")


@serving_group.command("manifests")
@region_option
@click.option("--out", default="kubeflow/serving", show_default=True, help="output folder")
@click.option(
    "--monitoring",
    default="kubeflow/monitoring",
    show_default=True,
    help="folder with alerts.yml and grafana-dashboard.json; k8s/ is written beside them",
)
@config_dir_option
def manifests_cmd(region, out, monitoring, config_dir):
    """Kubernetes manifests: TF Serving Deployments per track, Service, Istio split."""
    from driftgate.cli.options import configs
    from serving import manifests

    config = load(region, config_dir)
    for path in manifests.write([config], out):
        click.echo(f"{config.region}: {path}")
    every = configs(None, True, config_dir)  # the objectives list every region's
    for path in manifests.write_monitoring(monitoring, config.serving.namespace, every):
        click.echo(f"monitoring: {path}")
    from serving import digest_job

    for path in digest_job.write(monitoring, config):  # the weekly digest's CronJob, in k8s/
        click.echo(f"monitoring: {path}")
    return 0


@click.group("canary")
def canary_group():
    """Canary analysis against stable."""


@canary_group.command("evaluate")
@region_option
@click.option("--span", type=int, required=True, help="a span later than the canary's training span")
@data_option
@root_option
@click.option("--dry-run", is_flag=True, help="analyse only: promote or roll back nothing, record nothing")
@click.option(
    "--prometheus-url",
    default=None,
    help="judge live health too (default: serving.prometheus_url); token: DRIFTGATE_PROMETHEUS_TOKEN(_FILE)",
)
@config_dir_option
@output.output_option
def evaluate_cmd(region, span, data, root, dry_run, prometheus_url, config_dir, output_format):
    """Score canary vs stable on a labelled span and on live traffic; promote or roll back."""
    from driftgate.app import canary_evaluation

    config = load(region, config_dir)
    r = canary_evaluation.evaluate_and_apply(
        config, span, root, data, dry_run=dry_run, prometheus_url=prometheus_url
    )
    if output_format == output.JSON:
        output.emit_json(r.to_json_dict())
        return 0
    click.echo(
        f"{config.region} span {span}: canary v{r.canary_version} vs stable v{r.stable_version} "
        f"on {r.rows:,} rows -> {r.verdict.upper()}" + (" (dry run: nothing changed)" if dry_run else "")
    )
    rows = []
    for name in ("stable", "canary"):
        m = r.metrics[name]
        rows.append(
            [
                name,
                f"{m['auc']:.4f}",
                f"{m['accuracy']:.4f}",
                f"{m['failure_rate']:.2f}",
                f"{m['latency_ms_1']['p50']:.2f}ms",
                f"{m['latency_ms_1']['p99']:.2f}ms",
                f"{m['latency_ms_1000']['p50']:.1f}ms",
                f"{m['latency_ms_1000']['p99']:.1f}ms",
            ]
        )
    click.echo(output.table(rows, ["", "auc", "accuracy", "fail", "p50 1", "p99 1", "p50 1000", "p99 1000"]))
    lv = r.detail.get("live") or {}
    if lv.get("tracks"):
        live_rows = [
            [
                t,
                f"{h['requests']:.0f}",
                f"{h['error_ratio']:.2%}",
                "-" if h["p99_ms"] is None else f"{h['p99_ms']:.1f}ms",
            ]
            for t, h in lv["tracks"].items()
        ]
        click.echo(output.table(live_rows, ["live", "requests", "errors", "p99"]))
    click.echo(f"  decided by: {r.detail.get('decided_by', 'offline')}; {lv.get('sentence', '')}")
    for reason in r.reasons:
        click.echo(f"  {reason}")
    if not dry_run:
        click.echo(f"  recorded: {r.report} and ML Metadata execution {r.mlmd_execution_id}")
    return 0


@click.command("report")
@root_option
def report_cmd(root):
    """Summary HTML page across regions and spans."""
    from components.monitor import report
    from driftgate.core import storage

    click.echo(report.write_summary(storage.absolute(root)))
    return 0


COMMANDS = [serving_group, canary_group, report_cmd]
