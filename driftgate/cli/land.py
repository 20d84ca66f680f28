"""``driftgate land`` (a Kafka-sourced region's topic into sealed spans),
``driftgate stream`` (the same topic watched for drift) and ``driftgate demo-kafka``."""

from __future__ import annotations

import os

import click

from driftgate.cli import output
from driftgate.cli.options import config_dir_option, data_option, load, region_option, root_option


@click.command("land")
@region_option
@data_option
@config_dir_option
@click.option(
    "--bootstrap", default=None, help="host:port of the Kafka cluster (default: the region's kafka.bootstrap)"
)
@click.option(
    "--exit-when-idle",
    "idle",
    type=float,
    default=None,
    help="stop after this many quiet seconds with nothing waiting on the broker (spans the watermark passed are sealed by then)",
)
@click.option("--max-seconds", type=float, default=None, help="stop after this long")
@click.option("--metrics-port", type=int, default=None, help="serve Prometheus /metrics on this port")
@click.option(
    "--manifests",
    "manifests_dir",
    default=None,
    help="write the region's Kubernetes manifests (Deployment, Service, ServiceMonitor) here and exit",
)
@output.output_option
def land_cmd(
    region, data, config_dir, bootstrap, idle, max_seconds, metrics_port, manifests_dir, output_format
):
    """Consume the region's topic into <data>/<REGION>/span-<N>/ files, exactly
    once; seal each span (_SUCCESS) when the event-time watermark passes its end."""
    from driftgate.app.land import land
    from driftgate.core.config import region_data_dir

    cfg = load(region, config_dir)
    if manifests_dir:
        return _write_manifests(cfg, manifests_dir)
    res = land(
        cfg,
        region_data_dir(cfg, data),
        bootstrap=bootstrap,
        exit_when_idle_s=idle,
        max_seconds=max_seconds,
        metrics_port=metrics_port,
        progress=output.progress,
    )
    if output_format == output.JSON:
        output.emit_json(res.__dict__)
    else:
        c = res.counts
        click.echo(
            output.table(
                [
                    [
                        res.region,
                        res.topic,
                        c.get("records", 0),
                        c.get("files", 0),
                        c.get("late", 0),
                        c.get("dead_letters", 0),
                        ", ".join(map(str, res.sealed)) or "-",
                    ]
                ],
                ["region", "topic", "records", "files", "late", "dead letters", "sealed spans"],
            )
        )
    return 0


def _write_manifests(cfg, out: str, kind: str = "land") -> int:
    import yaml

    from streaming import manifests

    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{kind}-{cfg.region}.yaml")
    with open(path, "w") as fh:
        yaml.safe_dump_all(manifests.region_manifests(cfg, kind), fh, sort_keys=False)
    click.echo(path)
    return 0


@click.command("stream")
@region_option
@root_option
@data_option
@config_dir_option
@click.option(
    "--bootstrap", default=None, help="host:port of the Kafka cluster (default: the region's kafka.bootstrap)"
)
@click.option(
    "--baseline-span",
    type=int,
    default=None,
    help="judge against this ingested span's statistics (default: the serving model's training span)",
)
@click.option(
    "--exit-when-idle",
    "idle",
    type=float,
    default=None,
    help="stop after this many quiet seconds with nothing waiting on the broker",
)
@click.option("--max-seconds", type=float, default=None, help="stop after this long")
@click.option("--metrics-port", type=int, default=None, help="serve Prometheus /metrics on this port")
@click.option(
    "--manifests",
    "manifests_dir",
    default=None,
    help="write the region's Kubernetes manifests (Deployment, Service, ServiceMonitor) here and exit",
)
@output.output_option
def stream_cmd(
    region,
    root,
    data,
    config_dir,
    bootstrap,
    baseline_span,
    idle,
    max_seconds,
    metrics_port,
    manifests_dir,
    output_format,
):
    """Watch the region's topic for drift: sliding windows of event time judged
    against the serving model's training baseline with the batch gate's tests,
    thresholds calibrated to at most one false alarm per stream.ert_days, tiered
    alerts through the region's alert channels."""
    from driftgate.app.stream import stream
    from driftgate.core.config import region_data_dir

    cfg = load(region, config_dir)
    if manifests_dir:
        return _write_manifests(cfg, manifests_dir, "stream")
    res = stream(
        cfg,
        region_data_dir(cfg, data),
        root,
        bootstrap=bootstrap,
        baseline_span=baseline_span,
        exit_when_idle_s=idle,
        max_seconds=max_seconds,
        metrics_port=metrics_port,
        progress=output.progress,
    )
    if output_format == output.JSON:
        output.emit_json(res.__dict__)
        return 0
    c = res.counts
    click.echo(
        output.table(
            [
                [
                    res.region,
                    res.topic,
                    res.baseline_span,
                    c.get("records", 0),
                    c.get("late", 0),
                    c.get("refused", 0),
                    c.get("panes", 0),
                    c.get("events", 0),
                    len(res.alerts),
                ]
            ],
            ["region", "topic", "baseline span", "records", "late", "refused", "panes", "events", "alerts"],
        )
    )
    if res.transitions:
        click.echo(transitions_table(res.transitions))
    if c.get("transitions_dropped"):
        click.echo(
            f"({c['transitions_dropped']:,} older transitions not listed: stream.keep_transitions keeps the "
            f"newest {cfg.stream.keep_transitions:,}; their alerts went out as they happened)"
        )
    return 0


@click.command("demo-kafka")
@region_option
@click.option("--months", default="1,2,3", show_default=True, help="flights months to replay (2013)")
@click.option(
    "--out", default="demo/kafka", show_default=True, help="folder for the CSV, landed spans and runs"
)
@click.option("--land-only", is_flag=True, help="stop after landing (no pipeline runs, no live stretch)")
@config_dir_option
@output.output_option
def demo_kafka_cmd(region, months, out, land_only, config_dir, output_format):
    """Local broker -> flights months replayed as events -> driftgate land -> driftgate run
    on each sealed span (the Kafka path on one machine)."""
    import time

    from driftgate.app import kafka_demo
    from driftgate.cli.run import demo_table
    from pipelines.local_runner import run_region

    cfg = load(region, config_dir)
    t0 = time.time()
    res = kafka_demo.replay_and_land(cfg, out, [int(m) for m in months.split(",")], progress=output.progress)
    results = []
    if not land_only:
        for span in res.sealed:
            output.progress(f"== {region} span {span} (landed) ==")
            results.append(
                run_region(
                    kafka_demo.demo_config(cfg),
                    root=os.path.join(out, "runs"),
                    data=os.path.join(out, "landed"),
                    span=span,
                    progress=output.progress,
                )
            )
    live = None
    if results:
        output.progress(f"== {region} live stretch: driftgate stream ==")
        live, broken_at = kafka_demo.live_stretch(
            cfg, out, min(int(m) for m in months.split(",")), progress=output.progress
        )
    if output_format == output.JSON:
        output.emit_json(
            {
                "land": res.__dict__,
                "runs": [r.to_json_dict() for r in results],
                "stream": live and live.__dict__,
            }
        )
        return 0
    c = res.counts
    click.echo(
        f"landed {c.get('records', 0):,} records into {c.get('files', 0)} files; sealed spans "
        f"{', '.join(map(str, res.sealed))} under {out}/landed/{region}/ (the newest span stays open)"
    )
    if results:
        click.echo(demo_table(results))
        for r in results:
            click.echo(f"{r.region} span {r.span}: {r.summary}")
    if live is not None:
        click.echo(
            f"stream: {live.counts.get('records', 0):,} records in {live.counts.get('panes', 0)} panes judged "
            f"against the training baseline (span {live.baseline_span}); the upstream broke at "
            f"+{kafka_demo.CALM_S}s:"
        )
        click.echo(transitions_table(live.transitions, broken_at))
    click.echo(f"{time.time() - t0:.0f}s")
    return 0


def transitions_table(transitions, since_ms=None) -> str:
    """Episode transitions as a table (delay: event time after ``since_ms``)."""
    rows = []
    for t in transitions:
        delay = f"{(t['pane_end_ms'] - since_ms) / 1000:+.0f}s" if since_ms is not None else "-"
        what = (
            f"{t['test']} {t['score']:.3f} > {t['threshold']:.3f} ({t['window_s']:g}s window)"
            if t.get("test") and t["test"] != "cusum"
            else ("CUSUM" if t.get("test") else "-")
        )
        rows.append([t["kind"], t["feature"], t["severity"], delay, what])
    return (
        output.table(rows, ["episode", "feature", "severity", "at", "evidence"]) if rows else "(no episodes)"
    )


COMMANDS = [land_cmd, stream_cmd, demo_kafka_cmd]
