"""Kubernetes manifests for serving a region: what the cluster reads.

Per region (``kubeflow/serving/<REGION>.yaml``):
- two TF Serving Deployments, ``track: stable`` and ``track: canary``, each
  reading its own config (``stable.config`` / ``canary.config`` written by
  ``serving/release.py``) with ``--model_config_file_poll_wait_seconds`` so a
  promotion or rollback is picked up without a restart, and
  ``--allow_version_labels_for_unavailable_models`` so a label can be set
  before its version has loaded; a Prometheus monitoring config;
- one Service over both tracks;
- the routing: an Istio DestinationRule (subsets by ``track``) and
  VirtualService sending ``serving.canary_share`` % of requests to the canary.

Why Istio and not KServe's ``canaryTrafficPercent``: KServe's canary is a new
InferenceService revision that loads its own model from a storage URI and
ignores TF Serving's config and labels; here TF Serving's ``models.config``
(with the stable/canary labels driftgate writes) stays the source of truth,
and the mesh only weighs traffic between two ordinary Deployments.
"""

from typing import List

from driftgate.core import storage
from driftgate.core.layout import RegionLayout

MONITORING_CONFIG = 'prometheus_config {\n  enable: true\n  path: "/monitoring/prometheus/metrics"\n}\n'


def _name(region: str) -> str:
    return f"tfserving-{region.lower()}"


def region_manifests(config) -> List[dict]:
    """The Kubernetes objects serving ``config.region`` (namespace and image from
    ``serving.namespace`` / ``serving.tfserving_image``)."""
    name, region = _name(config.region), config.region
    namespace = config.serving.namespace
    model = config.serving.model_name
    serving_root = RegionLayout(config.kubeflow.root.rstrip("/"), region, model).serving_dir
    labels = {"app": name, "app.kubernetes.io/part-of": "driftgate", "driftgate/region": region}
    docs = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-monitoring", "namespace": namespace, "labels": labels},
            "data": {"monitoring.config": MONITORING_CONFIG},
        }
    ]
    for track in ("stable", "canary"):
        track_labels = dict(labels, track=track)
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"{name}-{track}", "namespace": namespace, "labels": track_labels},
                "spec": {
                    "replicas": 2 if track == "stable" else 1,
                    "selector": {"matchLabels": {"app": name, "track": track}},
                    "template": {
                        "metadata": {
                            "labels": track_labels,
                            "annotations": {
                                "prometheus.io/scrape": "true",
                                "prometheus.io/port": "8501",
                                "prometheus.io/path": "/monitoring/prometheus/metrics",
                            },
                        },
                        "spec": {
                            "containers": [
                                {
                                    "name": "tfserving",
                                    "image": config.serving.tfserving_image,
                                    "args": [
                                        "--port=8500",
                                        "--rest_api_port=8501",
                                        f"--model_config_file={storage.join(serving_root, f'{track}.config')}",
                                        "--model_config_file_poll_wait_seconds=60",
                                        "--allow_version_labels_for_unavailable_models=true",
                                        "--monitoring_config_file=/etc/tfserving/monitoring.config",
                                    ],
                                    "ports": [
                                        {"name": "grpc", "containerPort": 8500},
                                        {"name": "http", "containerPort": 8501},
                                    ],
                                    "readinessProbe": {
                                        "httpGet": {"path": f"/v1/models/{model}", "port": 8501},
                                        "initialDelaySeconds": 10,
                                        "periodSeconds": 10,
                                    },
                                    "resources": {
                                        "requests": {"cpu": "500m", "memory": "1Gi"},
                                        "limits": {"memory": "2Gi"},
                                    },
                                    "volumeMounts": [{"name": "monitoring", "mountPath": "/etc/tfserving"}],
                                }
                            ],
                            "volumes": [{"name": "monitoring", "configMap": {"name": f"{name}-monitoring"}}],
                        },
                    },
                },
            }
        )
    docs.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "selector": {"app": name},
                "ports": [
                    {"name": "grpc", "port": 8500, "targetPort": 8500},
                    {"name": "http", "port": 8501, "targetPort": 8501},
                ],
            },
        }
    )
    host = f"{name}.{namespace}.svc.cluster.local"
    share = config.serving.canary_share
    docs.append(
        {
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "DestinationRule",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "host": host,
                "subsets": [{"name": t, "labels": {"track": t}} for t in ("stable", "canary")],
            },
        }
    )
    docs.append(
        {
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "VirtualService",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "hosts": [host],
                "http": [
                    {
                        "name": "stable-canary-split",
                        "route": [
                            {"destination": {"host": host, "subset": "stable"}, "weight": 100 - share},
                            {"destination": {"host": host, "subset": "canary"}, "weight": share},
                        ],
                    }
                ],
            },
        }
    )
    return docs


def kustomization(regions: List[str]) -> dict:
    """A Kustomize base over the regions' files: overlays patch namespace,
    images (``tensorflow/serving``) and replicas."""
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [f"{r}.yaml" for r in sorted(regions)],
        "labels": [{"pairs": {"app.kubernetes.io/managed-by": "driftgate"}}],
    }


def monitoring_objects(rules_yaml: str, dashboard_json: str, namespace: str) -> List[dict]:
    """The Prometheus operator's ``PrometheusRule`` holding ``alerts.yml``'s
    groups, and the Grafana dashboard as a ConfigMap the Grafana sidecar loads
    (label ``grafana_dashboard: "1"``)."""
    import json

    import yaml

    labels = {"app.kubernetes.io/part-of": "driftgate"}
    return [
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {
                "name": "driftgate",
                "namespace": namespace,
                "labels": dict(labels, role="alert-rules"),
            },
            "spec": {"groups": yaml.safe_load(rules_yaml)["groups"]},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "driftgate-dashboard",
                "namespace": namespace,
                "labels": dict(labels, grafana_dashboard="1"),
            },
            "data": {"driftgate.json": json.dumps(json.loads(dashboard_json), indent=1, sort_keys=True)},
        },
    ]


def write(configs, out_dir: str) -> List[str]:
    """Writes ``<out_dir>/<REGION>.yaml`` (multi-document) per region, and the
    ``kustomization.yaml`` over every region file in ``out_dir``."""
    import glob
    import os

    import yaml

    from driftgate.core import storage

    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for config in configs:
        path = os.path.join(out_dir, f"{config.region}.yaml")
        header = f"# TF Serving + Istio routing for region {config.region} (driftgate serving manifests)\n"
        storage.write_atomic(path, header + yaml.safe_dump_all(region_manifests(config), sort_keys=False))
        paths.append(path)
    regions = [os.path.basename(p)[: -len(".yaml")] for p in glob.glob(os.path.join(out_dir, "*.yaml"))]
    regions = [r for r in regions if r != "kustomization"]
    kpath = os.path.join(out_dir, "kustomization.yaml")
    storage.write_atomic(kpath, yaml.safe_dump(kustomization(regions), sort_keys=False))
    return paths + [kpath]


def write_monitoring(monitoring_dir: str, namespace: str) -> List[str]:
    """Writes ``<monitoring_dir>/k8s/`` (PrometheusRule, dashboard ConfigMap,
    kustomization) from ``alerts.yml`` and ``grafana-dashboard.json``."""
    import os

    import yaml

    from driftgate.core import storage

    with open(os.path.join(monitoring_dir, "alerts.yml")) as fh:
        rules = fh.read()
    with open(os.path.join(monitoring_dir, "grafana-dashboard.json")) as fh:
        dashboard = fh.read()
    out = os.path.join(monitoring_dir, "k8s")
    objects = monitoring_objects(rules, dashboard, namespace)
    files = {"prometheusrule.yaml": objects[0], "grafana-dashboard-configmap.yaml": objects[1]}
    paths = []
    for name, obj in files.items():
        path = os.path.join(out, name)
        storage.write_atomic(
            path,
            "# generated by `driftgate serving manifests` from ../alerts.yml and ../grafana-dashboard.json\n"
            + yaml.safe_dump(obj, sort_keys=False),
        )
        paths.append(path)
    kust = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(files),
    }
    kpath = os.path.join(out, "kustomization.yaml")
    storage.write_atomic(kpath, yaml.safe_dump(kust, sort_keys=False))
    return paths + [kpath]
