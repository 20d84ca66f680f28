"""Compiles a region's pipeline for Kubeflow Pipelines (KubeflowV2DagRunner).

The same ``create_pipeline`` as the local runner, with cluster locations from
the config's ``kubeflow`` section: bucket URIs for data, state and serving, and
the schema read from the project folder inside the pipeline image. No span is
pinned: ``example_gen`` chooses the span when the task runs, so a recurring
run processes new data without recompiling. The output is a PipelineSpec with
schemaVersion 2.1.0, which Kubeflow Pipelines 2.x servers accept, and:

- every container runs ``pipelines.kubeflow_entrypoint`` (TFX's entrypoint plus
  the input-type repair the open-source backend needs);
- ``defaultPipelineRoot`` is ``<kubeflow.root>/<REGION>/pipeline``. The
  open-source backend itself never reads that field (it takes the run's
  ``pipeline_root``, else its ``kfp-launcher`` ConfigMap, else ``minio://``),
  so ``driftgate kfp run`` / ``schedule`` pass the same root with every run;
  the field keeps the spec self-describing for the UI and Vertex AI.

Docs: ``docs/kubeflow.md``.
"""

import json
import os
import posixpath
import re
from typing import Optional

from driftgate.core import logs
from driftgate.core import vocabulary as ids
from driftgate.core.config import ConfigError, RegionConfig
from driftgate.core.layout import RegionLayout
from serving import health

# Filesystems TFX (tf.io.gfile) can write in the pipeline image. Checked here
# against the schemes the installed TensorFlow registers; the image installs the
# same pins (constraints.txt).
_LOCAL = ""


def cluster_layout(config: RegionConfig) -> RegionLayout:
    """The region's locations under ``kubeflow.root``, as the pipeline's containers see them."""
    kf = config.kubeflow
    return RegionLayout(
        kf.root.rstrip("/"),
        config.region,
        config.serving.model_name,
        data_dir=posixpath.join(kf.data_root.rstrip("/"), config.region),
        schema_file=posixpath.join(
            kf.project_dir, "schemas", config.region, f"v{config.schema.version}", "schema.pbtxt"
        ),
        served_base_path=config.serving.served_base_path(config.region),
    )


def pipeline_root(config: RegionConfig) -> str:
    """``<kubeflow.root>/<REGION>/pipeline``: where a run's TFX artifacts go."""
    return cluster_layout(config).pipeline_root


def writable_schemes() -> list:
    """URI schemes ``tf.io.gfile`` can open here ('' is a local path)."""
    import tensorflow as tf

    return sorted(s for s in tf.io.gfile.get_registered_schemes() if s not in ("ram",))


def check_location(uri: str, key: str, source: str, schemes=None) -> None:
    """Raises ConfigError when TFX could not read and write ``uri`` from a task."""
    schemes = writable_schemes() if schemes is None else schemes
    scheme = uri.split("://", 1)[0] if "://" in uri else _LOCAL
    usable = ", ".join(f"{s}://" for s in schemes if s not in (_LOCAL, "file"))
    if scheme == _LOCAL:
        if not uri.startswith("/"):
            raise ConfigError(
                f"{source}: {key}: '{uri}' is a relative path; tasks need a bucket URI ({usable}) "
                f"or an absolute path on a volume mounted in every task"
            )
        return
    if scheme not in schemes:
        raise ConfigError(
            f"{source}: {key}: '{uri}': TFX cannot write '{scheme}://' (tf.io.gfile has no "
            f"filesystem for it, e.g. a stock Kubeflow's minio://); use {usable} or an absolute "
            f"path on a volume mounted in every task"
        )


_CONDITION_INPUT = re.compile(r"inputs\.artifacts\['_([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)'\]")


def _dags(spec: dict):
    """(name, dag) of the root DAG and of every sub-DAG component (``tfx-dag``)."""
    yield "root", spec["root"]["dag"]
    for name, component in spec.get("components", {}).items():
        if "dag" in component:
            yield name, component["dag"]


def repair_conditions(spec: dict) -> None:
    """Points every ``triggerPolicy`` condition at the task's own input.

    TFX 1.16's Kubeflow V2 compiler adds the channel a ``Cond`` reads as an
    implicit input ``_<producer>.<key>``, unless the task already consumes that
    channel; then it adds nothing but still writes ``_<producer>.<key>`` into
    the CEL condition, which the backend's driver cannot resolve (the run
    recorder consumes the gate's report as ``report``). Rewrites such a
    reference to the task's input fed by the same producer output."""
    tasks = [(n, t) for _, dag in _dags(spec) for n, t in dag["tasks"].items()]
    for name, task in tasks:
        condition = task.get("triggerPolicy", {}).get("condition")
        if not condition:
            continue
        inputs = task.get("inputs", {}).get("artifacts", {})
        fed_by = {
            (a["taskOutputArtifact"]["producerTask"], a["taskOutputArtifact"]["outputArtifactKey"]): key
            for key, a in inputs.items()
            if "taskOutputArtifact" in a
        }

        def own_key(match, name=name, inputs=inputs, fed_by=fed_by):
            key = f"_{match.group(1)}.{match.group(2)}"
            if key in inputs:
                return match.group(0)
            if (match.group(1), match.group(2)) not in fed_by:
                raise ValueError(f"task {name}: condition reads {key}, which no input of the task carries")
            return f"inputs.artifacts['{fed_by[(match.group(1), match.group(2))]}']"

        task["triggerPolicy"]["condition"] = _CONDITION_INPUT.sub(own_key, condition)


def read_spec(text: str) -> tuple:
    """(pipeline spec, platform spec or {}) of a compiled spec's YAML: the KFP
    multi-document form the backend reads on upload."""
    import yaml

    docs = [d for d in yaml.safe_load_all(text) if d]
    return docs[0], (docs[1] if len(docs) > 1 else {})


TFX_DAG = "tfx-dag"  # TFX's name for the sub-DAG holding every task when there is an exit handler


def restore_run_parameters(spec: dict) -> None:
    """Gives the run parameters (``ids.RUN_PARAMETERS``) the defaults and
    descriptions TFX's YAML writer drops, so the UI's run form shows them filled
    and a run started without them (a schedule, ``kfp run``) gets them."""
    declared = spec["root"].setdefault("inputDefinitions", {}).setdefault("parameters", {})
    for name, default in ids.RUN_PARAMETERS.items():
        if name not in declared:
            raise ValueError(f"run parameter {name} is missing from the compiled spec")
        declared[name].update(
            parameterType="STRING",
            defaultValue=default,
            isOptional=True,
            description=ids.RUN_PARAMETER_HELP[name],
        )


def repair_exit_dag(spec: dict) -> None:
    """Passes the root's parameters into TFX's exit-handler sub-DAG.

    With an exit handler TFX moves every task into the ``tfx-dag`` component
    but declares no inputs on it and passes none to it, while the tasks inside
    still read ``componentInputParameter: span``: the open-source driver fails
    them ("parent DAG does not have input parameter span"). KFP's own
    ``dsl.ExitHandler`` declares and passes them; this does the same."""
    params = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    dag_component = spec["components"][TFX_DAG]
    dag_component.setdefault("inputDefinitions", {})["parameters"] = {
        name: {k: v for k, v in p.items() if k in ("parameterType", "isOptional", "defaultValue")}
        for name, p in params.items()
    }
    task = spec["root"]["dag"]["tasks"][TFX_DAG]
    task.setdefault("inputs", {})["parameters"] = {name: {"componentInputParameter": name} for name in params}
    if "taskFinalStatus" in json.dumps(spec):
        raise ValueError("the spec asks for a task final status, which open-source KFP before 2.14 refuses")


def add_lease_env(spec: dict, layout: RegionLayout, log_format: str = "") -> None:
    """Tells every task where the region's lease and the pipeline root are, so
    the task entrypoint renews its run's lease while the task works, and how to
    log (``DRIFTGATE_LOG_FORMAT``: ``kubeflow.log_format``)."""
    for executor in spec["deploymentSpec"]["executors"].values():
        if "container" not in executor:
            continue
        env = [e for e in executor["container"].get("env", []) if e["name"] not in LEASE_ENV]
        env += [
            {"name": ids.ENV_LEASE_FILE, "value": layout.lease_file},
            {"name": ids.ENV_PIPELINE_ROOT, "value": layout.pipeline_root},
        ]
        if log_format:
            env.append({"name": LOG_FORMAT_ENV, "value": log_format})
        executor["container"]["env"] = env


LOG_FORMAT_ENV = logs.ENV
LEASE_ENV = (ids.ENV_LEASE_FILE, ids.ENV_PIPELINE_ROOT, LOG_FORMAT_ENV)
SECRET_MOUNT = "/var/run/secrets/driftgate-alerts"
# alert secret (env name read by components.monitor.alerts) -> key in the Kubernetes Secret
SECRET_KEYS = {
    "DRIFTGATE_SLACK_WEBHOOK_URL": "slack-webhook-url",
    "DRIFTGATE_PAGERDUTY_ROUTING_KEY": "pagerduty-routing-key",
}
# the canary judge's bearer token for serving.prometheus_url (serving.health.TOKEN), same Secret
CANARY_SECRET_KEYS = {health.TOKEN: "prometheus-token"}


def add_alert_secrets(spec: dict, secret: str) -> dict:
    """Gives the run recorder tasks the alert secrets without writing them into
    the spec: the Kubernetes Secret ``secret`` is mounted (optional: a missing
    Secret or key means "no secret", not a failed task) through the kfp-kubernetes
    platform section, which the backend's driver turns into a pod volume; each
    ``<NAME>_FILE`` variable in the container's env points at its key's file.
    The canary judge gets the Prometheus bearer token the same way.
    Returns the platform document (the YAML's second document)."""
    executors = spec["deploymentSpec"]["executors"]
    platform = {}
    nodes = {n: SECRET_KEYS for n in (ids.RUN_RECORDER, ids.RUN_RECORDER_RETRAIN, ids.RUN_FINALIZER)}
    for node, keys in dict(nodes, **{ids.CANARY_JUDGE: CANARY_SECRET_KEYS}).items():
        label = f"{node}_executor"
        env = executors[label]["container"].setdefault("env", [])
        env += [{"name": f"{name}_FILE", "value": f"{SECRET_MOUNT}/{key}"} for name, key in keys.items()]
        platform[label] = {
            "secretAsVolume": [{"secretName": secret, "mountPath": SECRET_MOUNT, "optional": True}]
        }
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": platform}}}}


def compile_region(config: RegionConfig, out_dir: str, image: Optional[str] = None) -> str:
    """Writes ``<out_dir>/<REGION>.yaml`` and returns its path."""
    from dataclasses import asdict

    import yaml
    from tfx import v1 as tfx

    from components.monitor.component import RunFinalizer
    from driftgate.core.version import driftgate_version
    from pipelines.kubeflow_entrypoint import COMMAND
    from pipelines.pipeline import create_pipeline
    from pipelines.schema_store import git_commit_of, version_path

    source = config.source_file or config.region
    check_location(config.kubeflow.root, "kubeflow.root", source)
    check_location(config.kubeflow.data_root, "kubeflow.data_root", source)
    commit = git_commit_of(version_path(config.region, config.schema.version))
    layout = cluster_layout(config)
    pipeline = create_pipeline(
        config,
        layout,
        schema_commit=commit,
        pushgateway=config.kubeflow.pushgateway or "",
        driftgate_version=driftgate_version(),
        run_parameters=True,
    )
    finalizer = RunFinalizer(
        layout=layout.to_json(),
        alerts_config=json.dumps(asdict(config.alerts)),
        pushgateway=config.kubeflow.pushgateway or "",
    ).with_id(ids.RUN_FINALIZER)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=image or config.kubeflow.image,
            default_commands=list(COMMAND),
            use_pipeline_spec_2_1=True,
            display_name=config.pipeline_name,
        ),
        output_dir=out_dir,
        output_filename=f"{config.region}.yaml",
    )
    path = os.path.join(out_dir, f"{config.region}.yaml")
    if os.path.exists(path):
        os.remove(path)  # the runner refuses to overwrite
    runner.set_exit_handler(finalizer)
    runner.run(pipeline, write_out=True)
    # TFX's YAML writer keeps only the pipelineSpec; add the root it dropped,
    # keeping TFX's header comments and key order.
    with open(path) as fh:
        text = fh.read()
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    spec = yaml.safe_load(text)
    spec["defaultPipelineRoot"] = pipeline_root(config)
    restore_run_parameters(spec)
    repair_exit_dag(spec)
    repair_conditions(spec)
    add_lease_env(spec, layout, config.kubeflow.log_format)
    platform = add_alert_secrets(spec, config.kubeflow.alerts_secret)
    with open(path, "w") as fh:
        fh.write(header + yaml.safe_dump(spec, sort_keys=True))
        fh.write("---\n" + yaml.safe_dump(platform, sort_keys=True))
    return path
