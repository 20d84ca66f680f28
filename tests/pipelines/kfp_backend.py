"""Executes a compiled PipelineSpec task by task as the open-source KFP v2
backend (driver + launcher, ``backend/src/v2`` of kubeflow/pipelines 2.0-2.5)
does, on this machine. Test support for ``tests/e2e/test_kubeflow_conformance.py``.

What is reproduced, from the backend's code:
- **Order and skipping**: tasks run when every ``dependentTasks`` entry
  succeeded (Argo ``depends: X.Succeeded``); up to ``workers`` ready tasks run
  at once. A task whose ``triggerPolicy.condition`` is false is skipped (not
  executed, no outputs), and so is everything downstream of it.
- **Driver** (``driver.go``): parameters are the spec's ``runtimeValue.constant``
  values; input artifacts are the producers' recorded outputs with ``name`` set
  to a numeric MLMD id, their ``uri``, ``metadata`` as recorded, and a type
  whose ``instanceSchema`` is empty (``Schema: "", // TODO(Bobgy)``). Output
  artifacts get ``<pipeline_root>/<pipeline name>/<run id>/<task>/<key>`` and
  the type declared in ``outputDefinitions``.
- **Condition**: the CEL expression is evaluated by a real CEL implementation
  (cel-python) with ``inputs`` bound to the ExecutorInput's inputs under proto
  field names, as cel-go does with ``DeclareContextProto``.
- **Launcher** (``launcher_v2.go``): ``{{$}}`` becomes the ExecutorInput as
  JSON (kfp's own ``kfp.local.placeholder_utils``); the container's exact
  ``command`` + ``args`` run as a process in the task's own folder (``python``
  is this interpreter; with the conformance suite's ``env``, from
  ``tests/pipelines/image.py``, it imports the project only from the image's
  install, not from the checkout); lifecycle hooks are not run (the
  backend never reads them); a non-zero exit fails the task. The ExecutorOutput
  file is read and merged (uri, metadata) into the recorded artifact.
- **MLMD round trip** of metadata (``StructValueToMLMDValue`` then
  ``toRuntimeArtifact``): numbers come back as doubles, booleans as 1/0,
  lists and structs wrapped as ``{"list": ...}`` / ``{"struct": ...}``.
- **Importer** tasks create an artifact from ``artifactUri`` and ``typeSchema``
  without running anything.

What it does not prove: Argo, Kubernetes, pods, the base image
(``tensorflow/tfx:1.16.0``: its OS, Python and TFX stack are replaced by this
interpreter and its packages, its environment by the Dockerfile's ``ENV`` lines;
that the image holds what the tasks import is what ``image.py``'s install and
``tests/pipelines/test_image.py`` check), artifact upload/download between
pods (bucket URIs are rewritten to local folders, which TFX's gfile writes
directly as it writes ``gs://``), the real MLMD server, caching, retries and the
API server.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from google.protobuf import json_format, struct_pb2
from kfp.local import placeholder_utils
from kfp.pipeline_spec import pipeline_spec_pb2

from pipelines.kubeflow_runner import read_spec

# Argo's node phases: SKIPPED = condition false; OMITTED = an upstream task did not succeed
SUCCEEDED, FAILED, SKIPPED, OMITTED = "SUCCEEDED", "FAILED", "SKIPPED", "OMITTED"
ALL_COMPLETED = "ALL_UPSTREAM_TASKS_COMPLETED"  # an exit handler: runs whatever its upstream did


class RunCreationError(RuntimeError):
    """What the API server answers when a run cannot be created from the spec."""


def _version(text: str) -> tuple:
    return tuple(int(x) for x in text.split(".")[:2])


@dataclass
class TaskResult:
    name: str
    state: str
    exit_code: Optional[int] = None
    seconds: float = 0.0
    condition: Optional[str] = None
    outputs: Dict[str, pipeline_spec_pb2.RuntimeArtifact] = field(default_factory=dict)
    log_tail: str = ""
    types: Dict[str, str] = field(default_factory=dict)  # output key -> MLMD type name (schema title)
    dag: str = "root"  # the DAG the task belongs to
    metadata_before_mlmd: Dict[str, dict] = field(default_factory=dict)  # as the executor wrote it

    def metadata(self, key: str) -> dict:
        return json_format.MessageToDict(self.outputs[key].metadata)


def dockerfile_env(dockerfile: Path) -> Dict[str, str]:
    """The ``ENV`` settings of a Dockerfile (``ENV A=1 \\ B=2`` form)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    env = {}
    for line in text.splitlines():
        if line.strip().startswith("ENV "):
            for pair in line.strip()[4:].split():
                if "=" in pair:
                    k, v = pair.split("=", 1)
                    env[k] = v
    return env


def _mlmd_round_trip(metadata: struct_pb2.Struct) -> struct_pb2.Struct:
    """Metadata as a downstream driver reads it back from MLMD."""
    out = {}
    for k, v in json_format.MessageToDict(metadata).items():
        if isinstance(v, bool):
            out[k] = 1.0 if v else 0.0
        elif isinstance(v, (int, float)):
            out[k] = float(v)
        elif isinstance(v, list):
            out[k] = {"list": v}
        elif isinstance(v, dict):
            out[k] = {"struct": v}
        else:
            out[k] = v
    result = struct_pb2.Struct()
    result.update(out)
    return result


def _schema_title(instance_schema: str) -> str:
    """The ``title`` of an artifact type's instance schema (MLMD type name)."""
    m = re.search(r"^title:\s*(\S+)", instance_schema or "", re.M)
    return m.group(1) if m else ""


def _cel(condition: str, inputs: pipeline_spec_pb2.ExecutorInput.Inputs) -> bool:
    import celpy

    env = celpy.Environment()
    program = env.program(env.compile(condition))
    activation = {
        "inputs": celpy.json_to_cel(json_format.MessageToDict(inputs, preserving_proto_field_name=True))
    }
    value = program.evaluate(activation)
    if not isinstance(value, celpy.celtypes.BoolType):
        raise ValueError(f"condition {condition!r} did not evaluate to a bool: {value!r}")
    return bool(value)


class SpecRun:
    """One run of a compiled spec. ``rewrite`` maps strings in the spec (bucket
    URIs, the image's project folder) to local ones before anything runs."""

    def __init__(
        self,
        spec_path: Path,
        *,
        pipeline_root: str,
        run_id: str,
        work_dir: Path,
        rewrite: Mapping[str, str] = (),
        env: Optional[Mapping[str, str]] = None,
        secrets: Optional[Mapping[str, Mapping[str, str]]] = None,
        workers: int = 2,
        parameters: Optional[Mapping[str, object]] = None,
        backend: str = "2.5",
    ):
        """``parameters``: the run's parameters (the UI's run form, ``kfp run``),
        validated against the spec and filled with its defaults as the API
        server does. ``backend``: the open-source backend version whose rules
        apply (run creation refuses a task final status before 2.14; the run's
        state follows the exit handler before 2.4, the DAG from 2.4 on)."""
        text = spec_path.read_text()
        self.backend = backend
        if "taskFinalStatus" in text and _version(backend) < (2, 14):
            # backend/src/v2/compiler/argocompiler/dag.go addImplicitDependencies
            raise RunCreationError("task final status not supported yet")
        for old, new in dict(rewrite).items():
            text = text.replace(old, new)
        self.spec = pipeline_spec_pb2.PipelineSpec()
        pipeline, platform = read_spec(text)
        json_format.ParseDict(pipeline, self.spec)
        self.k8s = platform.get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {})
        self.secrets = {k: dict(v) for k, v in dict(secrets or {}).items()}  # the cluster's Secrets
        self.pipeline_root = pipeline_root
        self.run_id = run_id
        self.work_dir = work_dir
        self.env = dict(os.environ, **dict(env or {}))
        self.workers = workers
        self.results: Dict[str, TaskResult] = {}
        self.parameters = self._run_parameters(dict(parameters or {}))
        self._next_id = 1
        self._lock = threading.Lock()

    # --- API server ---------------------------------------------------------
    def _run_parameters(self, given: Dict[str, object]) -> Dict[str, struct_pb2.Value]:
        """The root DAG's parameters for this run: the given values checked
        against ``root.inputDefinitions`` (unknown names and wrong types are
        refused), the spec's defaults for the rest; a required parameter
        without a value is refused (``backend/src/v2/driver`` / the API server's
        runtime-config validation)."""
        declared = self.spec.root.input_definitions.parameters
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise RunCreationError(f"parameter(s) {', '.join(unknown)} not defined in the pipeline spec")
        out = {}
        for name, pspec in declared.items():
            value = struct_pb2.Value()
            if name in given:
                v = given[name]
                kind = pipeline_spec_pb2.ParameterType.ParameterTypeEnum.Name(pspec.parameter_type)
                if kind == "STRING" and not isinstance(v, str):
                    raise RunCreationError(f"parameter {name}: expected a string, got {v!r}")
                value.string_value = v if isinstance(v, str) else ""
                if not isinstance(v, str):
                    value.number_value = float(v)
            elif pspec.HasField("default_value"):
                value.CopyFrom(pspec.default_value)
            elif pspec.is_optional:
                continue
            else:
                raise RunCreationError(f"parameter {name} is required and has no default")
            out[name] = value
        return out

    # --- driver -----------------------------------------------------------
    def _artifact_id(self) -> str:
        with self._lock:
            self._next_id += 1
            return str(self._next_id)

    @staticmethod
    def _parameters(name: str, task, parent: Mapping[str, struct_pb2.Value]) -> Dict[str, struct_pb2.Value]:
        """A task's input parameters as the driver resolves them: constants, or
        the parent DAG's input (``componentInputParameter``); a parameter the
        parent DAG does not have fails the task as ``driver.go`` does."""
        out = {}
        for pname, pspec in task.inputs.parameters.items():
            which = pspec.WhichOneof("kind")
            if which == "runtime_value":
                out[pname] = pspec.runtime_value.constant
            elif which == "component_input_parameter":
                source = pspec.component_input_parameter
                if source not in parent:
                    raise RunCreationError(f"{name}: parent DAG does not have input parameter {source}")
                out[pname] = parent[source]
            else:
                raise NotImplementedError(f"{name}.{pname}: parameter source {which}")
        return out

    def _executor_input(self, name: str, task, parent) -> pipeline_spec_pb2.ExecutorInput:
        component = self.spec.components[task.component_ref.name]
        ei = pipeline_spec_pb2.ExecutorInput()
        for pname, value in self._parameters(name, task, parent).items():
            ei.inputs.parameter_values[pname].CopyFrom(value)
        for aname, aspec in task.inputs.artifacts.items():
            producer = aspec.task_output_artifact
            recorded = self.results[producer.producer_task].outputs[producer.output_artifact_key]
            art = ei.inputs.artifacts[aname].artifacts.add()
            art.CopyFrom(recorded)
            art.type.instance_schema = ""  # the backend does not know the type of an input
        task_dir = self.work_dir / name
        ei.outputs.output_file = str(task_dir / "kfp_outputs" / "output_metadata.json")
        for key, ospec in component.output_definitions.artifacts.items():
            art = ei.outputs.artifacts[key].artifacts.add()
            art.uri = "/".join(
                [self.pipeline_root.rstrip("/"), self.spec.pipeline_info.name, self.run_id, name, key]
            )
            art.type.CopyFrom(ospec.artifact_type)
        return ei

    def _pod_env(self, name: str, executor_label: str, container) -> Dict[str, str]:
        """The task pod's environment as the driver builds it: the image's, the
        container spec's ``env``, and Secrets mounted per the kubernetes
        platform section (``secretAsVolume``). A mount is a folder under the
        task's work dir; env values naming a path in it point there."""
        env = dict(self.env)
        mounts = {}
        config = self.k8s.get("executors", {}).get(executor_label, {})
        for vol in config.get("secretAsVolume", []):
            secret = self.secrets.get(vol["secretName"])
            if secret is None and not vol.get("optional"):
                raise RuntimeError(f"{name}: Secret {vol['secretName']} missing: the pod would not start")
            folder = self.work_dir / name / "mounts" / vol["mountPath"].lstrip("/")
            folder.mkdir(parents=True, exist_ok=True)
            for key, value in (secret or {}).items():
                (folder / key).write_text(value)
            mounts[vol["mountPath"]] = str(folder)
        if config.get("secretAsEnv"):
            raise NotImplementedError("secretAsEnv")
        for var in container.env:
            value = var.value
            for path, folder in mounts.items():
                if value.startswith(path + "/"):
                    value = folder + value[len(path) :]
            env[var.name] = value
        return env

    # --- launcher ---------------------------------------------------------
    def _run_container(self, name: str, container, ei, env: Mapping[str, str]) -> TaskResult:
        command = [sys.executable if c == "python" else c for c in container.command]
        full = placeholder_utils.replace_placeholders(
            full_command=command + list(container.args),
            executor_input_dict=json_format.MessageToDict(ei),
            pipeline_resource_name=self.spec.pipeline_info.name,
            task_resource_name=name,
            pipeline_root=self.pipeline_root,
        )
        task_dir = self.work_dir / name
        task_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        with open(task_dir / "log.txt", "w") as log:
            proc = subprocess.run(full, cwd=task_dir, env=dict(env), stdout=log, stderr=subprocess.STDOUT)
        result = TaskResult(name, SUCCEEDED if proc.returncode == 0 else FAILED, proc.returncode)
        result.seconds = round(time.time() - t0, 1)
        result.log_tail = "\n".join((task_dir / "log.txt").read_text().splitlines()[-25:])
        if proc.returncode != 0:
            return result
        executor_output = pipeline_spec_pb2.ExecutorOutput()
        out_file = Path(ei.outputs.output_file)
        if out_file.exists():
            json_format.Parse(out_file.read_text(), executor_output, ignore_unknown_fields=True)
        for key, artifact_list in ei.outputs.artifacts.items():
            art = pipeline_spec_pb2.RuntimeArtifact()
            art.CopyFrom(artifact_list.artifacts[0])
            produced = executor_output.artifacts.get(key)
            if produced is not None and produced.artifacts:
                src = produced.artifacts[0]
                if src.uri:
                    art.uri = src.uri
                for k, v in src.metadata.fields.items():
                    art.metadata.fields[k].CopyFrom(v)
            result.metadata_before_mlmd[key] = json_format.MessageToDict(art.metadata)
            # metadata/client.go RecordArtifact: the MLMD type is the schema's title,
            # and an artifact without a display_name gets its output key
            result.types[key] = _schema_title(art.type.instance_schema)
            if "display_name" not in art.metadata.fields:
                art.metadata.fields["display_name"].string_value = key
            art.metadata.CopyFrom(_mlmd_round_trip(art.metadata))
            art.name = self._artifact_id()
            result.outputs[key] = art
        return result

    def _run_importer(self, name: str, importer) -> TaskResult:
        art = pipeline_spec_pb2.RuntimeArtifact(name=self._artifact_id())
        art.uri = importer.artifact_uri.constant.string_value
        art.type.CopyFrom(importer.type_schema)
        art.metadata.CopyFrom(_mlmd_round_trip(importer.metadata))
        title = _schema_title(importer.type_schema.instance_schema)
        return TaskResult(name, SUCCEEDED, outputs={"artifact": art}, types={"artifact": title})

    def _skipped_upstream(self, task) -> bool:
        upstream = [self.results[d].state for d in task.dependent_tasks]
        if (
            task.trigger_policy.strategy
            == pipeline_spec_pb2.PipelineTaskSpec.TriggerPolicy.ALL_UPSTREAM_TASKS_COMPLETED
        ):
            return False  # an exit handler (Argo: depends X.Succeeded || X.Failed || ...)
        return any(s != SUCCEEDED for s in upstream)

    def _run_task(self, name: str, task, parent) -> TaskResult:
        if self._skipped_upstream(task):
            return TaskResult(name, OMITTED)
        component = self.spec.components[task.component_ref.name]
        executor = self.spec.deployment_spec.fields["executors"].struct_value.fields[component.executor_label]
        executor = json_format.MessageToDict(executor)
        if "importer" in executor:
            importer = pipeline_spec_pb2.PipelineDeploymentConfig.ImporterSpec()
            json_format.ParseDict(executor["importer"], importer)
            return self._run_importer(name, importer)
        try:
            ei = self._executor_input(name, task, parent)
        except RunCreationError as exc:  # the driver fails the task
            return TaskResult(name, FAILED, log_tail=f"driver: {exc}")
        condition = task.trigger_policy.condition or None
        if condition and not _cel(condition, ei.inputs):
            return TaskResult(name, SKIPPED, condition=condition)
        container = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec()
        json_format.ParseDict(executor["container"], container)  # lifecycle parsed, never run
        env = self._pod_env(name, component.executor_label, container)
        result = self._run_container(name, container, ei, env)
        result.condition = condition
        return result

    def _run_dag(self, dag_name: str, dag, parent: Mapping[str, struct_pb2.Value]) -> str:
        """Runs a DAG's tasks (a sub-DAG task, e.g. TFX's ``tfx-dag``, runs its
        own DAG with the parameters passed to it). Returns the DAG's state:
        FAILED when any task in it failed."""
        tasks = dict(dag.tasks)
        pending = set(tasks)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            running = {}
            while pending or running:
                ready = [
                    n for n in sorted(pending) if all(d in self.results for d in tasks[n].dependent_tasks)
                ]
                for n in ready:
                    pending.discard(n)
                    component = self.spec.components[tasks[n].component_ref.name]
                    if component.WhichOneof("implementation") == "dag":
                        self.results[n] = self._run_sub_dag(n, tasks[n], component, parent)
                        self.results[n].dag = dag_name
                        continue
                    running[n] = pool.submit(self._run_task, n, tasks[n], parent)
                if not running:
                    if pending and not ready:
                        raise RuntimeError(f"tasks with unmet dependencies: {sorted(pending)}")
                    continue
                done = next(iter(n for n in running if running[n].done()), None)
                if done is None:
                    time.sleep(0.2)
                    continue
                self.results[done] = running.pop(done).result()
                self.results[done].dag = dag_name
        return FAILED if any(self.results[n].state == FAILED for n in tasks) else SUCCEEDED

    def _run_sub_dag(self, name: str, task, component, parent) -> TaskResult:
        if self._skipped_upstream(task):
            return TaskResult(name, OMITTED)
        t0 = time.time()
        try:
            params = self._parameters(name, task, parent)
        except RunCreationError as exc:
            return TaskResult(name, FAILED, log_tail=f"driver: {exc}")
        declared = component.input_definitions.parameters
        missing = [p for p in declared if p not in params and not declared[p].HasField("default_value")]
        if missing:
            return TaskResult(name, FAILED, log_tail=f"driver: {name} gets no value for {missing}")
        for p, pspec in declared.items():
            if p not in params:
                params[p] = pspec.default_value
        state = self._run_dag(name, component.dag, params)
        return TaskResult(name, state, seconds=round(time.time() - t0, 1))

    def run(self) -> Dict[str, TaskResult]:
        self.dag_state = self._run_dag("root", self.spec.root.dag, self.parameters)
        return self.results

    @property
    def state(self) -> str:
        """The run's state as the UI shows it. Before 2.4 the exit handler is a
        sibling Argo task whose success makes the workflow succeed (#9577); from
        2.4 on it is an exit lifecycle hook and the run reflects the DAG."""
        exits = [
            r
            for n, r in self.results.items()
            if r.dag == "root"
            and self.spec.root.dag.tasks[n].trigger_policy.strategy
            == pipeline_spec_pb2.PipelineTaskSpec.TriggerPolicy.ALL_UPSTREAM_TASKS_COMPLETED
        ]
        if _version(self.backend) < (2, 4) and exits:
            return FAILED if any(r.state == FAILED for r in exits) else SUCCEEDED
        return FAILED if any(r.state == FAILED for r in self.results.values()) else SUCCEEDED

    def table(self) -> List[str]:
        """One line per task: name, state, exit code, seconds."""
        lines = [f"{'task':<20}{'state':<26}{'exit':>5}{'seconds':>9}"]
        for r in self.results.values():  # in the order they finished
            code = "-" if r.exit_code is None else str(r.exit_code)
            lines.append(f"{r.name:<20}{r.state:<26}{code:>5}{r.seconds:>9.1f}")
        return lines
