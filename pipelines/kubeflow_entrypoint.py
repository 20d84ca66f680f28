"""Container entrypoint of every driftgate task on Kubeflow Pipelines.

It does what TFX's own ``tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor``
does (:func:`run_executor` follows its ``_run_executor`` step by step: same flags,
same parsing through ``kubeflow_v2_entrypoint_utils``, same ExecutorOutput) with
three additions, so compiled specs run on the open-source KFP backend and not
only on Vertex AI, and start fast:

1. **Input types.** The open-source backend's driver hands a task its *input*
   artifacts with an empty type schema (``backend/src/v2/metadata/client.go``,
   every release from 2.0 to 2.5: ``Schema: "", // TODO(Bobgy): figure out how to
   get schema``). TFX derives each artifact's Python class from that schema's
   title, so every task with an input artifact would fail before its executor
   starts. The compiled spec passes each input's declared type in
   ``--json_serialized_inputs_spec_args``; :func:`fill_input_types` fills the
   empty types from there. A type the backend did send is kept.
2. **KFP UI titles.** The UI draws only artifacts whose type is one of KFP's
   ``system.*`` names, which are not import paths: :data:`SYSTEM_TITLES` maps them
   to driftgate's classes in TFX's title map before any artifact is parsed. A
   ``system.Metrics`` output is not tagged with ``tfx_version`` (TFX tags every
   output): the UI's Scalar Metrics table lists every custom property.
3. **Lease heartbeat.** With ``DRIFTGATE_LEASE_FILE`` and ``DRIFTGATE_PIPELINE_ROOT``
   set (the compiled spec sets both), a daemon thread extends the region lease
   the task's run holds every ``ttl / 3`` seconds while the executor works
   (``driftgate.core.lease.renew_run``: never takes a free or foreign lease).

**Start-up.** TFX's runner module imports all of ``tfx.components`` (for one
``issubclass`` check against the Evaluator) and ``kfp``, whose ``__init__``
imports ``kfp.client``: 9 s before any task starts, three times a bare ``import
tensorflow``. Run as the container command, this module first makes those
imports cheap (``pipelines.task_imports.prepare_imports``), then imports only what the runner and
the task's own executor class need.

Compiled specs name this module as the container command
(``KubeflowV2DagRunnerConfig(default_commands=...)``), so the pipeline image must
have driftgate installed (``kubeflow/Dockerfile``).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from kfp.pipeline_spec import pipeline_spec_pb2

COMMAND = ["python", "-m", "pipelines.kubeflow_entrypoint"]

# KFP UI artifact kinds (``system.*`` schema titles) -> the driftgate class of each.
SYSTEM_TITLES = {
    "system.HTML": "components.artifacts.RunReportHtml",
    "system.Markdown": "components.artifacts.RunSummaryMarkdown",
    "system.Metrics": "components.artifacts.RunMetrics",
    "system.ClassificationMetrics": "components.artifacts.ModelQuality",
}

# outputs TFX's ``tfx_version`` tag would show in the UI as a row of their table
UNTAGGED_TITLES = ("system.Metrics",)

_EVALUATOR_EXECUTOR = "tfx.components.evaluator.executor"
_BEAM_EXECUTOR = "tfx.dsl.components.base.base_beam_executor"


def register_system_titles(titles: Optional[Dict[str, str]] = None) -> None:
    """Adds the ``system.*`` titles to the map ``kubeflow_v2_entrypoint_utils.
    _retrieve_class_path`` consults for every artifact (inputs and outputs)
    before it falls back to importing the title itself."""
    from tfx.orchestration.kubeflow.v2 import compiler_utils

    compiler_utils.TITLE_TO_CLASS_PATH.update(SYSTEM_TITLES if titles is None else titles)


# ---------------------------------------------------------------------------
# Input types


def fill_input_types(
    executor_input: "pipeline_spec_pb2.ExecutorInput", inputs_spec: "pipeline_spec_pb2.ComponentInputsSpec"
) -> List[str]:
    """Gives every input artifact without a type schema the type its input
    declares in the component's inputs spec. Returns the input names filled."""
    filled = []
    for name, artifact_list in executor_input.inputs.artifacts.items():
        declared = inputs_spec.artifacts.get(name)
        if declared is None:
            continue
        for artifact in artifact_list.artifacts:
            kind = artifact.type.WhichOneof("kind")
            if kind is None or not getattr(artifact.type, kind):
                artifact.type.CopyFrom(declared.artifact_type)
                filled.append(name)
    return sorted(set(filled))


def repaired_invocation(invocation_json: str, inputs_spec_json: str) -> str:
    """The ``{{$}}`` ExecutorInput JSON with input artifact types filled."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    executor_input = pipeline_spec_pb2.ExecutorInput()
    json_format.Parse(invocation_json, executor_input, ignore_unknown_fields=True)
    inputs_spec = pipeline_spec_pb2.ComponentInputsSpec()
    if inputs_spec_json:
        json_format.Parse(inputs_spec_json, inputs_spec, ignore_unknown_fields=True)
    fill_input_types(executor_input, inputs_spec)
    return json_format.MessageToJson(executor_input)


# ---------------------------------------------------------------------------
# Lease heartbeat


def lease_heartbeat(
    output_uris: Sequence[str], environ=os.environ, warn: Optional[Callable[[str], None]] = None
) -> Optional[Callable[[], None]]:
    """Starts renewing the lease of the task's run (named by the first output
    URI under the pipeline root) in a daemon thread: at once, then every
    ``ttl / 3`` s. Returns the function that stops it, or None when the lease
    env is not set or no output URI names a run. A renewal that fails is a
    warning (``warn``, stderr by default), never the task's failure; a lease
    the run does not hold (free, foreign, given back) is left as it is."""
    from driftgate.core import lease
    from driftgate.core import vocabulary as ids

    path, root = environ.get(ids.ENV_LEASE_FILE), environ.get(ids.ENV_PIPELINE_ROOT)
    if not path or not root or not output_uris:
        return None
    run = lease.run_id_from_uri(output_uris[0], root)
    if not run:
        return None
    ttl = lease.pipeline_ttl(environ)
    warn = warn or (lambda line: print(line, file=sys.stderr, flush=True))
    stop = threading.Event()

    def beat() -> None:
        while True:
            try:
                if not lease.renew_run(path, run, ttl):
                    # The ingest task takes the lease inside its executor; the
                    # last task gives it back: then there is nothing to renew.
                    from absl import logging

                    logging.info("lease %s: not held by run %s, not renewed", path, run)
            except Exception as exc:  # noqa: BLE001 - retried next period; expiry is the backstop
                warn(f"warning: lease {path} of run {run} not renewed: {type(exc).__name__}: {exc}")
            if stop.wait(ttl / 3):
                return

    thread = threading.Thread(target=beat, name="driftgate-lease-heartbeat", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=10)

    return halt


# ---------------------------------------------------------------------------
# The runner: TFX's kubeflow_v2_run_executor._run_executor, imports trimmed


def run_executor(args: argparse.Namespace, beam_args: List[str]) -> None:
    """Runs ``--executor_class_path`` on the ExecutorInput in
    ``--json_serialized_invocation_args`` and writes its ExecutorOutput, as TFX's
    ``kubeflow_v2_run_executor._run_executor`` does."""
    from absl import logging
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.dsl.components.base import base_executor
    from tfx.dsl.io import fileio
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils
    from tfx.orchestration.portable import outputs_utils
    from tfx.types import artifact_utils, standard_artifacts, standard_component_specs, value_artifact
    from tfx.utils import import_utils

    from driftgate.core import logs

    logging.set_verbosity(logging.INFO)
    if os.environ.get(logs.ENV):  # DRIFTGATE_LOG_FORMAT=json: one JSON object per line for the log store
        logs.configure()
    logs.bind(runner="kubeflow")
    register_system_titles()

    executor_input = pipeline_spec_pb2.ExecutorInput()
    json_format.Parse(args.json_serialized_invocation_args, executor_input, ignore_unknown_fields=True)
    inputs_spec = None
    if getattr(args, "json_serialized_inputs_spec_args", None):
        inputs_spec = pipeline_spec_pb2.ComponentInputsSpec()
        json_format.Parse(args.json_serialized_inputs_spec_args, inputs_spec, ignore_unknown_fields=True)

    inputs_dict = executor_input.inputs.artifacts
    outputs_dict = executor_input.outputs.artifacts
    inputs_parameter_value = executor_input.inputs.parameter_values
    inputs_parameter = executor_input.inputs.parameters
    outputs_parameters = executor_input.outputs.parameters

    task_root = os.path.dirname(executor_input.outputs.output_file)
    tmp_path = os.path.join(task_root, ".temp")
    task_unique_id = os.path.basename(task_root)

    if fileio.exists(executor_input.outputs.output_file):
        # A driver wrote updated exec properties to this file.
        with fileio.open(executor_input.outputs.output_file, "rb") as output_meta_json:
            output_metadata = pipeline_spec_pb2.ExecutorOutput()
            json_format.Parse(output_meta_json.read(), output_metadata, ignore_unknown_fields=True)
            for k, v in output_metadata.parameter_values.items():
                inputs_parameter_value[k].CopyFrom(v)
            for k, v in output_metadata.parameters.items():
                inputs_parameter[k].CopyFrom(v)

    name_from_id: Dict[int, str] = {}
    inputs = kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(inputs_dict, name_from_id)
    outputs = kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(outputs_dict, name_from_id)
    exec_properties = kubeflow_v2_entrypoint_utils.parse_execution_properties(
        inputs_parameter_value, inputs_parameter, inputs_spec
    )
    logging.info(
        "Executor %s do: inputs: %s, outputs: %s, exec_properties: %s",
        args.executor_class_path,
        inputs,
        outputs,
        exec_properties,
    )
    executor_cls = import_utils.import_class_by_path(args.executor_class_path)
    # TFX's runner imports BaseBeamExecutor and the Evaluator's executor for two
    # issubclass checks. A subclass of either exists only once its module is
    # imported, so the modules the executor class loaded answer the same.
    beam = sys.modules.get(_BEAM_EXECUTOR)
    if beam is not None and issubclass(executor_cls, beam.BaseBeamExecutor):
        executor_context = beam.BaseBeamExecutor.Context(
            beam_pipeline_args=beam_args, unique_id=task_unique_id, tmp_dir=tmp_path
        )
    else:
        executor_context = base_executor.BaseExecutor.Context(
            extra_flags=beam_args, unique_id=task_unique_id, tmp_dir=tmp_path
        )
    executor = executor_cls(executor_context)
    uris = [a.uri for key in sorted(outputs) for a in outputs[key] if a.uri]
    stop_heartbeat = lease_heartbeat(uris)
    logging.info("Starting executor")
    try:
        executor.Do(inputs, outputs, exec_properties)
    finally:
        if stop_heartbeat is not None:
            stop_heartbeat()

    # TFX tags every output with its version; not a system.Metrics one, whose every
    # custom property is a row of the UI's Scalar Metrics table (numbers only there)
    outputs_utils.tag_output_artifacts_with_version(
        {k: v for k, v in outputs.items() if not any(a.type_name in UNTAGGED_TITLES for a in v)}
    )

    # TFX's workaround (b/169583143): the Evaluator's blessing names its models by
    # the managed MLMD resource name.
    evaluator = sys.modules.get(_EVALUATOR_EXECUTOR)
    if (
        evaluator is not None
        and issubclass(executor_cls, evaluator.Executor)
        and standard_component_specs.BLESSING_KEY in outputs
    ):
        kubeflow_v2_entrypoint_utils.refactor_model_blessing(
            artifact_utils.get_single_instance(outputs[standard_component_specs.BLESSING_KEY]), name_from_id
        )

    metadata_uri = executor_input.outputs.output_file
    executor_output = pipeline_spec_pb2.ExecutorOutput()
    for k, v in kubeflow_v2_entrypoint_utils.translate_executor_output(outputs, name_from_id).items():
        executor_output.artifacts[k].CopyFrom(v)

    for key in outputs_parameters.keys():
        if key not in outputs.keys():
            raise ValueError("All OutputParameters must have corresponding OutputValueArtifacts.")
        assert len(outputs[key]) == 1 and isinstance(
            outputs[key][0], value_artifact.ValueArtifact
        ), "Parameter should have one corresponding ValueArtifact."
        artifact = outputs[key][0]
        if isinstance(artifact, standard_artifacts.String):
            executor_output.parameter_values[key].string_value = artifact.read()
        elif isinstance(artifact, (standard_artifacts.Float, standard_artifacts.Integer)):
            executor_output.parameter_values[key].number_value = artifact.read()
        elif isinstance(artifact, standard_artifacts.Boolean):
            executor_output.parameter_values[key].bool_value = artifact.read()
        else:
            raise ValueError("Only String, Float, Int, and Boolean ValueArtifacts are supported.")

    fileio.makedirs(os.path.dirname(metadata_uri))
    with fileio.open(metadata_uri, "wb") as f:
        f.write(json_format.MessageToJson(executor_output))


def parse_args(argv: Sequence[str]) -> Tuple[argparse.Namespace, List[str]]:
    """TFX's flags (``kubeflow_v2_run_executor._parse_flags``); the rest
    (``argv[0]`` among them, as in TFX) are the Beam args."""
    from absl.flags import argparse_flags

    parser = argparse_flags.ArgumentParser()
    parser.add_argument(
        "--executor_class_path",
        type=str,
        required=True,
        help="Python class of executor in format of <module>.<class>.",
    )
    parser.add_argument(
        "--json_serialized_invocation_args",
        type=str,
        required=True,
        help="JSON-serialized metadata for this execution.",
    )
    parser.add_argument(
        "--json_serialized_inputs_spec_args",
        type=str,
        required=False,
        help="JSON-serialized component inputs spec for this execution.",
    )
    return parser.parse_known_args(argv)


def _parse_flags(argv: Sequence[str]):
    args, beam_args = parse_args(argv)
    args.json_serialized_invocation_args = repaired_invocation(
        args.json_serialized_invocation_args, getattr(args, "json_serialized_inputs_spec_args", "") or ""
    )
    return args, beam_args


def main(parsed_argv) -> None:
    args, beam_args = parsed_argv
    run_executor(args, beam_args)


if __name__ == "__main__":
    from driftgate.core import logs

    if logs.is_json():  # before TensorFlow prints
        logs.capture_native_stderr()
    from pipelines.task_imports import prepare_imports

    prepare_imports()
    from absl import app

    app.run(main, flags_parser=_parse_flags)
