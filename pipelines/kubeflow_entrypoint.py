"""Container entrypoint of every driftgate task on Kubeflow Pipelines.

It is TFX's own ``tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor``
with one repair, so compiled specs run on the open-source KFP backend and not
only on Vertex AI:

The open-source backend's driver hands a task its *input* artifacts with an empty
type schema (``backend/src/v2/metadata/client.go``, every release from 2.0 to
2.5: ``Schema: "", // TODO(Bobgy): figure out how to get schema``). TFX's
entrypoint derives each artifact's Python class from that schema's title, so
every task with an input artifact fails before its executor starts. The
compiled spec passes each input's declared type in
``--json_serialized_inputs_spec_args``; this fills the empty types from there
and then runs TFX's entrypoint unchanged. A type the backend did send is kept.

Compiled specs name this module as the container command
(``KubeflowV2DagRunnerConfig(default_commands=...)``), so the pipeline image must
have driftgate installed (``kubeflow/Dockerfile``).
"""

from __future__ import annotations

from typing import List, Sequence

from absl import app
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor

COMMAND = ["python", "-m", "pipelines.kubeflow_entrypoint"]


def fill_input_types(
    executor_input: pipeline_spec_pb2.ExecutorInput, inputs_spec: pipeline_spec_pb2.ComponentInputsSpec
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
    executor_input = pipeline_spec_pb2.ExecutorInput()
    json_format.Parse(invocation_json, executor_input, ignore_unknown_fields=True)
    inputs_spec = pipeline_spec_pb2.ComponentInputsSpec()
    if inputs_spec_json:
        json_format.Parse(inputs_spec_json, inputs_spec, ignore_unknown_fields=True)
    fill_input_types(executor_input, inputs_spec)
    return json_format.MessageToJson(executor_input)


def _parse_flags(argv: Sequence[str]):
    args, beam_args = kubeflow_v2_run_executor._parse_flags(argv)  # TFX's own flags
    args.json_serialized_invocation_args = repaired_invocation(
        args.json_serialized_invocation_args, getattr(args, "json_serialized_inputs_spec_args", "") or ""
    )
    return args, beam_args


def main(parsed_argv) -> None:
    kubeflow_v2_run_executor.main(parsed_argv)


if __name__ == "__main__":
    app.run(main, flags_parser=_parse_flags)
