"""``driftgate local kafka|flink|gcs|fetch``: real engines on loopback for
tests, demos and a developer's laptop (``driftgate.local``). Each prints where
to reach it on stdout, runs until SIGTERM/SIGINT and then stops every process
it started."""

from __future__ import annotations

import signal
import threading
from typing import List

import click

from driftgate.cli import output


@click.group("local")
def local_group():
    """Start a real engine on loopback (Apache Kafka, Flink, a bucket server)."""


def serve_until_signal(output_format: str, info: dict, lines: List[str], notes: List[str]) -> None:
    """Shows where to reach the engine (``info`` as JSON with ``-o json``, else
    ``lines`` on stdout; ``notes`` on stderr), then blocks until SIGTERM or
    SIGINT. The handlers are installed first, so a caller that stops us as
    soon as it reads the first line never kills us before them."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if output_format == output.JSON:
        output.emit_json(info)
    else:
        click.echo("\n".join(lines))
    for note in notes:
        output.progress(note)
    while not stop.wait(0.5):
        pass


@local_group.command("fetch")
@click.argument("engines", nargs=-1, type=click.Choice(["kafka", "flink", "gcs"]))
def fetch_cmd(engines):
    """Fetch the engines' jars and binaries into the cache (what `make engines` runs)."""
    from driftgate.local import engines as cache

    for line in cache.fetch(list(engines) or list(cache.NAMES), progress=output.progress):
        click.echo(line)
    return 0


@local_group.command("kafka")
@click.option("--brokers", type=click.IntRange(1, 9), default=3, show_default=True, help="KRaft nodes")
@click.option(
    "--port", type=int, default=None, help="first broker port (brokers P.., controllers after them)"
)
@click.option(
    "--dir", "directory", default=None, help="keep the nodes' data here (default: a temporary folder)"
)
@output.output_option
def kafka_cmd(brokers, port, directory, output_format):
    """Start an Apache Kafka cluster (KRaft) on loopback; print its bootstrap servers."""
    from driftgate.local import kafka

    c = kafka.Cluster(brokers=brokers, port=port, directory=directory)
    try:
        c.start(progress=output.progress)
        info = {
            "engine": f"Apache Kafka {kafka.version()}",
            "bootstrap": c.bootstrap,
            "brokers": brokers,
            "directory": str(c.directory),
        }
        notes = [f"Apache Kafka {kafka.version()}: {brokers} node(s) ready; Ctrl-C stops them"]
        serve_until_signal(output_format, info, [c.bootstrap], notes)
    finally:
        output.progress("stopping the Kafka nodes")
        c.stop()
    return 0


@local_group.command("flink")
@click.option("--taskmanagers", type=click.IntRange(1, 8), default=2, show_default=True, help="TaskManagers")
@click.option("--slots", type=click.IntRange(1, 8), default=1, show_default=True, help="slots per TM")
@click.option("--port", type=int, default=None, help="REST port, what --flink_master names (default: free)")
@click.option("--dir", "directory", default=None, help="config and logs here (default: a temporary folder)")
@output.output_option
def flink_cmd(taskmanagers, slots, port, directory, output_format):
    """Start an Apache Flink session cluster on loopback; print its REST address."""
    from driftgate.local import engines, flink

    c = flink.FlinkCluster(taskmanagers=taskmanagers, slots=slots, port=port, directory=directory)
    try:
        c.start(progress=output.progress)
        job_server = flink.job_server_missing(engines.cache_dir())
        info = {
            "engine": f"Apache Flink {flink.libraries_version()}",
            "rest": c.rest_url,
            "flink_master": c.master,
            "taskmanagers": taskmanagers,
            "slots": taskmanagers * slots,
            "directory": str(c.directory),
            "beam_args": c.beam_args(parallelism=taskmanagers * slots),
            "job_server": job_server or str(flink.job_server_jar(engines.cache_dir())),
        }
        notes = [
            f"{info['engine']}: 1 JobManager, {taskmanagers} TaskManager(s) ready",
            "beam_args for a region: " + " ".join(info["beam_args"]),
            *([f"warning: Beam cannot submit yet: {job_server}"] if job_server else []),
            "Ctrl-C stops them",
        ]
        serve_until_signal(output_format, info, [c.rest_url], notes)
    finally:
        output.progress("stopping the Flink processes")
        c.stop()
    return 0


@local_group.command("gcs")
@click.option("--port", type=int, default=None, help="port to serve on (default: a free one)")
@click.option(
    "--bucket",
    "buckets",
    multiple=True,
    default=("driftgate-demo",),
    show_default=True,
    help="bucket to create (repeatable)",
)
@click.option(
    "--tensorflow", is_flag=True, help="also serve TensorFlow's gs:// (a TLS gateway; prints its variables)"
)
@output.output_option
def gcs_cmd(port, buckets, tensorflow, output_format):
    """Start fake-gcs-server (a Cloud Storage JSON API server that enforces
    generation preconditions) on loopback; print STORAGE_EMULATOR_HOST=..."""
    from driftgate.local import gcs

    server = gcs.Server(port=port, buckets=buckets, tensorflow=tensorflow)

    try:
        server.start(progress=output.progress)
        info = {
            "engine": f"{gcs.NAME} {gcs.VERSION}",
            "url": server.url,
            "env": server.env(),
            "buckets": list(buckets),
            "pid": server.pid,
        }
        lines = [f"{key}={value}" for key, value in server.env().items()]  # STORAGE_EMULATOR_HOST first
        serve_until_signal(output_format, info, lines, [f"{gcs.NAME} {gcs.VERSION} ready; Ctrl-C stops it"])
    finally:
        output.progress(f"stopping {gcs.NAME}")
        server.stop()
    return 0


COMMANDS = [local_group]
