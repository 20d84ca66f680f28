"""The pipeline image (``kubeflow/Dockerfile``) holds what the Kubeflow tasks import,
checked without Docker.

Every task of a committed spec (``kubeflow/pipelines/<REGION>.yaml``) runs
``python -m pipelines.kubeflow_entrypoint --executor_class_path X ...`` in the
image; the trainer's executor then loads ``run_fn`` (``trainer.task.run_fn``).
``tests/pipelines/image.py`` stages exactly the Dockerfile's ``COPY`` set into a
folder standing for its ``WORKDIR`` and installs it with its ``RUN`` line's pip
arguments into a separate site folder. The tests here check:

- statically: every top-level package setup.py's ``find_packages`` installs, and
  every project package imported (``ast``, followed recursively, function-level
  imports included) from the entrypoint and from every module the specs name,
  is in the copy set; the Dockerfile's smoke import names exactly those modules;
- in the install: a process whose imports of the project's packages can only
  come from that site (the venv's editable install hidden) resolves the
  entrypoint and every executor class / ``run_fn`` the specs name as TFX's
  entrypoint does (``import_utils``), with every project module loaded from the
  site and none from the checkout; the Dockerfile's own smoke command passes;
  every image path the specs name under the WORKDIR (the schemas) exists;
- that the check can fail: an install of the copy set without ``driftgate/`` (the
  Dockerfile before it copied it) fails the same import with
  ``ModuleNotFoundError: No module named 'driftgate'``, and without the hiding
  ``sitecustomize`` that process would have imported driftgate from the checkout.

What this does NOT prove: the base image ``tensorflow/tfx:1.16.0`` itself (its
OS, its Python, its TFX install and what pip would resolve against it: the
venv's interpreter and packages stand in, and the install runs with
``--no-deps``), Docker's ``COPY`` semantics beyond plain files and folders
(``.dockerignore``, wildcards, ownership, symlinks, ``ADD``), and that a task
*runs* in the image (the conformance suite runs them from this install). In a
real pod the working directory is the image's WORKDIR, so ``python -m`` finds
the project's packages in ``/driftgate`` (the copied sources) before
site-packages; both come from the same copy set, which is what is checked.
"""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from tests.pipelines import image

ROOT = image.ROOT
SPECS = image.SPECS
spec_entries = image.spec_entries


def _setup_top_level_packages() -> set:
    """Top-level packages of setup.py's ``find_packages(include=[...])``, run on the checkout."""
    from setuptools import find_packages

    tree = ast.parse((ROOT / "setup.py").read_text())
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", "")) == "find_packages"
    ]
    assert len(calls) == 1, "setup.py: one find_packages call"
    kwargs = {k.arg: ast.literal_eval(k.value) for k in calls[0].keywords}
    return {p.split(".")[0] for p in find_packages(where=str(ROOT), **kwargs)}


PROJECT = _setup_top_level_packages()


def _spec_modules() -> set:
    e = spec_entries()
    return e["command"] | {p.rsplit(".", 1)[0] for p in e["classes"] | e["functions"]}


def _module_file(name: str):
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imported_names(path: Path, module: str) -> set:
    """Every module name an ``import`` anywhere in the file may load (for
    ``from a import b``: ``a`` and ``a.b``, b possibly a submodule)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names.add(target)
            names.update(f"{target}.{a.name}" for a in node.names if a.name != "*")
    return names


def project_imports(roots) -> set:
    """Every project module reached from ``roots`` by static imports, with the
    packages whose ``__init__`` each import runs."""
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        parts = name.split(".")
        if parts[0] not in PROJECT:
            continue
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in seen:
                continue
            path = _module_file(prefix)
            if path is None:
                continue  # an attribute (from a.b import function), not a module
            seen.add(prefix)
            todo.extend(_imported_names(path, prefix))
    return seen


def _copied_top_levels(pairs) -> set:
    wd = PurePosixPath(image.workdir())
    out = set()
    for src, dst in pairs:
        if (ROOT / src).is_dir():
            rel = PurePosixPath(dst).relative_to(wd)
            out.add(rel.parts[0] if rel.parts else PurePosixPath(src).parts[0])
    return out


def test_the_copy_set_holds_every_package_setup_py_installs():
    assert {"driftgate", "pipelines", "components", "trainer", "serving", "backtest"} <= PROJECT
    copied = _copied_top_levels(image.copy_set())
    assert (
        PROJECT <= copied
    ), f"setup.py installs {sorted(PROJECT - copied)}, the Dockerfile does not COPY them"
    for src, _ in image.copy_set():
        assert (ROOT / src).exists(), f"COPY {src}: not in the repository"


def test_the_copy_set_holds_every_project_package_the_tasks_import():
    modules = _spec_modules()
    reached = project_imports(modules)
    assert {"pipelines.kubeflow_entrypoint", "trainer.task", "components.gate.component"} <= reached
    top = {m.split(".")[0] for m in reached}
    assert "driftgate" in top  # the executors reach driftgate.core (what the image used to miss)
    copied = _copied_top_levels(image.copy_set())
    assert top <= copied, f"tasks import {sorted(top - copied)}, the Dockerfile does not COPY them"


def test_the_dockerfile_smoke_import_names_every_module_the_specs_name():
    argv = image.smoke_command()
    code = ast.parse(argv[2])
    smoked = {a.name for n in ast.walk(code) if isinstance(n, ast.Import) for a in n.names}
    assert smoked == _spec_modules()


def test_the_install_parsing_follows_the_dockerfile():
    assert image.workdir() == "/driftgate"
    assert image.install_command()[:4] == ["python", "-m", "pip", "install"]
    assert image.install_command()[-1] == "."
    assert ("driftgate/", "/driftgate/driftgate") in image.copy_set()
    assert ("setup.py", "/driftgate/setup.py") in image.copy_set()


CHECK = """
import json, os, sys
from tfx.utils import import_utils

entries = json.loads(sys.argv[1])
out = {}
for module in entries["command"]:
    __import__(module)
    out[module] = sys.modules[module].__file__
for path in entries["classes"]:
    cls = import_utils.import_class_by_path(path)
    out[path] = sys.modules[cls.__module__].__file__
for path in entries["functions"]:
    module, _, name = path.rpartition(".")
    fn = import_utils.import_func_from_module(module, name)
    out[path] = sys.modules[fn.__module__].__file__
top = set(entries["project"])
root = os.path.realpath(entries["checkout"]) + os.sep
prefix = os.path.realpath(sys.prefix) + os.sep  # the venv may live in the checkout (.venv)
loaded = {n: getattr(m, "__file__", None) for n, m in list(sys.modules.items())}
real = {n: os.path.realpath(f) for n, f in loaded.items() if f}
out["@project"] = {n: f for n, f in loaded.items() if n.split(".")[0] in top}
out["@checkout"] = sorted(n for n, f in real.items() if f.startswith(root) and not f.startswith(prefix))
print("@@" + json.dumps(out))
"""


def _check(install, cwd: Path) -> subprocess.CompletedProcess:
    entries = {k: sorted(v) for k, v in spec_entries().items()}
    entries.update(project=sorted(PROJECT), checkout=str(ROOT))
    env = dict(os.environ, **install.env())
    return subprocess.run(
        [sys.executable, "-c", CHECK, json.dumps(entries)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _under(path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


@pytest.fixture(scope="module")
def imported(image_install, tmp_path_factory):
    proc = _check(image_install, tmp_path_factory.mktemp("image-cwd"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.split("@@", 1)[1])


def test_the_image_install_is_a_separate_site(image_install):
    assert not _under(image_install.site, ROOT) and not _under(image_install.project_dir, ROOT)
    assert (image_install.site / "driftgate" / "__init__.py").is_file()
    assert (image_install.project_dir / "schemas").is_dir()
    proc = image_install.python(
        "import driftgate, pipelines; print(driftgate.__file__); print(pipelines.__file__)",
        cwd=image_install.site.parent,
    )
    assert proc.returncode == 0, proc.stderr
    files = proc.stdout.split()
    assert files and all(_under(f, image_install.site) for f in files), files


def test_every_class_the_specs_name_imports_from_the_image_site(imported, image_install):
    entries = spec_entries()
    assert entries["command"] == {"pipelines.kubeflow_entrypoint"}
    assert "components.gate.component.SpanGate_Executor" in entries["classes"]
    assert entries["functions"] == {"trainer.task.run_fn"}
    for path in entries["command"] | entries["classes"] | entries["functions"]:
        assert path in imported, path
        if path.split(".")[0] in PROJECT:
            assert _under(imported[path], image_install.site), (path, imported[path])
    project = imported["@project"]
    assert {m.split(".")[0] for m in project} >= {"driftgate", "pipelines", "components", "trainer"}
    outside = {n: f for n, f in project.items() if f and not _under(f, image_install.site)}
    assert not outside, f"project modules not from the image site: {outside}"
    assert imported["@checkout"] == [], "modules loaded from the checkout"


def test_the_dockerfile_smoke_command_passes_in_the_image_install(image_install, tmp_path):
    argv = image.smoke_command()
    env = dict(os.environ, **image_install.env())
    proc = subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_every_image_path_the_specs_name_is_in_the_staged_project(image_install):
    wd = image_install.workdir.rstrip("/")
    named = set()
    for path in SPECS:
        named.update(re.findall(rf"(?<![\w.]){re.escape(wd)}/[\w./-]+", path.read_text()))
    assert any("/schemas/" in p for p in named), named
    for p in named:
        assert (image_install.project_dir / p[len(wd) + 1 :]).exists(), p


@pytest.fixture(scope="module")
def without_driftgate(image_install, tmp_path_factory):
    """The copy set minus ``driftgate/`` (the Dockerfile as it was), staged from
    the already staged tree and installed the same way."""
    pairs = [(s, d) for s, d in image.copy_set() if PurePosixPath(s).parts[0] != "driftgate"]
    assert len(pairs) == len(image.copy_set()) - 1
    return image.build_image_install(
        image.DOCKERFILE,
        tmp_path_factory.mktemp("image-no-driftgate"),
        copy_set=pairs,
        source=image_install.project_dir,
    )


def test_without_driftgate_in_the_copy_set_the_import_fails(without_driftgate, tmp_path):
    assert not (without_driftgate.site / "driftgate").exists()
    proc = _check(without_driftgate, tmp_path)
    assert proc.returncode != 0
    assert "ModuleNotFoundError: No module named 'driftgate'" in proc.stderr, proc.stderr[-4000:]


def test_without_the_hiding_the_editable_install_would_supply_driftgate(without_driftgate, tmp_path):
    """Why ``env()`` needs its sitecustomize: PYTHONPATH alone leaves the venv's
    editable finder, which imports a package the site lacks from the checkout."""
    finders = list(Path(sys.prefix).glob("lib/python3*/site-packages/__editable__*driftgate*finder.py"))
    if not finders:
        pytest.skip("the venv has no editable driftgate install (make venv: pip install -e .)")
    env = dict(os.environ, PYTHONPATH=str(without_driftgate.site))
    proc = subprocess.run(
        [sys.executable, "-c", "import driftgate; print(driftgate.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and _under(proc.stdout.strip(), ROOT), (proc.stdout, proc.stderr)
