"""pipelines.kubeflow_entrypoint: input artifacts as the open-source KFP backend
hands them (empty type schema) become what TFX's entrypoint can parse; the
runner registers the KFP UI titles, renews its run's lease while the executor
works, and as a task process imports only what its executor needs."""

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.dsl.components.base import base_executor

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


# --- the runner: TFX's _run_executor, imports trimmed, titles, lease ----------

ROOT = Path(__file__).resolve().parents[2]
HERE = "tests.pipelines.test_kubeflow_entrypoint"
PIPELINE = "driftgate-ewr"


class HtmlWriter(base_executor.BaseExecutor):
    """Writes its ``report`` output (titled system.HTML) as the recorders do."""

    def Do(self, input_dict, output_dict, exec_properties):
        from tfx.dsl.io import fileio

        report = output_dict["report"][0]
        fileio.makedirs(os.path.dirname(report.uri))
        report.value = "<!DOCTYPE html><p>EWR</p>"


class MetricsWriter(base_executor.BaseExecutor):
    """Writes its ``metrics`` output (titled system.Metrics) as the recorders do."""

    def Do(self, input_dict, output_dict, exec_properties):
        output_dict["metrics"][0].set_float_custom_property("span", 3.0)


class Sleeper(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        time.sleep(float(exec_properties.get("sleep_s", 0)))


# modules the entrypoint defers (loaded = their own code ran), then plain ones
DEFERRED = ("tfx.components", "tfx.v1", "tfx.types.standard_component_specs")
HEAVY = DEFERRED + (
    "kfp.client",
    "kfp.dsl",
    "tensorflow_model_analysis",
    "tensorflow_data_validation",
    "apache_beam",
)


def _ran(name: str) -> bool:
    module = sys.modules.get(name)
    return module is not None and not (name in DEFERRED and "__getattr__" in vars(module))


def __getattr__(name: str):
    # Built when the entrypoint imports them, so importing this module stays light.
    if name == "ImportProbe_Executor":  # a Python function component, as most driftgate tasks are
        from tfx.types import standard_artifacts

        from components.node import Out, component

        def ImportProbe(out: Out[standard_artifacts.Examples]):
            """Records on its output what the task process had imported when Do started."""
            out.set_string_custom_property("loaded", json.dumps([m for m in HEAVY if _ran(m)]))
            out.set_string_custom_property("kfp_runtime", os.environ.get("_KFP_RUNTIME", "unset"))

        ImportProbe.__qualname__ = "ImportProbe"  # made a module-level function, as the shell wants
        globals()["ImportProbe"] = component(ImportProbe)  # sets ImportProbe_Executor
        return vars(sys.modules[__name__])[name]
    if name == "BlessingWriter":
        from components.evaluator.executor import Executor

        def Do(self, input_dict, output_dict, exec_properties):
            blessing = output_dict["blessing"][0]
            blessing.set_int_custom_property("current_model_id", input_dict["model"][0].id)
            blessing.set_int_custom_property("blessed", 1)

        return type(name, (Executor,), {"Do": Do, "__module__": __name__})
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _invocation(tmp_path, outputs, inputs=None, run="run-7", root=None, **params) -> str:
    """``{{$}}`` of a task of run ``run``: outputs under ``<root>/<pipeline>/<run>/task``."""
    root = root or str(tmp_path / "root")
    ei = pipeline_spec_pb2.ExecutorInput()
    for key, (title, name) in (inputs or {}).items():
        artifact = ei.inputs.artifacts[key].artifacts.add(name=name, uri=str(tmp_path / "in" / key))
        artifact.type.instance_schema = f"title: {title}\ntype: object\n"
    for n, (key, title) in enumerate(outputs.items()):
        artifact = ei.outputs.artifacts[key].artifacts.add(
            name=f"{run}-out-{n}", uri=f"{root}/{PIPELINE}/{run}/task/{key}"
        )
        artifact.type.instance_schema = f"title: {title}\ntype: object\n"
    for key, value in params.items():
        ei.inputs.parameters[key].double_value = value
    ei.outputs.output_file = str(tmp_path / "pod" / "executor_output.json")
    return json_format.MessageToJson(ei)


def _run(tmp_path, executor: str, invocation: str) -> dict:
    from pipelines import kubeflow_entrypoint

    argv = ["prog", "--executor_class_path", f"{HERE}.{executor}"]
    argv += ["--json_serialized_invocation_args", invocation]
    kubeflow_entrypoint.run_executor(*kubeflow_entrypoint._parse_flags(argv))
    return json.loads((tmp_path / "pod" / "executor_output.json").read_text())


def test_a_system_html_output_runs_only_with_the_title_registration(tmp_path, monkeypatch):
    from tfx.orchestration.kubeflow.v2 import compiler_utils

    from pipelines import kubeflow_entrypoint

    invocation = _invocation(tmp_path, {"report": "system.HTML"})
    with monkeypatch.context() as m:
        for title in kubeflow_entrypoint.SYSTEM_TITLES:
            m.delitem(compiler_utils.TITLE_TO_CLASS_PATH, title, raising=False)
        m.setattr(kubeflow_entrypoint, "SYSTEM_TITLES", {})
        with pytest.raises(ImportError, match="Could not import system.HTML"):
            _run(tmp_path, "HtmlWriter", invocation)

    out = _run(tmp_path, "HtmlWriter", invocation)
    (report,) = out["artifacts"]["report"]["artifacts"]
    assert report["uri"].endswith(f"/{PIPELINE}/run-7/task/report") and report["name"] == "run-7-out-0"
    assert report["metadata"]["__is_null__"] == 0 and "tfx_version" in report["metadata"]
    assert Path(report["uri"]).read_text() == "<!DOCTYPE html><p>EWR</p>"


def test_a_system_metrics_output_carries_no_tfx_version_row(tmp_path):
    """The UI's Scalar Metrics table lists every custom property but
    display_name: TFX's version tag would be a string row among the numbers."""
    out = _run(tmp_path, "MetricsWriter", _invocation(tmp_path, {"metrics": "system.Metrics"}))
    (metrics,) = out["artifacts"]["metrics"]["artifacts"]
    assert metrics["metadata"] == {"span": 3.0}


def _lease_env(monkeypatch, tmp_path, lease_file=None) -> str:
    from driftgate.core import lease
    from driftgate.core import vocabulary as ids

    path = lease_file or str(tmp_path / "EWR" / "run.lease")
    monkeypatch.setenv(ids.ENV_LEASE_FILE, path)
    monkeypatch.setenv(ids.ENV_PIPELINE_ROOT, str(tmp_path / "root"))
    monkeypatch.setenv(lease.TTL_ENV, "1.5")
    return path


def _heartbeats() -> list:
    return [t for t in threading.enumerate() if t.name == "driftgate-lease-heartbeat"]


def test_the_task_keeps_its_runs_lease_alive_while_the_executor_works(tmp_path, monkeypatch):
    from driftgate.core import lease

    path = _lease_env(monkeypatch, tmp_path)
    lease.Lease(path, "run-7", ttl=1.5, pid=lease.NO_PID).acquire()
    _run(tmp_path, "Sleeper", _invocation(tmp_path, {"out": "tfx.Examples"}, sleep_s=4.0))
    assert lease.holds(path, "run-7")  # 4 s of work, a 1.5 s TTL: renewed
    assert _heartbeats() == []  # stopped when the executor returned


def test_the_task_leaves_another_runs_lease_and_a_free_region_alone(tmp_path, monkeypatch):
    from driftgate.core import lease

    path = _lease_env(monkeypatch, tmp_path)
    lease.Lease(path, "run-6", ttl=1.5, pid=lease.NO_PID).acquire()
    before = Path(path).read_text()
    _run(tmp_path, "Sleeper", _invocation(tmp_path, {"out": "tfx.Examples"}, sleep_s=1.0))
    assert Path(path).read_text() == before and not lease.holds(path, "run-7")

    free = str(tmp_path / "JFK" / "run.lease")
    _lease_env(monkeypatch, tmp_path, free)
    _run(tmp_path, "Sleeper", _invocation(tmp_path, {"out": "tfx.Examples"}, sleep_s=0.2))
    assert lease.document(free) is None  # never taken: the ingest task takes it


def test_a_failed_renewal_is_a_warning_not_a_task_failure(tmp_path, monkeypatch, capsys):
    (tmp_path / "a-file").write_text("")
    _lease_env(monkeypatch, tmp_path, str(tmp_path / "a-file" / "run.lease"))  # cannot be written
    out = _run(tmp_path, "Sleeper", _invocation(tmp_path, {"out": "tfx.Examples"}, sleep_s=0.2))
    assert out["artifacts"]["out"]["artifacts"][0]["name"] == "run-7-out-0"
    err = capsys.readouterr().err
    assert "warning: lease" in err and "of run run-7 not renewed: FileExistsError" in err


def test_no_lease_env_no_heartbeat():
    from pipelines.kubeflow_entrypoint import lease_heartbeat

    assert lease_heartbeat(["/r/p/run-7/task/out"], environ={}) is None
    env = {"DRIFTGATE_LEASE_FILE": "/x/run.lease", "DRIFTGATE_PIPELINE_ROOT": "/elsewhere"}
    assert lease_heartbeat(["/r/p/run-7/task/out"], environ=env) is None  # no run id in the URI


def test_a_deferred_package_runs_its_init_only_for_a_name_that_is_not_a_submodule(tmp_path, monkeypatch):
    from pipelines.task_imports import _deferred_module

    (tmp_path / "dg_lazy_log.py").write_text("runs = []\n")
    pkg = tmp_path / "dg_lazy_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "import dg_lazy_log\ndg_lazy_log.runs.append('pkg')\nfrom dg_lazy_pkg.sub import VALUE as X\n__all__ = ['X']\n"
    )
    (pkg / "sub.py").write_text("VALUE = 42\n")
    (tmp_path / "dg_lazy_mod.py").write_text(
        "import dg_lazy_log\ndg_lazy_log.runs.append('mod')\nKEY = 'k'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    names = ("dg_lazy_log", "dg_lazy_pkg", "dg_lazy_pkg.sub", "dg_lazy_mod")
    try:
        import dg_lazy_log

        package, module = _deferred_module("dg_lazy_pkg"), _deferred_module("dg_lazy_mod")
        assert sys.modules["dg_lazy_pkg"] is package and _deferred_module("dg_lazy_pkg") is None
        import dg_lazy_pkg.sub  # noqa: F401
        from dg_lazy_pkg import sub

        assert sub.VALUE == 42 and dg_lazy_log.runs == []
        from dg_lazy_pkg import X

        assert X == 42 and package.__all__ == ["X"] and dg_lazy_log.runs == ["pkg"]
        assert "__getattr__" not in vars(package)
        assert module.KEY == "k" and dg_lazy_log.runs == ["pkg", "mod"]
        with pytest.raises(ImportError):
            from dg_lazy_pkg import missing  # noqa: F401
    finally:
        for name in names:
            sys.modules.pop(name, None)


def _entrypoint_process(tmp_path, executor: str, invocation: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTGATE_LEASE", "DRIFTGATE_PIPELINE"))}
    env.update(TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    cmd = [
        sys.executable,
        "-m",
        "pipelines.kubeflow_entrypoint",
        "--executor_class_path",
        f"{HERE}.{executor}",
    ]
    cmd += ["--json_serialized_invocation_args", invocation, "--direct_num_workers=1"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp_path / "pod" / "executor_output.json").read_text())


def test_the_task_process_imports_only_what_its_executor_needs(tmp_path):
    out = _entrypoint_process(
        tmp_path, "ImportProbe_Executor", _invocation(tmp_path, {"out": "tfx.Examples"})
    )
    metadata = out["artifacts"]["out"]["artifacts"][0]["metadata"]
    assert json.loads(metadata["loaded"]) == []
    assert metadata["kfp_runtime"] == "unset"  # the executor sees the environment it was given


def test_an_evaluator_task_names_the_blessed_models_by_their_runtime_names(tmp_path):
    model = "projects/p/locations/l/metadataStores/default/artifacts/model-9"
    invocation = _invocation(
        tmp_path, {"blessing": "tfx.ModelBlessing"}, inputs={"model": ("tfx.Model", model)}
    )
    out = _entrypoint_process(tmp_path, "BlessingWriter", invocation)
    metadata = out["artifacts"]["blessing"]["artifacts"][0]["metadata"]
    assert metadata["current_model_id"] == model and metadata["blessed"] == 1


def test_every_driftgate_node_task_imports_its_executor_without_beam_tfdv_or_tfma():
    # The executor classes the committed specs name for driftgate's own nodes
    # (components.node shells), imported in a fresh process after the
    # entrypoint's import preparation: what a task loads before its Do.
    from tests.pipelines.image import spec_entries

    paths = sorted(
        p for p in spec_entries()["classes"] if re.fullmatch(r"components\.\w+\.component\.\w+_Executor", p)
    )
    assert len(paths) >= 7, paths  # gate, canary, release, baseline, both recorders, finalizer
    code = (
        "import json, sys; from pipelines import task_imports; task_imports.prepare_imports()\n"
        "from tfx.utils import import_utils\n"
        f"for p in {paths!r}: import_utils.import_class_by_path(p)\n"
        "print(json.dumps([m for m in ('apache_beam', 'tensorflow_data_validation',"
        " 'tensorflow_model_analysis', 'kfp.client') if m in sys.modules]))"
    )
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
