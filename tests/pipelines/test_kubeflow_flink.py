"""A region compiled for Kubeflow with Flink ``beam_args``: what each task hands
to Beam. TFX appends the pipeline's Beam args to every container executor's
args; the task's entrypoint (``pipelines.kubeflow_entrypoint.parse_args``)
takes every argument it does not know as a Beam arg, and the Beam executors
(ExampleGen, StatisticsGen, Evaluator) build their pipeline from them. Here the
args are read back from the compiled spec, parsed as the entrypoint parses
them, and turned into Beam's own PipelineOptions. Not proven: a run on
Kubernetes (the Flink Kubernetes Operator's cluster, the SDK worker pool
sidecar), which nothing here can start (docs/performance.md)."""

import dataclasses

import pytest

from driftgate.core.config import load_region_config
from pipelines.kubeflow_runner import read_spec

IMAGE = "registry.example/driftgate:test"
# what docs/performance.md ("On Apache Flink") gives a region for a session
# cluster on Kubernetes: the job server jar in the pipeline image, the SDK
# harness in a worker pool beside each TaskManager
FLINK = (
    "--runner=FlinkRunner",
    "--flink_master=driftgate-flink-rest.flink:8081",
    "--flink_version=1.19",
    "--flink_job_server_jar=/opt/beam/beam-runners-flink-1.19-job-server-2.74.0.jar",
    "--environment_type=EXTERNAL",
    "--environment_config=localhost:50000",
    "--parallelism=2",
)
BEAM_NODES = ("example_gen", "statistics_gen", "evaluator")


@pytest.fixture(scope="module")
def executors(tmp_path_factory):
    from pipelines.kubeflow_runner import compile_region

    config = dataclasses.replace(load_region_config("EWR"), beam_args=FLINK)
    path = compile_region(config, str(tmp_path_factory.mktemp("spec")), image=IMAGE)
    with open(path) as fh:
        return read_spec(fh.read())[0]["deploymentSpec"]["executors"]


def _beam_args(executor: dict) -> list:
    from pipelines.kubeflow_entrypoint import parse_args

    container = executor["container"]
    _, beam_args = parse_args(["python", *container["args"]])
    return beam_args


@pytest.mark.parametrize("node", BEAM_NODES)
def test_the_beam_tasks_pass_the_flink_args_to_beam(executors, node):
    from apache_beam.options.pipeline_options import (
        FlinkRunnerOptions,
        PipelineOptions,
        PortableOptions,
        StandardOptions,
    )

    executor = executors[f"{node}_executor"]
    assert executor["container"]["image"] == IMAGE
    args = _beam_args(executor)
    assert [a for a in args if a in FLINK] == list(FLINK)  # all of them, in order
    options = PipelineOptions(args)
    assert options.view_as(StandardOptions).runner == "FlinkRunner"
    flink = options.view_as(FlinkRunnerOptions)
    assert (flink.flink_master, flink.flink_version, flink.parallelism) == (
        "driftgate-flink-rest.flink:8081",
        "1.19",
        2,
    )
    portable = options.view_as(PortableOptions)
    assert (portable.environment_type, portable.environment_config) == ("EXTERNAL", "localhost:50000")


def test_every_task_gets_the_same_beam_args_and_the_flink_region_runs_stock_executors(executors):
    from driftgate.core.config import local_beam_runner

    seen = {name: tuple(a for a in _beam_args(ex) if a.startswith("--")) for name, ex in executors.items()}
    assert len(set(seen.values())) == 1, seen
    assert not local_beam_runner(next(iter(seen.values())))  # so ingest, statistics, Evaluator: TFX's on Beam
    config = dataclasses.replace(load_region_config("EWR"), beam_args=FLINK)
    assert not config.fast_executors
