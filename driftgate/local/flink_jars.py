"""Flink's runtime jars and Beam's Flink job server in the engine cache
(``driftgate.local.engines``): the pins in ``engines/flink/pom.xml``, where each
lands, what is missing, and fetching them.

- The cluster's runtime: ``deps/lib/*.jar`` (``flink-dist`` and the rest of a
  distribution's ``lib/``) and ``deps/bin/bash-java-utils.jar`` of PyPI's
  ``apache-flink-libraries``, downloaded with ``pip download --no-deps`` and
  unpacked; PyFlink (``apache-flink``, which pins an older apache-beam) never
  enters the venv.
- Beam's Flink job server ``org.apache.beam:beam-runners-flink-<flink>-job-server``
  at the venv's Beam version: one shaded jar, ``mvn dependency:copy-dependencies
  -DexcludeTransitive=true``; or a jar named by ``$DRIFTGATE_FLINK_JOB_SERVER_JAR``.
  When Maven refuses it, the refusal is kept in ``refused.txt`` beside where the
  jar belongs (delete it to try again): the cluster runs without the jar, Beam on
  Flink does not, and :func:`job_server_missing` says why.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Callable, Optional

from driftgate.local import engines

POM = engines.ENGINES_SRC / "flink" / "pom.xml"
JOB_SERVER_ENV = "DRIFTGATE_FLINK_JOB_SERVER_JAR"


def _pin(name: str) -> str:
    return re.search(rf"<{re.escape(name)}>([^<]+)</{re.escape(name)}>", POM.read_text()).group(1)


def version() -> str:
    """Flink's minor version (``--flink_version``): the job server's and the cluster's."""
    return _pin("flink.version")


def libraries_version() -> str:
    """The ``apache-flink-libraries`` release whose jars run the cluster."""
    return _pin("flink.libraries.version")


def beam_version() -> str:
    return _pin("beam.version")


def home(cache: Path) -> Path:
    """``lib/`` (the runtime jars), ``bin/bash-java-utils.jar``."""
    return cache / f"flink-{libraries_version()}"


def job_server_jar(cache: Path) -> Path:
    given = os.environ.get(JOB_SERVER_ENV)
    if given:
        return Path(given)
    name = f"beam-runners-flink-{version()}-job-server-{beam_version()}.jar"
    return cache / f"beam-flink-job-server-{beam_version()}" / name


def runtime_missing(cache: Path) -> Optional[str]:
    """None when the cluster can start (Java and Flink's jars); else why not."""
    if engines.java() is None:
        return "no java on PATH (Flink needs Java 11 or 17: apt-get install openjdk-17-jre-headless)"
    if not (home(cache) / ".done").exists():
        return f"Flink {libraries_version()} jars not in {home(cache)}; run: {engines.FETCH_HINT}"
    return None


def missing(cache: Path) -> Optional[str]:
    """:func:`runtime_missing`, or the job server never tried (a refusal is
    remembered in ``refused.txt``: delete it to try again)."""
    left = runtime_missing(cache)
    if left is not None:
        return left
    jar = job_server_jar(cache)
    if not jar.exists() and not (jar.parent / "refused.txt").exists():
        return f"Beam's Flink job server not fetched yet ({jar.name}); run: {engines.FETCH_HINT}"
    return None


def job_server_missing(cache: Path) -> Optional[str]:
    """None when Beam can submit to Flink (the job-server jar is here); else why not."""
    jar = job_server_jar(cache)
    if jar.exists():
        return None
    refused = jar.parent / "refused.txt"
    if refused.exists():
        return f"Beam's Flink job server {jar.name} could not be fetched: {refused.read_text().strip()}"
    return f"Beam's Flink job server {jar.name} is not in {jar.parent}; run: {engines.FETCH_HINT}"


def fetch(cache: Path, progress: Callable[[str], None]) -> None:
    if not (home(cache) / ".done").exists():
        _fetch_runtime(home(cache), progress)
    jar = job_server_jar(cache)
    if jar.exists():
        return
    try:
        engines.mvn_copy(POM, jar.parent, progress, "-U", "-DexcludeTransitive=true")
    except engines.EngineMissing as exc:
        # the cluster still runs; Beam on Flink waits for the jar (tests skip, saying this)
        why = _refusal(str(exc))
        (jar.parent / "refused.txt").write_text(why + "\n")
        progress(f"   Beam's Flink job server not fetched (the cluster runs without it): {why}")
        return
    (jar.parent / "refused.txt").unlink(missing_ok=True)


def _refusal(text: str) -> str:
    """One line from mvn's failure: the artifact it could not find, and the command."""
    found = re.search(r"(?:Could not find artifact|not find artifact) (\S+)|(\S+) was not found", text)
    command = text.rsplit("command: ", 1)[-1].strip() if "command: " in text else ""
    what = f"mvn found no {found.group(1) or found.group(2)}" if found else text.strip().splitlines()[0][:300]
    return f"{what} (command: {command}; set ${JOB_SERVER_ENV} to a jar got elsewhere)"


def _fetch_runtime(out: Path, progress: Callable[[str], None]) -> None:
    """``deps/lib/*.jar`` and ``deps/bin/bash-java-utils.jar`` of PyPI's
    apache-flink-libraries, downloaded with pip (no dependencies, nothing installed)."""
    spec = f"apache-flink-libraries=={libraries_version()}"
    out.parent.mkdir(parents=True, exist_ok=True)
    progress(f"   pip download --no-deps {spec}")
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".download-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", spec, "-d", tmp]
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        got = sorted(Path(tmp).iterdir())
        if res.returncode != 0 or not got:
            raise engines.EngineMissing(f"pip could not fetch {spec}: {res.stdout.strip()[-800:]}")
        shutil.rmtree(out, ignore_errors=True)
        (out / "lib").mkdir(parents=True)
        (out / "bin").mkdir()
        with tarfile.open(got[0]) as sdist:  # an sdist: deps/{lib,bin}/*.jar under its folder
            for m in sdist.getmembers():
                parts = m.name.split("/")
                if m.isfile() and "deps" in parts and m.name.endswith(".jar") and parts[-2] in ("lib", "bin"):
                    with open(out / parts[-2] / parts[-1], "wb") as fh:
                        shutil.copyfileobj(sdist.extractfile(m), fh)
    if not list((out / "lib").glob("flink-dist-*.jar")) or not (out / "bin" / "bash-java-utils.jar").exists():
        raise engines.EngineMissing(f"{spec} held no lib/flink-dist-*.jar or bin/bash-java-utils.jar")
    engines.stamp(out / ".done")
