"""The pipeline image's install, built on this machine without Docker. Test support
for ``tests/pipelines/test_image.py`` and the conformance suite.

``kubeflow/Dockerfile`` copies a set of files and folders from the repository into
its ``WORKDIR`` (``/driftgate``) and runs ``python -m pip install ... .`` there.
``build_image_install`` does the same from the Dockerfile's own ``COPY`` / ``WORKDIR``
/ ``RUN`` lines: it stages exactly the copy set into ``dest/project`` (the image's
WORKDIR) and installs it with the RUN line's pip arguments, run in that folder, plus
``--no-deps --no-build-isolation --target dest/site``: the TFX 1.16 stack is the base
image's (``tensorflow/tfx:1.16.0``), and here the venv's, so nothing else is installed
and the build uses the venv's setuptools, offline.

The venv holds driftgate as an *editable* install (``pip install -e .``):
``__editable__.driftgate-0.1.0.pth`` runs ``__editable___driftgate_0_1_0_finder.install()``,
which appends a finder to ``sys.meta_path`` mapping each top-level package
(``driftgate``, ``pipelines``, ...) to the checkout. A process given only
``PYTHONPATH=dest/site`` would still import any package missing from the site
from the checkout. ``ImageInstall.env()`` therefore also puts a ``sitecustomize``
first on ``PYTHONPATH`` (it runs after the ``.pth`` files) that removes every
``sys.meta_path`` finder and ``sys.path_hooks`` hook whose module maps a package
into the checkout, and every ``sys.path`` entry at or under the checkout. With
it, the venv's interpreter imports the project's packages from ``dest/site``
only, and the base image's (the venv's) third-party packages as before.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "kubeflow" / "Dockerfile"
SPECS = sorted((ROOT / "kubeflow" / "pipelines").glob("*.yaml"))  # the committed specs
BLOCK_ENV = "DRIFTGATE_IMAGE_BLOCKED_ROOT"  # the checkout the sitecustomize hides

SITECUSTOMIZE = '''"""Written by tests/pipelines/image.py: hides the checkout named by
$DRIFTGATE_IMAGE_BLOCKED_ROOT (the venv's editable driftgate install) from this
process, so the project's packages import from the image install on PYTHONPATH."""
import os
import sys


def _hide(root):
    root = os.path.realpath(root)
    prefix = os.path.realpath(sys.prefix)  # the venv may live in the checkout (.venv): keep it

    def under(p, top=root):
        try:
            p = os.path.realpath(os.fspath(p))
        except (TypeError, ValueError):
            return False
        return p == top or p.startswith(top + os.sep)

    def maps_into_checkout(obj):
        mod = sys.modules.get(getattr(obj, "__module__", "") or "")
        mapping = getattr(mod, "MAPPING", None)
        return isinstance(mapping, dict) and any(under(v) for v in mapping.values())

    def editable_module(obj):
        return (getattr(obj, "__module__", "") or "").startswith("__editable__")

    sys.meta_path[:] = [f for f in sys.meta_path if not (editable_module(f) and maps_into_checkout(f))]
    sys.path_hooks[:] = [
        h
        for h in sys.path_hooks
        if not (editable_module(h) and maps_into_checkout(getattr(h, "__self__", h)))
    ]
    sys.path[:] = [p for p in sys.path if not (p and under(p) and not under(p, prefix))]
    sys.path_importer_cache.clear()


if os.environ.get("DRIFTGATE_IMAGE_BLOCKED_ROOT"):
    _hide(os.environ["DRIFTGATE_IMAGE_BLOCKED_ROOT"])
'''


def _instructions(dockerfile: Path) -> List[Tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined as
    Docker's parser joins them (the backslash and newline removed), comments dropped."""
    out: List[Tuple[str, str]] = []
    pending = ""
    for line in Path(dockerfile).read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if pending and line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction is dropped
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1]
            continue
        pending += line
        word, _, args = pending.strip().partition(" ")
        out.append((word.upper(), args.strip()))
        pending = ""
    if pending.strip():
        word, _, args = pending.strip().partition(" ")
        out.append((word.upper(), args.strip()))
    return out


def workdir(dockerfile: Path = DOCKERFILE) -> str:
    """The last ``WORKDIR`` before the ``RUN ... pip install`` (``/`` if none)."""
    current = PurePosixPath("/")
    for word, args in _instructions(dockerfile):
        if word == "WORKDIR":
            current = current / args.strip()
    return str(current)


def copy_set(dockerfile: Path = DOCKERFILE) -> List[Tuple[str, str]]:
    """``(src, dst)`` of every ``COPY`` line: ``src`` relative to the build
    context (the repository root), ``dst`` an absolute image path, resolved
    against the ``WORKDIR`` in force at that line. A source folder's *contents*
    go to ``dst``; a file into a ``dst`` ending in ``/`` (or with several
    sources) goes to ``dst/<name>``. ``--chown``-style flags are ignored;
    ``COPY --from`` (another stage) is refused."""
    current = PurePosixPath("/")
    out: List[Tuple[str, str]] = []
    for word, args in _instructions(dockerfile):
        if word == "WORKDIR":
            current = current / args.strip()
        elif word in ("COPY", "ADD"):
            if word == "ADD":
                raise NotImplementedError("ADD (URLs, archives) is not staged; use COPY")
            parts = json.loads(args) if args.startswith("[") else shlex.split(args)
            flags = [p for p in parts if p.startswith("--")]
            if any(f.startswith("--from") for f in flags):
                raise NotImplementedError(f"COPY {args}: another build stage")
            parts = [p for p in parts if not p.startswith("--")]
            *sources, dst = parts
            into_dir = dst.endswith("/") or len(sources) > 1
            base = current / dst
            for src in sources:
                if any(c in src for c in "*?["):
                    raise NotImplementedError(f"COPY {src}: wildcards are not staged")
                is_dir = (ROOT / src).is_dir()
                target = base if is_dir or not into_dir else base / PurePosixPath(src).name
                out.append((src, str(target)))
    return out


_dockerfile_copy_set = copy_set  # build_image_install's argument of that name shadows it


def install_command(dockerfile: Path = DOCKERFILE) -> List[str]:
    """The ``python -m pip install ...`` command of the Dockerfile's ``RUN`` line,
    as an argument list (up to the first ``&&``)."""
    for word, args in _instructions(dockerfile):
        if word != "RUN":
            continue
        for command in re.split(r"&&|;", args):
            argv = shlex.split(command)
            if argv[:4] == ["python", "-m", "pip", "install"]:
                return argv
    raise ValueError(f"{dockerfile}: no RUN python -m pip install line")


def smoke_command(dockerfile: Path = DOCKERFILE) -> List[str]:
    """The ``python -c ...`` the ``RUN`` line runs after installing."""
    for word, args in _instructions(dockerfile):
        if word != "RUN":
            continue
        for command in args.split("&&"):
            argv = shlex.split(command)
            if argv[:2] == ["python", "-c"]:
                return argv
    raise ValueError(f"{dockerfile}: no RUN python -c line")


@dataclass
class ImageInstall:
    """The image's project folder and its install, on this machine."""

    project_dir: Path  # the image's WORKDIR (/driftgate): schemas are read from <project_dir>/schemas
    site: Path  # where pip installed the project's packages (the image's site-packages, for them)
    shim: Path  # holds the sitecustomize that hides the checkout
    workdir: str  # the image path project_dir stands for
    seconds: float  # staging + install wall time

    def env(self) -> Dict[str, str]:
        """Environment for ``sys.executable`` so it imports the project's packages
        from ``site`` only (never the checkout): replaces any inherited PYTHONPATH."""
        return {
            "PYTHONPATH": os.pathsep.join([str(self.shim), str(self.site)]),
            BLOCK_ENV: str(ROOT),
            "PYTHONNOUSERSITE": "1",
        }

    def python(self, code: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
        """``python -c code`` in this install (cwd must not be the checkout)."""
        env = dict(os.environ, **self.env())
        return subprocess.run(
            [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, **kwargs
        )


def _stage(pairs: Sequence[Tuple[str, str]], source: Path, project: Path, wd: str) -> None:
    wd_path = PurePosixPath(wd)
    for src, dst in pairs:
        rel = PurePosixPath(dst).relative_to(wd_path)  # a COPY outside WORKDIR is not staged
        target = project / rel
        origin = source / src
        if origin.is_dir():
            shutil.copytree(origin, target, dirs_exist_ok=True)
        elif origin.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)
        else:
            raise FileNotFoundError(f"COPY {src}: not in {source} (the docker build would fail)")


def build_image_install(
    dockerfile: Path,
    dest: Path,
    copy_set: Optional[Sequence[Tuple[str, str]]] = None,
    source: Path = ROOT,
) -> ImageInstall:
    """Stages the Dockerfile's copy set (or ``copy_set``) from ``source`` (the
    build context: the repository root; an earlier ``project_dir`` works too, to
    reuse a staged tree) into ``dest/project`` and installs it as the RUN line
    does, into ``dest/site``. Raises ``CalledProcessError`` if pip fails."""
    t0 = time.time()
    dockerfile = Path(dockerfile)
    pairs = list(_dockerfile_copy_set(dockerfile) if copy_set is None else copy_set)
    wd = workdir(dockerfile)
    dest = Path(dest)
    project, site, shim = dest / "project", dest / "site", dest / "shim"
    for d in (project, site, shim):
        if d.exists():
            shutil.rmtree(d)
    project.mkdir(parents=True)
    shim.mkdir(parents=True)
    _stage(pairs, Path(source), project, wd)
    (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
    argv = install_command(dockerfile)
    assert argv[0] == "python"
    # the base image's TFX stack stands in as the venv's: nothing else installed, no index, no isolation
    cmd = [sys.executable, *argv[1:], "--no-deps", "--no-build-isolation", "--target", str(site)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout, proc.stderr)
    return ImageInstall(project, site, shim, wd, round(time.time() - t0, 1))


def _walk(obj):
    if isinstance(obj, dict):
        yield obj
        for v in obj.values():
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)


def spec_entries() -> dict:
    """What the committed specs make a task import: ``{"command": {module},
    "classes": {executor class path}, "functions": {run_fn-like path}}``."""
    from pipelines.kubeflow_runner import read_spec

    out = {"command": set(), "classes": set(), "functions": set()}
    assert SPECS, "no committed specs"
    for path in SPECS:
        pipeline, _ = read_spec(path.read_text())
        for name, executor in pipeline["deploymentSpec"]["executors"].items():
            container = executor.get("container")
            if container is None:
                continue  # an importer
            command = container["command"]
            assert command[:2] == ["python", "-m"], (path.name, name, command)
            out["command"].add(command[2])
            args = container["args"]
            for i, arg in enumerate(args):
                key, eq, value = arg.partition("=")
                if key.endswith("class_path"):
                    out["classes"].add(value if eq else args[i + 1])
        for node in _walk(pipeline):
            for key, value in node.items():
                constant = value.get("runtimeValue", {}).get("constant") if isinstance(value, dict) else None
                if key.endswith("_fn") and isinstance(constant, str):
                    out["functions"].add(constant)
    return out
