"""pipelines.kubeflow_entrypoint: input artifacts as the open-source KFP backend
hands them (empty type schema) become what TFX's entrypoint can parse."""

import json

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

GATE_SCHEMA = "title: components.GateReport\ntype: object\n"


def _inputs_spec():
    spec = pipeline_spec_pb2.ComponentInputsSpec()
    spec.artifacts["report"].artifact_type.instance_schema = GATE_SCHEMA
    spec.artifacts["examples"].artifact_type.instance_schema = "title: tfx.Examples\ntype: object\n"
    return spec


def _backend_input():
    """What the backend's driver sends (metadata/client.go: Schema: "")."""
    ei = pipeline_spec_pb2.ExecutorInput()
    report = ei.inputs.artifacts["report"].artifacts.add(name="42", uri="/tmp/report")
    report.type.instance_schema = ""
    report.metadata.update({"decision": "retrain", "span": 3.0})
    examples = ei.inputs.artifacts["examples"].artifacts.add(name="41", uri="/tmp/examples")
    examples.type.schema_title = "tfx.Examples"  # a type the backend did send is kept
    return ei


def test_tfx_entrypoint_alone_cannot_parse_backend_inputs():
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as utils

    with pytest.raises((AttributeError, UnboundLocalError, ImportError)):
        utils.parse_raw_artifact_dict(_backend_input().inputs.artifacts)


def test_empty_input_types_are_filled_from_the_inputs_spec():
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as utils

    from components.artifacts import GateReport
    from pipelines.kubeflow_entrypoint import fill_input_types

    ei = _backend_input()
    assert fill_input_types(ei, _inputs_spec()) == ["report"]
    assert ei.inputs.artifacts["examples"].artifacts[0].type.schema_title == "tfx.Examples"
    parsed = utils.parse_raw_artifact_dict(ei.inputs.artifacts)
    (report,) = parsed["report"]
    assert isinstance(report, GateReport)
    assert report.get_string_custom_property("decision") == "retrain"
    assert report.get_int_custom_property("span") == 3


def test_repaired_invocation_round_trips_the_json_the_launcher_passes():
    from pipelines.kubeflow_entrypoint import repaired_invocation

    text = repaired_invocation(
        json_format.MessageToJson(_backend_input()), json_format.MessageToJson(_inputs_spec())
    )
    got = json.loads(text)["inputs"]["artifacts"]["report"]["artifacts"][0]
    assert got["type"] == {"instanceSchema": GATE_SCHEMA} and got["name"] == "42"
