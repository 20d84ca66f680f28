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
        if doc["apiVersion"].startswith(("networking.istio.io", "monitoring.coreos.com")):
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


def test_namespace_and_image_come_from_the_config():
    import dataclasses

    cfg = load_region_config("EWR")
    cfg = dataclasses.replace(
        cfg,
        serving=dataclasses.replace(
            cfg.serving, namespace="team-a", tfserving_image="mirror.local/tfs:2.16.1"
        ),
    )
    docs = manifests.region_manifests(cfg)
    assert {d["metadata"]["namespace"] for d in docs} == {"team-a"}
    images = {
        c["image"]
        for d in docs
        if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"mirror.local/tfs:2.16.1"}


KUBECTL = __import__("shutil").which("kubectl")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl (kustomize) not installed on this machine")
def test_kustomize_overlay_patches_namespace_image_and_replicas(tmp_path):
    import shutil
    import subprocess

    import kubernetes_validate

    # the committed bases, copied beside an overlay (kustomize loads bases by relative path)
    shutil.copytree(ROOT / "kubeflow" / "serving", tmp_path / "serving")
    shutil.copytree(ROOT / "kubeflow" / "monitoring" / "k8s", tmp_path / "monitoring")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": ["../serving", "../monitoring"],
                "namespace": "team-b",
                "images": [{"name": "tensorflow/serving", "newTag": "2.17.0"}],
                "replicas": [{"name": "tfserving-ewr-stable", "count": 5}],
            }
        )
    )
    out = subprocess.run([KUBECTL, "kustomize", str(overlay)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    docs = list(yaml.safe_load_all(out.stdout))
    assert {d["metadata"]["namespace"] for d in docs} == {"team-b"}
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert len(deployments) == 2 * len(available_regions())
    assert deployments["tfserving-ewr-stable"]["spec"]["replicas"] == 5
    images = {c["image"] for d in deployments.values() for c in d["spec"]["template"]["spec"]["containers"]}
    assert images == {"tensorflow/serving:2.17.0"}
    kinds = {d["kind"] for d in docs}
    assert {"PrometheusRule", "VirtualService", "DestinationRule", "Service", "ConfigMap"} <= kinds
    for d in docs:
        if d["apiVersion"] in ("v1", "apps/v1"):
            kubernetes_validate.validate(d, K8S_VERSION, strict=True)


def _crds_or_skip():
    from driftgate.local import engines, operator_crds

    why = operator_crds.missing(engines.cache_dir())
    if why is not None:
        pytest.skip(why)
    return operator_crds


@pytest.mark.parametrize("region", available_regions())
def test_pod_monitor_validates_against_the_operators_crd_and_scrapes_both_tracks(region):
    """Against the PodMonitor CRD of the Prometheus Operator (the Go module, via
    ``go mod download``; strict: unknown fields fail). Not shown: a cluster's
    operator turning it into a scrape (its relabelling is checked by hand here)."""
    crds = _crds_or_skip()
    docs = _docs(region)
    (pm,) = [d for d in docs if d["kind"] == "PodMonitor"]
    crds.validate(pm)
    pods = [d["spec"]["template"] for d in docs if d["kind"] == "Deployment"]
    selector = pm["spec"]["selector"]["matchLabels"]
    assert len(pods) == 2 and all(selector.items() <= p["metadata"]["labels"].items() for p in pods)
    (endpoint,) = pm["spec"]["podMetricsEndpoints"]
    for pod in pods:
        (container,) = pod["spec"]["containers"]
        assert endpoint["port"] in {p["name"] for p in container["ports"]}
        assert endpoint["path"] == pod["metadata"]["annotations"]["prometheus.io/path"]
        # Prometheus' kubernetes_sd: pod label "a/b-c" becomes __meta_kubernetes_pod_label_a_b_c
        meta = {
            "__meta_kubernetes_pod_label_" + __import__("re").sub(r"[^a-zA-Z0-9_]", "_", k): v
            for k, v in pod["metadata"]["labels"].items()
        }
        added = {r["targetLabel"]: meta[r["sourceLabels"][0]] for r in endpoint["relabelings"]}
        assert added == {"region": region, "track": pod["metadata"]["labels"]["track"]}


def test_the_crd_check_refuses_a_misspelt_or_mistyped_field():
    crds = _crds_or_skip()
    pm = next(d for d in _docs("EWR") if d["kind"] == "PodMonitor")
    pm["spec"]["podMetricsEndpoints"][0]["relabellings"] = pm["spec"]["podMetricsEndpoints"][0].pop(
        "relabelings"
    )
    with pytest.raises(ValueError, match="relabellings"):
        crds.validate(pm)
    pm = next(d for d in _docs("EWR") if d["kind"] == "PodMonitor")
    pm["spec"]["podMetricsEndpoints"][0]["interval"] = 15
    with pytest.raises(ValueError, match="interval"):
        crds.validate(pm)


def test_prometheus_rule_validates_against_the_operators_crd():
    crds = _crds_or_skip()
    crds.validate(
        yaml.safe_load((ROOT / "kubeflow" / "monitoring" / "k8s" / "prometheusrule.yaml").read_text())
    )


def test_objectives_come_from_each_regions_config():
    import dataclasses

    cfgs = [load_region_config(r) for r in available_regions()]
    tight = dataclasses.replace(cfgs[0], serving=dataclasses.replace(cfgs[0].serving, max_p99_ms=50.0))
    rules = manifests.objective_rules([tight] + cfgs[1:])["groups"][0]["rules"]
    p99 = {r["labels"]["region"]: r["expr"] for r in rules if r["record"].endswith("p99_seconds")}
    assert p99 == {cfgs[0].region: "vector(0.05)", **{c.region: "vector(0.2)" for c in cfgs[1:]}}
    committed = yaml.safe_load((ROOT / "kubeflow" / "monitoring" / manifests.OBJECTIVES_FILE).read_text())
    assert committed == manifests.objective_rules(cfgs), "run: driftgate serving manifests --region EWR"
