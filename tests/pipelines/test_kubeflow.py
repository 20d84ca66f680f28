"""Kubeflow: compiled specs are what open-source KFP runs (checked with kfp's own
loader and the PipelineSpec proto), match golden files, and the upload /
schedule commands send the right requests through the real kfp.Client."""

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

from driftgate.core.config import available_regions, load_region_config
from driftgate.core.vocabulary import RUN_PARAMETERS
from pipelines.kubeflow_runner import read_spec

GOLDEN = Path(__file__).parent / "golden"
REGIONS = list(available_regions())
IMAGE = "registry.example/driftgate:test"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    from pipelines.kubeflow_runner import compile_region

    out = tmp_path_factory.mktemp("specs")
    return {r: Path(compile_region(load_region_config(r), str(out), image=IMAGE)) for r in REGIONS}


def _tasks(spec: dict) -> dict:
    """The pipeline's TFX tasks: inside TFX's exit-handler sub-DAG ``tfx-dag``."""
    return spec["components"]["tfx-dag"]["dag"]["tasks"]


def _normalised(text: str) -> str:
    spec = read_spec(text)[0]
    spec.pop("sdkVersion", None)  # TFX version stamp: not part of the pipeline
    # the schema's git commit changes with every commit touching the schema
    params = _tasks(spec)["span_gate"]["inputs"]["parameters"]
    params["schema_commit"]["runtimeValue"]["constant"] = "<schema commit>"
    return yaml.safe_dump(spec, sort_keys=True)


@pytest.mark.parametrize("region", REGIONS)
def test_spec_loads_with_kfp_and_parses_strictly(compiled, region):
    from google.protobuf import json_format
    from kfp import components
    from kfp.pipeline_spec import pipeline_spec_pb2

    path = compiled[region]
    loaded = components.load_component_from_file(str(path))
    assert loaded.name == f"driftgate-{region.lower()}"
    spec = pipeline_spec_pb2.PipelineSpec()
    json_format.ParseDict(read_spec(path.read_text())[0], spec, ignore_unknown_fields=False)
    assert spec.schema_version == "2.1.0"
    assert spec.pipeline_info.name == f"driftgate-{region.lower()}"


@pytest.mark.parametrize("region", REGIONS)
def test_only_container_and_importer_executors_with_the_configured_image(compiled, region):
    spec = read_spec(compiled[region].read_text())[0]
    executors = spec["deploymentSpec"]["executors"]
    assert len(executors) == 14  # 13 TFX nodes and the exit task
    for name, ex in executors.items():
        kinds = set(ex)
        # no lifecycle hooks: the open-source backend never runs them
        assert kinds <= {"container", "importer"}, (name, kinds)
        assert "resolver" not in ex
        if "container" in ex:
            assert ex["container"]["image"] == IMAGE
    text = compiled[region].read_text()
    assert "resolver" not in text.lower()


@pytest.mark.parametrize("region", REGIONS)
def test_every_container_runs_the_driftgate_entrypoint(compiled, region):
    from pipelines.kubeflow_entrypoint import COMMAND

    executors = read_spec(compiled[region].read_text())[0]["deploymentSpec"]["executors"]
    commands = {name: ex["container"]["command"] for name, ex in executors.items() if "container" in ex}
    assert commands and all(c == COMMAND for c in commands.values()), commands


@pytest.mark.parametrize("region", REGIONS)
def test_every_artifact_type_title_is_an_importable_class(compiled, region):
    from tfx.orchestration.kubeflow.v2.container.kubeflow_v2_entrypoint_utils import _retrieve_class_path
    from tfx.utils import import_utils

    from pipelines import kubeflow_entrypoint

    kubeflow_entrypoint.register_system_titles()  # what the entrypoint does before anything else
    titles = set(re.findall(r"title: ([\w.]+)", compiled[region].read_text()))
    assert "components.GateReport" in titles
    assert {t for t in titles if t.startswith("system.")} <= set(kubeflow_entrypoint.SYSTEM_TITLES)
    for title in titles:
        from kfp.pipeline_spec import pipeline_spec_pb2

        schema = pipeline_spec_pb2.ArtifactTypeSchema(instance_schema=f"title: {title}\ntype: object\n")
        cls = import_utils.import_class_by_path(_retrieve_class_path(schema))  # what the entrypoint does
        assert cls.TYPE_NAME == title.replace("tfx.", "", 1) if title.startswith("tfx.") else title


@pytest.mark.parametrize("region", REGIONS)
def test_default_pipeline_root_is_the_configured_root(compiled, region):
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    cfg = load_region_config(region)
    spec = pipeline_spec_pb2.PipelineSpec()
    json_format.ParseDict(read_spec(compiled[region].read_text())[0], spec)
    assert spec.default_pipeline_root == f"{cfg.kubeflow.root}/{region}/pipeline"


@pytest.mark.parametrize(
    "root, problem",
    [
        ("minio://mlpipeline/driftgate", "TFX cannot write 'minio://'"),
        ("s3://bucket/driftgate", "TFX cannot write 's3://'"),
        ("runs", "relative path"),
    ],
)
def test_compile_refuses_a_root_tfx_cannot_write(root, problem, tmp_path):
    import dataclasses

    from driftgate.core.config import ConfigError
    from pipelines.kubeflow_runner import compile_region

    cfg = load_region_config("EWR")
    bad = dataclasses.replace(cfg, kubeflow=dataclasses.replace(cfg.kubeflow, root=root))
    with pytest.raises(ConfigError) as err:
        compile_region(bad, str(tmp_path))
    assert problem in str(err.value) and "kubeflow.root" in str(err.value) and "EWR.yaml" in str(err.value)
    assert "gs://" in str(err.value)  # names a scheme that works
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("region", REGIONS)
def test_no_compiling_machine_paths_and_no_pinned_span(compiled, region):
    text = compiled[region].read_text()
    root = str(Path(__file__).resolve().parents[2])
    assert root not in text and "/tmp/" not in text
    cfg = load_region_config(region)
    assert f"{cfg.kubeflow.project_dir}/schemas/{region}/v{cfg.schema.version}/schema.pbtxt" in text
    assert "range_config" not in text and "static_range" not in text  # newest span at run time
    assert "trainer.task.run_fn" in text  # installed module path, not a file


@pytest.mark.parametrize("region", REGIONS)
def test_training_runs_only_on_retrain(compiled, region):
    tasks = _tasks(read_spec(compiled[region].read_text())[0])
    gated = {name for name, t in tasks.items() if "triggerPolicy" in t}
    training = {
        "serving_baseline",
        "trainer",
        "evaluator",
        "pusher",
        "release_recorder",
        "run_recorder_retrain",
    }
    assert gated == training | {"run_recorder"}
    for name in gated:
        cond = tasks[name]["triggerPolicy"]["condition"]
        assert "metadata['decision']" in cond and "== 'retrain'" in cond
        # the recorder outside the branch: exactly when the branch does not run
        assert cond.startswith("!(") == (name == "run_recorder"), (name, cond)


@pytest.mark.parametrize("region", REGIONS)
def test_every_condition_reads_only_artifacts_its_task_receives(compiled, region):
    """The backend's driver evaluates a condition over the task's own inputs;
    TFX's compiler names a channel the task already consumes by an implicit
    key it never adds (``pipelines.kubeflow_runner.repair_conditions``)."""
    import re

    spec = read_spec(compiled[region].read_text())[0]
    tasks = dict(spec["root"]["dag"]["tasks"], **_tasks(spec))
    for name, task in tasks.items():
        condition = task.get("triggerPolicy", {}).get("condition", "")
        for key in re.findall(r"inputs\.artifacts\['([^']+)'\]", condition):
            assert key in task["inputs"]["artifacts"], (name, key, condition)


@pytest.mark.parametrize("region", REGIONS)
def test_the_canary_is_judged_before_the_gate_and_every_run_is_recorded(compiled, region):
    tasks = _tasks(read_spec(compiled[region].read_text())[0])
    assert "canary_judge" in tasks["span_gate"]["dependentTasks"]
    for recorder in ("run_recorder", "run_recorder_retrain"):
        assert {"span_gate", "canary_judge", "example_gen"} <= set(tasks[recorder]["dependentTasks"])
    assert "release_recorder" in tasks["run_recorder_retrain"]["dependentTasks"]


@pytest.mark.parametrize("region", REGIONS)
def test_alert_secrets_reach_the_recorders_through_the_platform_section_only(compiled, region):
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2  # noqa: F401  (the platform proto ships with kfp)
    from kfp.pipeline_spec.pipeline_spec_pb2 import PlatformSpec

    from pipelines.kubeflow_runner import CANARY_SECRET_KEYS, SECRET_KEYS, SECRET_MOUNT

    text = compiled[region].read_text()
    spec, platform = read_spec(text)
    parsed = PlatformSpec()
    json_format.ParseDict(platform, parsed)  # the form the backend unmarshals
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    cfg = load_region_config(region)
    assert set(executors) == {
        "run_recorder_executor",
        "run_recorder_retrain_executor",
        "run_finalizer_executor",
        "canary_judge_executor",  # the Prometheus token (serving.prometheus_url)
    }
    for label, conf in executors.items():
        assert conf == {
            "secretAsVolume": [
                {"secretName": cfg.kubeflow.alerts_secret, "mountPath": SECRET_MOUNT, "optional": True}
            ]
        }
        env = {e["name"]: e["value"] for e in spec["deploymentSpec"]["executors"][label]["container"]["env"]}
        secrets = {k: v for k, v in env.items() if k.endswith("_FILE") and k != "DRIFTGATE_LEASE_FILE"}
        keys = CANARY_SECRET_KEYS if label == "canary_judge_executor" else SECRET_KEYS
        assert secrets == {f"{name}_FILE": f"{SECRET_MOUNT}/{key}" for name, key in keys.items()}
    assert "hooks.slack.com" not in text and "routing_key" not in text


def test_the_canary_judge_gets_the_prometheus_url_as_a_parameter_and_its_token_from_the_secret(tmp_path):
    """With serving.prometheus_url the canary_judge task is handed the URL (not
    a secret) and only the token's file path; without, the parameter is empty."""
    import dataclasses

    from pipelines.kubeflow_runner import SECRET_MOUNT, compile_region

    cfg = load_region_config("JFK")
    url = "http://prometheus-operated.monitoring:9090"
    cfg = dataclasses.replace(cfg, serving=dataclasses.replace(cfg.serving, prometheus_url=url))
    text = Path(compile_region(cfg, str(tmp_path), image=IMAGE)).read_text()
    spec = read_spec(text)[0]
    params = _tasks(spec)["canary_judge"]["inputs"]["parameters"]
    assert params["prometheus_url"]["runtimeValue"]["constant"] == url
    env = {
        e["name"]: e["value"]
        for e in spec["deploymentSpec"]["executors"]["canary_judge_executor"]["container"]["env"]
    }
    assert env["DRIFTGATE_PROMETHEUS_TOKEN_FILE"] == f"{SECRET_MOUNT}/prometheus-token"
    default = read_spec(
        (Path(__file__).resolve().parents[2] / "kubeflow" / "pipelines" / "JFK.yaml").read_text()
    )[0]
    assert (
        _tasks(default)["canary_judge"]["inputs"]["parameters"]["prometheus_url"]["runtimeValue"]["constant"]
        == ""
    )


@pytest.mark.parametrize("region", REGIONS)
def test_the_recorders_write_what_the_kubeflow_ui_draws(compiled, region):
    spec = read_spec(compiled[region].read_text())[0]

    def titles(component):
        outputs = spec["components"][component]["outputDefinitions"]["artifacts"]
        return {
            k: re.search(r"title: (\S+)", o["artifactType"]["instanceSchema"]).group(1)
            for k, o in outputs.items()
        }

    ui = {"html": "system.HTML", "summary": "system.Markdown", "metrics": "system.Metrics"}
    assert titles("run_recorder") == dict(ui, record="components.RunRecord")
    assert titles("run_recorder_retrain") == dict(
        ui, record="components.RunRecord", quality="system.ClassificationMetrics"
    )


@pytest.mark.parametrize("region", REGIONS)
def test_run_parameters_have_truthy_defaults_and_reach_their_tasks(compiled, region):
    spec = read_spec(compiled[region].read_text())[0]
    declared = spec["root"]["inputDefinitions"]["parameters"]
    assert {k: v["defaultValue"] for k, v in declared.items()} == RUN_PARAMETERS
    assert all(
        v["defaultValue"] and v["parameterType"] == "STRING" and v["description"] for v in declared.values()
    )
    tasks = _tasks(spec)
    reads = {
        (name, p["componentInputParameter"])
        for name, t in tasks.items()
        for p in t.get("inputs", {}).get("parameters", {}).values()
        if "componentInputParameter" in p
    }
    assert reads == {
        ("example_gen", "span"),
        ("span_gate", "retrain"),
        ("run_recorder", "note"),
        ("run_recorder_retrain", "note"),
    }


@pytest.mark.parametrize("region", REGIONS)
def test_the_exit_task_runs_after_everything_and_the_sub_dag_gets_the_parameters(compiled, region):
    """TFX's exit handler moves every task into ``tfx-dag`` and drops the root
    parameters on the way (``pipelines.kubeflow_runner.repair_exit_dag``)."""
    text = compiled[region].read_text()
    spec = read_spec(text)[0]
    root = spec["root"]["dag"]["tasks"]
    assert set(root) == {"tfx-dag", "run_finalizer"}
    finalizer = root["run_finalizer"]
    assert finalizer["triggerPolicy"] == {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}
    assert finalizer["dependentTasks"] == ["tfx-dag"]
    assert not finalizer.get("inputs", {}).get("artifacts") and "cachingOptions" not in finalizer
    assert "taskFinalStatus" not in text  # refused by open-source backends before 2.14
    params = set(spec["root"]["inputDefinitions"]["parameters"])
    assert set(spec["components"]["tfx-dag"]["inputDefinitions"]["parameters"]) == params
    assert root["tfx-dag"]["inputs"]["parameters"] == {p: {"componentInputParameter": p} for p in params}


@pytest.mark.parametrize("region", REGIONS)
def test_every_task_knows_its_region_lease_for_the_heartbeat(compiled, region):
    from driftgate.core import vocabulary as ids

    cfg = load_region_config(region)
    spec = read_spec(compiled[region].read_text())[0]
    for name, ex in spec["deploymentSpec"]["executors"].items():
        if "container" not in ex:
            continue
        env = {e["name"]: e["value"] for e in ex["container"]["env"]}
        assert env[ids.ENV_LEASE_FILE] == f"{cfg.kubeflow.root}/{region}/run.lease", name
        assert env[ids.ENV_PIPELINE_ROOT] == f"{cfg.kubeflow.root}/{region}/pipeline", name


@pytest.mark.parametrize("region", REGIONS)
def test_spec_matches_golden(compiled, region, request):
    golden = GOLDEN / f"{region}.yaml"
    got = _normalised(compiled[region].read_text())
    if request.config.getoption("--update-golden"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(got)
    assert golden.is_file(), f"{golden} missing: run pytest --update-golden after reviewing the spec"
    assert (
        got == golden.read_text()
    ), f"compiled spec for {region} changed: review, then pytest --update-golden"


@pytest.mark.parametrize("region", REGIONS)
def test_committed_spec_is_compiled_from_this_code(compiled, region):
    """``kubeflow/pipelines/<REGION>.yaml`` is what users upload and what the
    image test runs: it must be this code's compile (image apart), not an
    older one's (it once named the stock executors after the fast ones shipped)."""
    root = Path(__file__).resolve().parents[2]
    committed = (root / "kubeflow" / "pipelines" / f"{region}.yaml").read_text()
    committed = re.sub(r"image: \S+", f"image: {IMAGE}", committed)
    assert _normalised(committed) == _normalised(compiled[region].read_text()), (
        f"kubeflow/pipelines/{region}.yaml is stale: run driftgate compile --all --out kubeflow/pipelines "
        "--image ghcr.io/driftgate/driftgate:0.1.0"
    )


# --- upload / schedule through the real kfp.Client --------------------------


@pytest.fixture
def server():
    from tests.pipelines.fake_kfp import FakeKfp

    with FakeKfp() as fake:
        yield fake


def test_upload_creates_pipeline_then_adds_named_versions(server, compiled):
    from driftgate.app import kfp_connection, kfp_runs

    cfg = load_region_config("EWR")
    client = kfp_connection.make_client(kfp_connection.KfpSettings(endpoint=server.host))
    first = kfp_runs.upload(client, cfg, str(compiled["EWR"]), name="ewr-abc12345-20261123-100000")
    second = kfp_runs.upload(client, cfg, str(compiled["EWR"]), name="ewr-abc12345-20261123-110000")
    assert first.created_pipeline and not second.created_pipeline
    assert first.pipeline_id == second.pipeline_id
    created = server.calls("POST", "/apis/v2beta1/pipelines/upload")
    assert len(created) == 1 and created[0]["query"]["name"] == ["driftgate-ewr"]
    versions = server.calls("POST", "/apis/v2beta1/pipelines/upload_version")
    assert [v["query"]["name"][0] for v in versions] == [
        "ewr-abc12345-20261123-100000",
        "ewr-abc12345-20261123-110000",
    ]
    assert all(v["query"]["pipelineid"] == [first.pipeline_id] for v in versions)
    sent = read_spec(versions[0]["spec"])[0]
    assert sent["schemaVersion"] == "2.1.0" and sent["pipelineInfo"]["name"] == "driftgate-ewr"
    assert sent["defaultPipelineRoot"] == "gs://driftgate-demo/runs/EWR/pipeline"  # travels with the spec


def test_version_name_has_region_commit_and_time():
    import datetime as dt

    from driftgate.app.kfp_runs import version_name

    when = dt.datetime(2026, 11, 23, 9, 5, 7, tzinfo=dt.timezone.utc)
    assert version_name("EWR", when, commit="1a2b3c4d") == "ewr-1a2b3c4d-20261123-090507"
    assert re.fullmatch(r"jfk-[0-9a-z]+-\d{8}-\d{6}", version_name("JFK"))


def test_schedule_creates_recurring_run_from_config(server, compiled):
    from driftgate.app import kfp_connection, kfp_runs

    cfg = load_region_config("JFK")
    client = kfp_connection.make_client(kfp_connection.KfpSettings(endpoint=server.host))
    up = kfp_runs.upload(client, cfg, str(compiled["JFK"]), name="jfk-v1")
    s = kfp_runs.schedule(client, cfg)
    (req,) = server.calls("POST", "/apis/v2beta1/recurringruns")
    body = req["json"]
    assert body["display_name"] == "driftgate-jfk-schedule"
    assert body["trigger"]["cron_schedule"]["cron"] == cfg.kubeflow.schedule.cron == "0 0 6 * * *"
    assert int(body["max_concurrency"]) == 1
    assert body["no_catchup"] is True
    assert body["mode"] == "ENABLE"
    assert body["pipeline_version_reference"] == {
        "pipeline_id": up.pipeline_id,
        "pipeline_version_id": up.version_id,
    }
    # the backend ignores the spec's defaultPipelineRoot: every schedule carries the root
    assert body["runtime_config"]["pipeline_root"] == "gs://driftgate-demo/runs/JFK/pipeline"
    # the defaults, sent explicitly so every scheduled run's page lists them
    assert body["runtime_config"]["parameters"] == dict(RUN_PARAMETERS, note="scheduled")
    digest = hashlib.sha256(Path(cfg.source_file).read_bytes()).hexdigest()[:12]
    assert "'0 0 6 * * *'" in body["description"] and f"JFK.yaml sha256:{digest}" in body["description"]
    assert f"jfk-v1 ({up.version_id})" in body["description"]
    assert "start_time" not in body["trigger"]["cron_schedule"]
    assert "end_time" not in body["trigger"]["cron_schedule"]
    (exp,) = server.experiments.values()
    assert body["experiment_id"] == exp["experiment_id"] and exp["display_name"] == "driftgate"
    assert s.replaced == [] and s.version_name == "jfk-v1"


def test_schedule_replaces_without_touching_runs_in_flight(server, compiled):
    from driftgate.app import kfp_connection, kfp_runs

    cfg = load_region_config("LGA")
    client = kfp_connection.make_client(kfp_connection.KfpSettings(endpoint=server.host))
    kfp_runs.upload(client, cfg, str(compiled["LGA"]), name="lga-v1")
    old = kfp_runs.schedule(client, cfg)
    up2 = kfp_runs.upload(client, cfg, str(compiled["LGA"]), name="lga-v2")
    new = kfp_runs.schedule(client, cfg)
    assert new.replaced == [old.recurring_run_id]
    assert list(server.recurring) == [new.recurring_run_id]
    assert (
        server.recurring[new.recurring_run_id]["pipeline_version_reference"]["pipeline_version_id"]
        == up2.version_id
    )
    order = [
        (r["method"], r["path"].rsplit("/", 1)[-1])
        for r in server.requests
        if "recurringruns" in r["path"] and r["method"] != "GET"
    ]
    # disable old -> create new -> delete old; no run is ever terminated
    assert order[-3:] == [
        ("POST", f"{old.recurring_run_id}:disable"),
        ("POST", "recurringruns"),
        ("DELETE", old.recurring_run_id),
    ]
    assert not [
        r
        for r in server.requests
        if ":terminate" in r["path"] or r["path"].endswith("/runs") and r["method"] == "DELETE"
    ]


def test_credentials_come_from_the_environment(server, compiled):
    from driftgate.app import kfp_connection

    env = {"KFP_TOKEN": "s3cret-token", "KF_PIPELINES_ENDPOINT": server.host}
    settings = kfp_connection.settings_from_env(None, env)
    assert settings.endpoint == server.host
    client = kfp_connection.make_client(settings)
    client.get_pipeline_id("driftgate-ewr")
    headers = {k.lower(): v for k, v in server.requests[-1]["headers"].items()}
    assert headers.get("authorization") == "Bearer s3cret-token"
    assert "s3cret" not in compiled["EWR"].read_text()
    cfg_text = (Path(__file__).resolve().parents[2] / "pipelines" / "regions" / "defaults.yaml").read_text()
    assert "token" not in cfg_text.lower()


def test_in_cluster_service_account_token_is_used_without_a_token(server, tmp_path):
    from driftgate.app import kfp_connection

    token = tmp_path / "token"
    token.write_text("projected-sa-token")
    settings = kfp_connection.settings_from_env(server.host, {"KF_PIPELINES_SA_TOKEN_PATH": str(token)})
    assert settings.sa_token_path == str(token) and settings.token is None
    kfp_connection.make_client(settings).get_pipeline_id("driftgate-ewr")
    headers = {k.lower(): v for k, v in server.requests[-1]["headers"].items()}
    assert headers.get("authorization") == "Bearer projected-sa-token"


def test_profile_namespace_does_not_come_from_the_kfp_cli_variable(server):
    from driftgate.app import kfp_connection

    s = kfp_connection.settings_from_env(server.host, {"KFP_NAMESPACE": "kubeflow"})
    assert s.profile_namespace is None
    s = kfp_connection.settings_from_env(server.host, {"DRIFTGATE_PROFILE_NAMESPACE": "team-a"})
    assert s.profile_namespace == "team-a"


def test_run_starts_the_newest_version_with_the_pipeline_root_and_waits(server, compiled):
    import datetime as dt

    from driftgate.app import kfp_connection, kfp_runs

    cfg = load_region_config("EWR")
    client = kfp_connection.make_client(kfp_connection.KfpSettings(endpoint=server.host))
    kfp_runs.upload(client, cfg, str(compiled["EWR"]), name="ewr-v1")
    up2 = kfp_runs.upload(client, cfg, str(compiled["EWR"]), name="ewr-v2")
    server.finish_runs_as = "SUCCEEDED"
    when = dt.datetime(2026, 11, 24, 6, 0, 0, tzinfo=dt.timezone.utc)
    started = kfp_runs.run_now(client, cfg, wait_s=30, now=when)
    (req,) = server.calls("POST", "/apis/v2beta1/runs")
    body = req["json"]
    assert body["display_name"] == "driftgate-ewr-20261124-060000"
    assert body["pipeline_version_reference"]["pipeline_version_id"] == up2.version_id
    assert body["runtime_config"]["pipeline_root"] == "gs://driftgate-demo/runs/EWR/pipeline"
    assert body["runtime_config"]["parameters"] == {"span": "next", "retrain": "auto", "note": "-"}
    (exp,) = server.experiments.values()
    assert body["experiment_id"] == exp["experiment_id"]
    assert started.state == "SUCCEEDED" and started.pipeline_root.endswith("/EWR/pipeline")
    assert server.calls("GET", f"/apis/v2beta1/runs/{started.run_id}")


def test_run_before_upload_says_what_to_do(server):
    from driftgate.app import kfp_connection, kfp_runs

    client = kfp_connection.make_client(kfp_connection.KfpSettings(endpoint=server.host))
    with pytest.raises(
        kfp_connection.KfpError, match="no pipeline 'driftgate-lga' on the server: run `driftgate kfp upload`"
    ):
        kfp_runs.run_now(client, load_region_config("LGA"))


def test_unreachable_server_is_one_line_within_ten_seconds(capsys):
    import socket
    import time

    from driftgate.cli.main import main

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    silent = socket.socket()  # accepts connections (backlog) but never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        for url in (f"http://127.0.0.1:{port}", f"http://127.0.0.1:{silent.getsockname()[1]}"):
            t0 = time.time()
            code = main(["kfp", "status", "--endpoint", url])
            took = time.time() - t0
            err = capsys.readouterr().err.strip().splitlines()
            assert code == 1 and took < 10, (url, took)
            assert len(err) == 1 and f"cannot reach Kubeflow Pipelines at {url}" in err[0]
    finally:
        silent.close()


def test_endpoint_is_required_from_flag_or_environment(capsys, monkeypatch):
    from driftgate.cli.main import main

    monkeypatch.delenv("KF_PIPELINES_ENDPOINT", raising=False)
    assert main(["kfp", "status"]) == 1
    assert "pass --endpoint URL or set KF_PIPELINES_ENDPOINT" in capsys.readouterr().err


def test_status_lists_runs_per_region(server, compiled):
    from driftgate.app import kfp_connection, kfp_runs

    cfg = load_region_config("EWR")
    client = kfp_connection.make_client(kfp_connection.KfpSettings(endpoint=server.host))
    up = kfp_runs.upload(client, cfg, str(compiled["EWR"]), name="ewr-v1")
    server.runs.append(
        {
            "run_id": "r1",
            "display_name": "driftgate-ewr-schedule-1",
            "state": "SUCCEEDED",
            "created_at": "2026-11-23T06:00:00Z",
            "finished_at": "2026-11-23T06:20:00Z",
            "pipeline_version_reference": {
                "pipeline_id": up.pipeline_id,
                "pipeline_version_id": up.version_id,
            },
            "runtime_config": {"parameters": dict(RUN_PARAMETERS, note="scheduled")},
            "recurring_run_id": "rr-1",
        }
    )
    rows = kfp_runs.status(client, [cfg, load_region_config("JFK")])
    assert (
        rows[0]["region"] == "EWR"
        and rows[0]["state"] == "SUCCEEDED"
        and rows[0]["run"] == "driftgate-ewr-schedule-1"
    )
    assert (
        rows[0]["span"] == "next" and rows[0]["retrain"] == "auto" and rows[0]["recurring_run_id"] == "rr-1"
    )
    assert rows[1] == {
        "region": "JFK",
        "run": "-",
        "state": "no runs",
        "span": "",
        "retrain": "",
        "note": "",
        "recurring_run_id": "",
        "created": "",
        "finished": "",
    }
    json.dumps(rows)


# --- run parameters, schedule window and concurrency, status (no compile needed) ---


def _stub_upload(server, region, tmp_path):
    """Uploads a stand-in spec (the fake server only records it) and returns (config, client)."""
    from driftgate.app import kfp_connection, kfp_runs

    cfg = load_region_config(region)
    spec = tmp_path / f"{region}.yaml"
    spec.write_text(f"pipelineInfo:\n  name: driftgate-{region.lower()}\n")
    client = kfp_connection.make_client(kfp_connection.KfpSettings(endpoint=server.host))
    kfp_runs.upload(client, cfg, str(spec), name=f"{region.lower()}-v1")
    return cfg, client


def test_run_sends_span_retrain_and_note_as_run_parameters(server, tmp_path):
    import datetime as dt

    from driftgate.app import kfp_connection, kfp_runs

    cfg, client = _stub_upload(server, "EWR", tmp_path)
    params = kfp_runs.run_parameters(span=7, force_retrain=True, note="backfill after outage")
    when = dt.datetime(2026, 11, 24, 6, 0, 0, tzinfo=dt.timezone.utc)
    started = kfp_runs.run_now(client, cfg, params=params, now=when)
    (req,) = server.calls("POST", "/apis/v2beta1/runs")
    body = req["json"]
    assert body["runtime_config"]["parameters"] == {
        "span": "7",
        "retrain": "force",
        "note": "backfill after outage",
    }
    assert body["display_name"] == started.run_name == "driftgate-ewr-span7-force-20261124-060000"
    assert kfp_runs.run_parameters() == RUN_PARAMETERS and kfp_runs.run_parameters(note=" ") == RUN_PARAMETERS
    with pytest.raises(kfp_connection.KfpError, match="positive"):
        kfp_runs.run_parameters(span=0)


def test_kfp_run_cli_passes_the_flags_as_run_parameters(server, tmp_path, capsys):
    from driftgate.cli.main import main

    _stub_upload(server, "LGA", tmp_path)
    argv = ["kfp", "run", "--region", "LGA", "--span", "12", "--note", "re-ingest", "--endpoint", server.host]
    assert main(argv) == 0
    (req,) = server.calls("POST", "/apis/v2beta1/runs")
    assert req["json"]["runtime_config"]["parameters"] == {
        "span": "12",
        "retrain": "auto",
        "note": "re-ingest",
    }
    assert "span=12 retrain=auto note=re-ingest" in capsys.readouterr().out
    assert main(argv + ["--force-retrain", "--output", "json"]) == 0
    out = capsys.readouterr()
    (shown,) = json.loads(out.out)  # kfp.Client's "Run details: <link>" goes to stderr
    assert shown["parameters"] == {"span": "12", "retrain": "force", "note": "re-ingest"}
    assert "Run details: " in out.err and shown["run_name"].startswith("driftgate-lga-span12-force-")


@pytest.mark.parametrize("bad", ["x", "0", "-3", "7.5", ""])
def test_kfp_run_span_must_be_a_positive_integer(server, bad, capsys):
    from driftgate.cli.main import main

    code = main(["kfp", "run", "--region", "EWR", "--span", bad, "--endpoint", server.host])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "--span" in err[0] and "positive whole number" in err[0], err
    assert not server.requests  # refused before contacting the server


def test_schedule_with_catchup_and_a_window(server, tmp_path):
    import dataclasses

    from driftgate.app import kfp_runs

    cfg, client = _stub_upload(server, "EWR", tmp_path)
    sched = dataclasses.replace(
        cfg.kubeflow.schedule, catchup=True, start="2026-01-01T00:00:00Z", end="2026-03-31T23:59:59+02:00"
    )
    cfg = dataclasses.replace(cfg, kubeflow=dataclasses.replace(cfg.kubeflow, schedule=sched))
    s = kfp_runs.schedule(client, cfg)
    (req,) = server.calls("POST", "/apis/v2beta1/recurringruns")
    body = req["json"]
    assert body["no_catchup"] is False and int(body["max_concurrency"]) == 1
    assert body["trigger"]["cron_schedule"] == {
        "cron": cfg.kubeflow.schedule.cron,
        "start_time": "2026-01-01T00:00:00Z",
        "end_time": "2026-03-31T23:59:59+02:00",
    }
    assert body["runtime_config"] == {
        "parameters": {"span": "next", "retrain": "auto", "note": "scheduled"},
        "pipeline_root": "gs://driftgate-demo/runs/EWR/pipeline",
    }
    assert "catchup" in body["description"] and s.catchup and s.start == "2026-01-01T00:00:00Z"


def test_schedule_refuses_a_hand_built_config_with_more_than_one_concurrent_run(server, tmp_path):
    import dataclasses

    from driftgate.app import kfp_connection, kfp_runs

    cfg, client = _stub_upload(server, "JFK", tmp_path)
    sched = dataclasses.replace(cfg.kubeflow.schedule, max_concurrency=3)
    cfg = dataclasses.replace(cfg, kubeflow=dataclasses.replace(cfg.kubeflow, schedule=sched))
    with pytest.raises(kfp_connection.KfpError, match="kubeflow.schedule.max_concurrency must be 1"):
        kfp_runs.schedule(client, cfg)
    assert not [r for r in server.requests if "recurringruns" in r["path"]]  # nothing disabled either


def test_kfp_status_shows_parameters_and_the_schedule(server, tmp_path, capsys):
    from driftgate.cli.main import main

    _stub_upload(server, "EWR", tmp_path)
    pid = next(iter(server.pipelines))
    ref = {"pipeline_id": pid, "pipeline_version_id": server.versions[pid][-1]["pipeline_version_id"]}
    for run_id, params, recurring in [
        ("r2", {"span": "7", "retrain": "force", "note": "backfill"}, None),
        ("r1", dict(RUN_PARAMETERS, note="scheduled"), "rr-1"),
    ]:
        run = {"run_id": run_id, "display_name": f"run-{run_id}", "state": "SUCCEEDED"}
        run.update(pipeline_version_reference=ref, runtime_config={"parameters": params})
        if recurring:
            run["recurring_run_id"] = recurring
        server.runs.append(run)
    assert main(["kfp", "status", "--region", "EWR", "--endpoint", server.host, "--output", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["run"], r["span"], r["retrain"], r["note"], r["recurring_run_id"]) for r in rows] == [
        ("run-r2", "7", "force", "backfill", ""),
        ("run-r1", "next", "auto", "scheduled", "rr-1"),
    ]
    assert main(["kfp", "status", "--region", "EWR", "--endpoint", server.host]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "scheduled" in table[0] and "span" in table[0] and "retrain" in table[0]
    assert re.search(r"run-r2\s+SUCCEEDED\s+7\s+force\s+no", "\n".join(table))
    assert re.search(r"run-r1\s+SUCCEEDED\s+next\s+auto\s+yes", "\n".join(table))
