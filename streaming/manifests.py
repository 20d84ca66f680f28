"""Kubernetes objects running a Kafka-sourced region's lander or stream watcher:
a Deployment (one replica, ``Recreate``: one per region, it also holds a
lease), a Service for ``/metrics`` and a Prometheus-operator ServiceMonitor.
The stream watcher also reads the region state (``--root``: the bucket or
folder of the batch runs, for the training baseline) and takes its alert
secrets from the Secret ``driftgate-alerts`` (keys ``slack-webhook-url``,
``pagerduty-routing-key``), mounted read-only and named by the
``DRIFTGATE_*_FILE`` variables the notifier reads.
Kafka credentials come from the Secret ``driftgate-kafka-<region>`` (key
``settings``: librdkafka ``key=value`` lines), mounted read-only and named by
``DRIFTGATE_KAFKA_SETTINGS``; this module never writes a Secret's values.
The lander writes straight into ``kubeflow.data_root``, the bucket the
region's pipelines read spans from, as the pod's identity
(``land.service_account``, e.g. a GKE Workload Identity binding) or with the
service-account key of the Secret ``land.credentials_secret`` (key
``key.json``, mounted read-only, named by ``GOOGLE_APPLICATION_CREDENTIALS``);
with ``land.volume_claim`` it lands onto that PersistentVolumeClaim at /data
instead. The stream watcher keeps its state on a volume
(``driftgate-data`` unless ``land.volume_claim`` names another).
"""

from __future__ import annotations

from typing import List

METRICS_PORT = 9108
DATA_CLAIM = "driftgate-data"
SETTINGS_DIR = "/etc/driftgate/kafka"
CREDENTIALS_DIR = "/etc/driftgate/cloud"


def secret_name(region: str) -> str:
    return f"driftgate-kafka-{region.lower()}"


ALERTS_SECRET = "driftgate-alerts"
ALERTS_DIR = "/etc/driftgate/alerts"


def region_manifests(config, kind: str = "land") -> List[dict]:
    """``kind``: ``land`` or ``stream``."""
    region = config.region
    name = f"driftgate-{kind}-{region.lower()}"
    namespace = config.serving.namespace
    labels = {"app": name, "app.kubernetes.io/part-of": "driftgate", "driftgate/region": region}
    land = config.land
    on_volume = kind == "stream" or land.volume_claim is not None
    data = "/data" if on_volume else config.kubeflow.data_root
    command = ["driftgate", kind, "--region", region, "--data", data, "--metrics-port", str(METRICS_PORT)]
    env = [{"name": "DRIFTGATE_KAFKA_SETTINGS", "value": f"{SETTINGS_DIR}/settings"}]
    mounts = [{"name": "kafka-settings", "mountPath": SETTINGS_DIR, "readOnly": True}]
    volumes = [{"name": "kafka-settings", "secret": {"secretName": secret_name(region), "optional": True}}]
    if on_volume:
        mounts.insert(0, {"name": "data", "mountPath": "/data"})
        volumes.insert(
            0, {"name": "data", "persistentVolumeClaim": {"claimName": land.volume_claim or DATA_CLAIM}}
        )
    if land.credentials_secret:
        env.append({"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": f"{CREDENTIALS_DIR}/key.json"})
        mounts.append({"name": "cloud-credentials", "mountPath": CREDENTIALS_DIR, "readOnly": True})
        volumes.append({"name": "cloud-credentials", "secret": {"secretName": land.credentials_secret}})
    if kind == "stream":
        command += ["--root", config.kubeflow.root]
        env += [
            {"name": "DRIFTGATE_SLACK_WEBHOOK_URL_FILE", "value": f"{ALERTS_DIR}/slack-webhook-url"},
            {"name": "DRIFTGATE_PAGERDUTY_ROUTING_KEY_FILE", "value": f"{ALERTS_DIR}/pagerduty-routing-key"},
        ]
        mounts.append({"name": "alerts", "mountPath": ALERTS_DIR, "readOnly": True})
        volumes.append({"name": "alerts", "secret": {"secretName": ALERTS_SECRET, "optional": True}})
    container = {
        "name": kind,
        "image": config.kubeflow.image,
        "command": command,
        "env": env,
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT}],
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        "readinessProbe": {"httpGet": {"path": "/metrics", "port": METRICS_PORT}, "periodSeconds": 10},
        "volumeMounts": mounts,
    }
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        **({"serviceAccountName": land.service_account} if land.service_account else {}),
                        "terminationGracePeriodSeconds": 60,  # SIGTERM: a last checkpoint
                        "containers": [container],
                        "volumes": volumes,
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "selector": {"app": name},
                "ports": [{"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"}],
            },
        },
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "15s"}],
            },
        },
    ]
