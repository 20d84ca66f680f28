"""Serving manifests: Kubernetes objects validated offline against the API
schemas (kubernetes-validate), TF Serving flags and the Istio split checked."""

from pathlib import Path

import pytest
import yaml

from driftgate.core.config import available_regions, load_region_config
from serving import manifests

ROOT = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.29"


def _docs(region):
    return manifests.region_manifests(load_region_config(region))


@pytest.mark.parametrize("region", available_regions())
def test_committed_manifests_are_current(region):
    committed = list(yaml.safe_load_all((ROOT / "kubeflow" / "serving" / f"{region}.yaml").read_text()))
    assert committed == _docs(region), f"run: driftgate serving manifests --region {region}"


@pytest.mark.parametrize("region", available_regions())
def test_kubernetes_objects_validate_strictly(region):
    import kubernetes_validate

    kinds = []
    for doc in _docs(region):
        if doc["apiVersion"].startswith("networking.istio.io"):
            continue  # CRDs: checked below
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        kinds.append(doc["kind"])
    assert sorted(kinds) == ["ConfigMap", "Deployment", "Deployment", "Service"]


def test_validator_rejects_a_broken_deployment():
    import kubernetes_validate

    dep = next(d for d in _docs("EWR") if d["kind"] == "Deployment")
    dep["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(dep, K8S_VERSION, strict=True)
    dep["spec"]["replicas"] = 2
    dep["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"  # typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(dep, K8S_VERSION, strict=True)


def test_tf_serving_reads_the_release_configs_with_the_needed_flags():
    cfg = load_region_config("JFK")
    deps = {d["metadata"]["labels"]["track"]: d for d in _docs("JFK") if d["kind"] == "Deployment"}
    assert set(deps) == {"stable", "canary"}
    for track, dep in deps.items():
        args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
        assert f"--model_config_file={cfg.kubeflow.root}/serving/JFK/{track}.config" in args
        assert "--model_config_file_poll_wait_seconds=60" in args
        assert "--allow_version_labels_for_unavailable_models=true" in args
        assert "--monitoring_config_file=/etc/tfserving/monitoring.config" in args


def _monitoring_config_class():
    """tensorflow_serving/config/monitoring_config.proto (not shipped in
    tensorflow-serving-api): MonitoringConfig { PrometheusConfig prometheus_config = 1; }
    PrometheusConfig { bool enable = 1; string path = 2; }, built from its descriptor."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(
        name="monitoring_config.proto", package="tensorflow.serving", syntax="proto3"
    )
    prom = fdp.message_type.add(name="PrometheusConfig")
    prom.field.add(name="enable", number=1, type=8, label=1)  # TYPE_BOOL
    prom.field.add(name="path", number=2, type=9, label=1)  # TYPE_STRING
    mon = fdp.message_type.add(name="MonitoringConfig")
    mon.field.add(
        name="prometheus_config", number=1, type=11, label=1, type_name=".tensorflow.serving.PrometheusConfig"
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    desc = pool.FindMessageTypeByName("tensorflow.serving.MonitoringConfig")
    return message_factory.MessageFactory(pool).GetPrototype(desc)  # protobuf 3.20 API


def test_monitoring_config_parses_as_tf_servings_monitoring_config():
    from google.protobuf import text_format

    cm = next(d for d in _docs("EWR") if d["kind"] == "ConfigMap")
    mc = text_format.Parse(cm["data"]["monitoring.config"], _monitoring_config_class()())
    assert mc.prometheus_config.enable and mc.prometheus_config.path == "/monitoring/prometheus/metrics"
    dep = next(d for d in _docs("EWR") if d["kind"] == "Deployment")
    ann = dep["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/path"] == mc.prometheus_config.path


def test_istio_split_sends_the_configured_share_to_the_canary():
    cfg = load_region_config("LGA")
    docs = {d["kind"]: d for d in _docs("LGA")}
    vs, dr, svc = docs["VirtualService"], docs["DestinationRule"], docs["Service"]
    host = f"{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc.cluster.local"
    assert vs["spec"]["hosts"] == [host] and dr["spec"]["host"] == host
    (route,) = vs["spec"]["http"]
    weights = {r["destination"]["subset"]: r["weight"] for r in route["route"]}
    assert weights == {"stable": 100 - cfg.serving.canary_share, "canary": cfg.serving.canary_share}
    subsets = {s["name"]: s["labels"]["track"] for s in dr["spec"]["subsets"]}
    assert subsets == {"stable": "stable", "canary": "canary"}
    tracks = {d["metadata"]["labels"]["track"] for d in _docs("LGA") if d["kind"] == "Deployment"}
    assert tracks == set(subsets.values())
