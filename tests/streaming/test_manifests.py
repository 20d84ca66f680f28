"""The lander's and the stream watcher's Kubernetes objects, validated offline against the API schemas
(kubernetes-validate) like the serving manifests; the ServiceMonitor (a CRD)
checked by hand. What it does not prove: that a cluster schedules them."""

import pytest
import yaml

from driftgate.core.config import load_region_config
from streaming import manifests

K8S_VERSION = "1.29"


def _docs(kind="land"):
    return manifests.region_manifests(load_region_config("EWR"), kind)


@pytest.mark.parametrize("kind", ["land", "stream"])
def test_deployment_and_service_validate_strictly(kind):
    import kubernetes_validate

    kinds = []
    for doc in _docs(kind):
        if doc["apiVersion"] == "monitoring.coreos.com/v1":
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        kinds.append(doc["kind"])
    assert kinds == ["Deployment", "Service"]


def test_one_lander_runs_the_documented_command_with_its_credentials_from_a_secret():
    dep = _docs()[0]
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"]["type"] == "Recreate"
    assert c["command"][:4] == ["driftgate", "land", "--region", "EWR"] and "--metrics-port" in c["command"]
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    secret = next(v for v in spec["volumes"] if "secret" in v)["secret"]["secretName"]
    assert secret == "driftgate-kafka-ewr"
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["DRIFTGATE_KAFKA_SETTINGS"].startswith(manifests.SETTINGS_DIR)
    text = yaml.safe_dump_all(_docs())
    assert "sasl.password" not in text and "kind: Secret" not in text  # never values in a spec


def test_the_service_monitor_scrapes_the_service_port():
    _, svc, mon = _docs()
    assert (
        mon["kind"] == "ServiceMonitor" and mon["spec"]["selector"]["matchLabels"] == svc["spec"]["selector"]
    )
    assert mon["spec"]["endpoints"][0]["port"] == svc["spec"]["ports"][0]["name"] == "metrics"


def test_the_command_writes_them(tmp_path):
    from click.testing import CliRunner

    from driftgate.cli.main import cli

    res = CliRunner().invoke(cli, ["land", "--region", "EWR", "--manifests", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert list(yaml.safe_load_all((tmp_path / "land-EWR.yaml").read_text())) == _docs()


@pytest.mark.parametrize("bad", ["replicas", "typo"])
def test_the_validator_would_catch_a_broken_deployment(bad):
    import kubernetes_validate

    dep = _docs()[0]
    if bad == "replicas":
        dep["spec"]["replicas"] = "one"
    else:
        dep["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(dep, K8S_VERSION, strict=True)


def test_the_stream_watcher_reads_the_region_state_and_its_alert_secrets_from_files():
    cfg = load_region_config("EWR")
    dep = _docs("stream")[0]
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert c["command"][:4] == ["driftgate", "stream", "--region", "EWR"]
    assert c["command"][c["command"].index("--root") + 1] == cfg.kubeflow.root
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["DRIFTGATE_SLACK_WEBHOOK_URL_FILE"].startswith(manifests.ALERTS_DIR)
    secrets = {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
    assert secrets == {"driftgate-kafka-ewr", manifests.ALERTS_SECRET}
    assert all(m["readOnly"] for m in c["volumeMounts"] if m["name"] != "data")
    text = yaml.safe_dump_all(_docs("stream"))
    assert "hooks.slack.com" not in text and "routing_key" not in text  # names of files only, never values


def _land_with(**land):
    import dataclasses

    cfg = load_region_config("EWR")
    return manifests.region_manifests(dataclasses.replace(cfg, land=dataclasses.replace(cfg.land, **land)))


def test_the_lander_writes_straight_into_the_bucket_the_pipelines_read_with_no_volume():
    import kubernetes_validate

    cfg = load_region_config("EWR")
    dep = _docs()[0]
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert c["command"][c["command"].index("--data") + 1] == cfg.kubeflow.data_root
    assert cfg.kubeflow.data_root.startswith("gs://")
    assert not [v for v in spec["volumes"] if "persistentVolumeClaim" in v]
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in {e["name"] for e in c["env"]}  # the pod's identity
    kubernetes_validate.validate(dep, K8S_VERSION, strict=True)


def test_a_mounted_key_or_a_service_account_gives_the_lander_its_bucket_credentials():
    import kubernetes_validate

    dep = _land_with(credentials_secret="driftgate-gcs-key", service_account="driftgate-lander")[0]
    kubernetes_validate.validate(dep, K8S_VERSION, strict=True)
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert spec["serviceAccountName"] == "driftgate-lander"
    env = {e["name"]: e["value"] for e in c["env"]}
    mount = next(m for m in c["volumeMounts"] if m["name"] == "cloud-credentials")
    assert env["GOOGLE_APPLICATION_CREDENTIALS"] == f"{mount['mountPath']}/key.json" and mount["readOnly"]
    vol = next(v for v in spec["volumes"] if v["name"] == "cloud-credentials")
    assert vol["secret"] == {"secretName": "driftgate-gcs-key"}  # a name, never the key itself


def test_a_volume_claim_keeps_the_volume_path_as_an_option():
    dep = _land_with(volume_claim="landing")[0]
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert c["command"][c["command"].index("--data") + 1] == "/data"
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "landing"}} in spec["volumes"]
