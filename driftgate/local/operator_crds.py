"""The Prometheus Operator's CustomResourceDefinitions (``PodMonitor``,
``PrometheusRule``), to validate driftgate's monitoring objects offline.

They come with the Go module ``github.com/prometheus-operator/prometheus-operator``
(``example/prometheus-operator-crd/``), fetched once with
``go mod download <module>@<VERSION>`` into the engine cache, as a cluster
running that operator version would install them. :func:`validate` checks an
object against its CRD's ``openAPIV3Schema`` with ``jsonschema``, and strictly:
a field the schema does not name is an error (the API server with
``fieldValidation=Strict`` refuses it; without, it silently drops it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable, List, Optional

from driftgate.local import engines

GO_MODULE = "github.com/prometheus-operator/prometheus-operator"
VERSION = "v0.93.0"
NAME = "prometheus-operator CRDs"
KINDS = {"PodMonitor": "podmonitors", "PrometheusRule": "prometheusrules"}


def home(cache: Path) -> Path:
    return Path(cache) / f"operator-crds-{VERSION}"


def crd_path(cache: Path, kind: str) -> Path:
    return home(cache) / f"monitoring.coreos.com_{KINDS[kind]}.yaml"


def missing(cache: Path) -> Optional[str]:
    if all(crd_path(cache, k).is_file() for k in KINDS) and (home(cache) / ".done").exists():
        return None
    how = engines.FETCH_HINT if shutil.which("go") else f"apt-get install golang, then {engines.FETCH_HINT}"
    return f"{NAME} {VERSION} not in {home(cache)} (go mod download {GO_MODULE}@{VERSION}); run: {how}"


def fetch(cache: Path, progress: Callable[[str], None]) -> None:
    """``go mod download -json <module>@<VERSION>`` into a private module cache;
    copies the CRDs out of it (idempotent)."""
    if missing(cache) is None:
        return
    go = engines.need_tool("go", f"fetching the {NAME}")
    out = home(cache)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOMODCACHE=str(out / "mod"), GOFLAGS="-mod=mod")
    cmd = [go, "mod", "download", "-json", f"{GO_MODULE}@{VERSION}"]
    progress(f"   {' '.join(cmd)}")
    res = subprocess.run(cmd, cwd=out, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise engines.EngineMissing(f"go could not download {GO_MODULE}@{VERSION}: {res.stderr[-800:]}")
    src = Path(json.loads(res.stdout)["Dir"]) / "example" / "prometheus-operator-crd"
    for kind in KINDS:
        shutil.copyfile(src / crd_path(cache, kind).name, crd_path(cache, kind))
    subprocess.run(["chmod", "-R", "u+w", str(out / "mod")], check=False)  # Go writes its cache read-only
    shutil.rmtree(out / "mod", ignore_errors=True)
    (out / ".done").write_text(f"{GO_MODULE}@{VERSION}\n")


def schema(kind: str, version: str = "v1", cache: Optional[Path] = None) -> dict:
    """The ``openAPIV3Schema`` of ``kind`` at ``version`` (EngineMissing when not fetched)."""
    import yaml

    cache = engines.cache_dir() if cache is None else cache
    if missing(cache) is not None:
        raise engines.EngineMissing(missing(cache))
    crd = yaml.safe_load(crd_path(cache, kind).read_text())
    (found,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return found["schema"]["openAPIV3Schema"]


def unknown_fields(obj, sch: dict, path: str = "") -> List[str]:
    """Paths of fields ``sch`` does not name (``x-kubernetes-preserve-unknown-fields`` allows any)."""
    if sch.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found = []
    if isinstance(obj, dict) and "properties" in sch:
        for key, value in obj.items():
            if key not in sch["properties"]:
                found.append(f"{path}.{key}")
            else:
                found += unknown_fields(value, sch["properties"][key], f"{path}.{key}")
    elif isinstance(obj, dict) and isinstance(sch.get("additionalProperties"), dict):
        for key, value in obj.items():
            found += unknown_fields(value, sch["additionalProperties"], f"{path}.{key}")
    elif isinstance(obj, list) and "items" in sch:
        for i, value in enumerate(obj):
            found += unknown_fields(value, sch["items"], f"{path}[{i}]")
    return found


def validate(doc: dict, cache: Optional[Path] = None) -> None:
    """Raises ValueError naming the object and the field unless ``doc`` is a valid
    ``monitoring.coreos.com/v1`` object of a kind in :data:`KINDS`."""
    import jsonschema

    group, _, version = doc.get("apiVersion", "").partition("/")
    name = f"{doc.get('kind')} {(doc.get('metadata') or {}).get('name')}"
    if group != "monitoring.coreos.com" or doc.get("kind") not in KINDS:
        raise ValueError(f"{name}: not a Prometheus Operator kind driftgate writes ({doc.get('apiVersion')})")
    sch = schema(doc["kind"], version, cache)
    spec_only = {k: v for k, v in doc.items() if k != "metadata"}  # metadata: the API server's ObjectMeta
    try:
        jsonschema.validate(
            spec_only, dict(sch, properties={k: v for k, v in sch["properties"].items() if k != "metadata"})
        )
    except jsonschema.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path)
        raise ValueError(f"{name}: {where}: {exc.message}") from None
    extra = unknown_fields(spec_only, sch)
    if extra:
        raise ValueError(f"{name}: fields the {VERSION} CRD does not define: {', '.join(extra)}")
