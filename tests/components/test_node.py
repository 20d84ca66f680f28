"""components.node: a TFX component and executor from one typed function, without Beam."""

import subprocess
import sys
from pathlib import Path

import pytest
from tfx.types import channel_utils, standard_artifacts

from components.node import In, Out, Param, component

ROOT = Path(__file__).resolve().parents[2]
CALLS = []


def Echo(
    examples: In[standard_artifacts.Examples],
    report: Out[standard_artifacts.String],
    name: Param[str],
    count: Param[int] = 2,
):
    """Writes what it was called with."""
    CALLS.append((examples.uri, report.uri, name, count))


EchoComponent = component(Echo)


def _examples():
    return channel_utils.as_channel([standard_artifacts.Examples()])


def test_the_component_takes_inputs_and_parameters_and_creates_its_outputs():
    node = EchoComponent(examples=_examples(), name="x")
    assert node.id == "Echo"
    assert node.exec_properties == {"name": "x"}  # a default left out, as TFX's function components do
    assert node.outputs["report"].type is standard_artifacts.String
    assert EchoComponent.EXECUTOR_SPEC.executor_class is sys.modules[__name__].Echo_Executor
    assert sys.modules[__name__].Echo_Executor.__module__ == __name__  # the class path the spec names


def test_an_unknown_or_missing_argument_is_refused_by_name():
    with pytest.raises(TypeError, match=r"Echo\(\) got unknown argument\(s\) colour"):
        EchoComponent(examples=_examples(), name="x", colour="red")
    with pytest.raises(TypeError, match=r"Echo\(\) missing argument\(s\) name"):
        EchoComponent(examples=_examples())
    with pytest.raises(TypeError, match="examples"):
        EchoComponent(name="x")


def test_a_wrong_parameter_type_is_refused_when_the_pipeline_is_built():
    with pytest.raises(TypeError):
        EchoComponent(examples=_examples(), name="x", count="three")


def test_the_executor_calls_the_function_with_one_artifact_each_and_defaults(tmp_path):
    examples, report = standard_artifacts.Examples(), standard_artifacts.String()
    examples.uri, report.uri = str(tmp_path / "e"), str(tmp_path / "r")
    CALLS.clear()
    sys.modules[__name__].Echo_Executor().Do({"examples": [examples]}, {"report": [report]}, {"name": "x"})
    sys.modules[__name__].Echo_Executor().Do(
        {"examples": [examples]}, {"report": [report]}, {"name": "y", "count": 5}
    )
    assert CALLS == [(examples.uri, report.uri, "x", 2), (examples.uri, report.uri, "y", 5)]


def test_the_executor_names_a_missing_parameter_or_artifact():
    executor = sys.modules[__name__].Echo_Executor()
    with pytest.raises(ValueError, match="parameter 'name' was not given"):
        executor.Do(
            {"examples": [standard_artifacts.Examples()]}, {"report": [standard_artifacts.String()]}, {}
        )
    with pytest.raises(ValueError, match="expected one input artifact 'examples', got 0"):
        executor.Do({}, {"report": [standard_artifacts.String()]}, {"name": "x"})


def test_unsupported_annotations_are_refused_with_the_function_and_argument():
    def Bad(x: str):
        pass

    Bad.__qualname__ = "Bad"
    with pytest.raises(TypeError, match=r"test_node\.Bad: argument 'x' needs an In"):
        component(Bad)

    def Floaty(x: Param[float]):
        pass

    Floaty.__qualname__ = "Floaty"
    with pytest.raises(TypeError, match="Param\\[str\\] or Param\\[int\\]"):
        component(Floaty)

    def nested():
        def Inner(x: Param[str]):
            pass

        return component(Inner)

    with pytest.raises(TypeError, match="module level"):
        nested()


def test_importing_the_shell_imports_no_beam():
    code = "import sys, components.node; print('apache_beam' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
