"""Kubernetes manifests for serving a region: what the cluster reads.

Per region (``kubeflow/serving/<REGION>.yaml``):
- two TF Serving Deployments, ``track: stable`` and ``track: canary``, each
  reading its own config (``stable.config`` / ``canary.config`` written by
  ``serving/release.py``) with ``--model_config_file_poll_wait_seconds`` so a
  promotion or rollback is picked up without a restart, and
  ``--allow_version_labels_for_unavailable_models`` so a label can be set
  before its version has loaded; a Prometheus monitoring config;
- a PodMonitor (Prometheus Operator) scraping both tracks'
  ``/monitoring/prometheus/metrics``, adding ``region`` and ``track`` to TF
  Serving's series (``serving/health.py`` names those driftgate reads);
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

METRICS_PATH = "/monitoring/prometheus/metrics"  # TF Serving's PrometheusExporter::kPrometheusPath
MONITORING_CONFIG = f'prometheus_config {{\n  enable: true\n  path: "{METRICS_PATH}"\n}}\n'


OBJECTIVES_FILE = "objectives.yml"


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
                                "prometheus.io/path": METRICS_PATH,
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
    docs.append(pod_monitor(name, namespace, labels))
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


def pod_monitor(name: str, namespace: str, labels: dict) -> dict:
    """Both tracks' pods scraped every 15 s; ``region`` and ``track`` come from
    the pods' labels (``driftgate/region``, ``track``) through relabelling."""
    meta = "__meta_kubernetes_pod_label_"
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "podMetricsEndpoints": [
                {
                    "port": "http",
                    "path": METRICS_PATH,
                    "interval": "15s",
                    "relabelings": [
                        {"sourceLabels": [f"{meta}driftgate_region"], "targetLabel": "region"},
                        {"sourceLabels": [f"{meta}track"], "targetLabel": "track"},
                    ],
                }
            ],
        },
    }


def objective_rules(configs) -> dict:
    """Recording rules holding each region's serving objectives, which the
    alerts in ``alerts.yml`` compare against (a region without them gets the
    defaults written there)."""
    rules = []
    for config in sorted(configs, key=lambda c: c.region):
        values = {
            "driftgate:serving_objective_p99_seconds": config.serving.max_p99_ms / 1000,
            "driftgate:serving_objective_canary_error_increase": config.serving.canary.max_live_error_increase,
            "driftgate:serving_objective_canary_p99_ratio": config.serving.canary.max_live_p99_ratio,
        }
        rules += [
            {"record": k, "expr": f"vector({v:g})", "labels": {"region": config.region}}
            for k, v in values.items()
        ]
    return {"groups": [{"name": "driftgate-serving-objectives", "rules": rules}]}


def kustomization(regions: List[str]) -> dict:
    """A Kustomize base over the regions' files: overlays patch namespace,
    images (``tensorflow/serving``) and replicas."""
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [f"{r}.yaml" for r in sorted(regions)],
        "labels": [{"pairs": {"app.kubernetes.io/managed-by": "driftgate"}}],
    }


def monitoring_objects(
    rules_yaml: str, dashboard_json: str, namespace: str, objectives_yaml: str = "groups: []"
) -> List[dict]:
    """The Prometheus operator's ``PrometheusRule`` holding ``alerts.yml``'s
    groups and the regions' objectives, and the Grafana dashboard as a
    ConfigMap the Grafana sidecar loads (label ``grafana_dashboard: "1"``)."""
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
            "spec": {
                "groups": yaml.safe_load(rules_yaml)["groups"] + yaml.safe_load(objectives_yaml)["groups"]
            },
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


def write_monitoring(monitoring_dir: str, namespace: str, configs=()) -> List[str]:
    """Writes ``<monitoring_dir>/objectives.yml`` from ``configs`` (every
    region's; left as it is without), then ``<monitoring_dir>/k8s/``
    (PrometheusRule, dashboard ConfigMap, kustomization) from ``alerts.yml``,
    ``objectives.yml`` and ``grafana-dashboard.json``."""
    import os

    import yaml

    from driftgate.core import storage

    objectives_path = os.path.join(monitoring_dir, OBJECTIVES_FILE)
    paths = []
    if configs:
        storage.write_atomic(
            objectives_path,
            "# generated by `driftgate serving manifests` from the regions' serving.max_p99_ms and "
            "serving.canary live margins\n" + yaml.safe_dump(objective_rules(configs), sort_keys=False),
        )
        paths.append(objectives_path)
    with open(os.path.join(monitoring_dir, "alerts.yml")) as fh:
        rules = fh.read()
    with open(os.path.join(monitoring_dir, "grafana-dashboard.json")) as fh:
        dashboard = fh.read()
    objectives = open(objectives_path).read() if os.path.exists(objectives_path) else "groups: []"
    out = os.path.join(monitoring_dir, "k8s")
    objects = monitoring_objects(rules, dashboard, namespace, objectives)
    files = {"prometheusrule.yaml": objects[0], "grafana-dashboard-configmap.yaml": objects[1]}
    for name, obj in files.items():
        path = os.path.join(out, name)
        storage.write_atomic(
            path,
            "# generated by `driftgate serving manifests` from ../alerts.yml, ../objectives.yml and "
            "../grafana-dashboard.json\n" + yaml.safe_dump(obj, sort_keys=False),
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
