"""The emulated backend's own API-server and driver rules (tests/pipelines/kfp_backend.py),
on the committed EWR spec, without running a task: what it refuses must be
what the open-source backend refuses, or the conformance runs prove less."""

from pathlib import Path

import pytest

from pipelines.kubeflow_runner import read_spec
from tests.pipelines.kfp_backend import RunCreationError, SpecRun

SPEC = Path(__file__).resolve().parents[2] / "kubeflow" / "pipelines" / "EWR.yaml"


def _run(tmp_path, spec=SPEC, **kw):
    return SpecRun(spec, pipeline_root=str(tmp_path), run_id="r", work_dir=tmp_path, **kw)


def test_run_parameters_get_the_specs_defaults(tmp_path):
    run = _run(tmp_path, parameters={"span": "7"})
    assert {k: v.string_value for k, v in run.parameters.items()} == {
        "span": "7",
        "retrain": "auto",
        "note": "-",
    }


@pytest.mark.parametrize(
    "parameters, message",
    [({"spam": "1"}, "spam not defined in the pipeline spec"), ({"span": 7}, "span: expected a string")],
)
def test_a_run_with_a_parameter_the_spec_does_not_declare_or_a_wrong_type_is_refused(
    tmp_path, parameters, message
):
    with pytest.raises(RunCreationError, match=message):
        _run(tmp_path, parameters=parameters)


def test_a_task_final_status_is_refused_at_run_creation_before_2_14(tmp_path):
    text = SPEC.read_text().replace(
        "strategy: ALL_UPSTREAM_TASKS_COMPLETED",
        "strategy: ALL_UPSTREAM_TASKS_COMPLETED\n        # taskFinalStatus",
    )
    assert "taskFinalStatus" in text
    spec = tmp_path / "final-status.yaml"
    spec.write_text(text)
    with pytest.raises(RunCreationError, match="task final status not supported yet"):
        _run(tmp_path, spec=spec, backend="2.5")
    _run(tmp_path, spec=spec, backend="2.14")  # supported from 2.14 on


def test_a_sub_dag_task_reading_a_parameter_its_dag_lacks_fails_in_the_driver(tmp_path):
    """What TFX's exit handler alone compiles to: tasks in ``tfx-dag`` read
    ``span``, which nothing passes in (``repair_exit_dag`` fixes the spec)."""
    run = _run(tmp_path)
    task = run.spec.components["tfx-dag"].dag.tasks["example_gen"]
    assert task.inputs.parameters["span"].component_input_parameter == "span"
    with pytest.raises(RunCreationError, match="parent DAG does not have input parameter span"):
        SpecRun._parameters("example_gen", task, parent={})
    assert SpecRun._parameters("example_gen", task, run.parameters)["span"].string_value == "next"


def test_the_committed_spec_passes_every_root_parameter_into_the_sub_dag():
    spec = read_spec(SPEC.read_text())[0]
    passed = spec["root"]["dag"]["tasks"]["tfx-dag"]["inputs"]["parameters"]
    assert set(passed) == set(spec["root"]["inputDefinitions"]["parameters"])
