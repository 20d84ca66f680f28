"""The weekly digest's CronJob: validated offline against the Kubernetes API
schemas (kubernetes-validate, strict), built from the config (schedule and
zone, image, root, the alerts' Secret), and the committed file current."""

import dataclasses
from pathlib import Path

import yaml

from driftgate.core.config import load_region_config
from serving import digest_job

ROOT = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.29"
COMMITTED = ROOT / "kubeflow" / "monitoring" / "k8s" / digest_job.FILE


def test_committed_cronjob_is_current_and_listed_in_the_kustomization():
    assert yaml.safe_load(COMMITTED.read_text()) == digest_job.cronjob(
        load_region_config("EWR")
    ), "run: driftgate serving manifests --region EWR"
    kust = yaml.safe_load((COMMITTED.parent / "kustomization.yaml").read_text())
    assert digest_job.FILE in kust["resources"]


def test_cronjob_validates_strictly_against_the_kubernetes_schemas():
    import kubernetes_validate

    kubernetes_validate.validate(yaml.safe_load(COMMITTED.read_text()), K8S_VERSION, strict=True)
    cfg = load_region_config("EWR")
    tuned = dataclasses.replace(
        cfg, digest=dataclasses.replace(cfg.digest, timezone="Europe/Berlin", service_account="digest-reader")
    )
    job = digest_job.cronjob(tuned)
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    assert job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["serviceAccountName"] == "digest-reader"


def test_weekly_send_in_the_pipeline_image_with_the_alerts_slack_secret():
    cfg = load_region_config("JFK")
    job = digest_job.cronjob(cfg)
    assert (job["spec"]["schedule"], job["spec"]["timeZone"]) == ("0 8 * * 1", cfg.digest.timezone)
    assert job["metadata"]["namespace"] == cfg.serving.namespace
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == cfg.kubeflow.image and container["command"] == ["driftgate"]
    args = container["args"]
    assert args[:5] == ["digest", "--root", cfg.kubeflow.root, "--period", "week"] and "--send" in args
    assert (
        args[args.index("--timezone") + 1] == cfg.digest.timezone
    )  # the week ends where the schedule's zone says
    env = {e["name"]: e["value"] for e in container["env"]}
    assert "DRIFTGATE_SLACK_WEBHOOK_URL" not in env  # the secret itself is never in the spec
    ((volume,),) = [pod["volumes"]]
    assert volume["secret"]["secretName"] == cfg.kubeflow.alerts_secret
    assert volume["secret"]["items"] == [{"key": "slack-webhook-url", "path": "slack-webhook-url"}]
    (mount,) = container["volumeMounts"]
    assert (
        mount["readOnly"]
        and env["DRIFTGATE_SLACK_WEBHOOK_URL_FILE"] == f"{mount['mountPath']}/slack-webhook-url"
    )


def test_write_adds_the_file_to_the_kustomization_once(tmp_path):
    k8s = tmp_path / "k8s"
    k8s.mkdir()
    (k8s / "kustomization.yaml").write_text(
        yaml.safe_dump({"kind": "Kustomization", "resources": ["a.yaml"]})
    )
    cfg = load_region_config("EWR")
    assert len(digest_job.write(str(tmp_path), cfg)) == 2
    assert digest_job.write(str(tmp_path), cfg) == [str(k8s / digest_job.FILE)]
    assert yaml.safe_load((k8s / "kustomization.yaml").read_text())["resources"] == [
        "a.yaml",
        digest_job.FILE,
    ]
