"""Where the local engines' jars and binaries live, and fetching them once.

The cache is ``$DRIFTGATE_ENGINES_DIR`` or ``.engines/`` at the checkout's root
(git-ignored). Each engine module (``kafka``, ``flink``, ``gcs``, ``operator_crds``) defines
``fetch(cache, progress)`` (idempotent: a ``.done`` stamp per version) and
``missing(cache)`` (None when ready, else one line saying what is missing and
the command that fetches it). Registries are reached through their own clients
(``mvn``, ``go``, ``pip``) by package name; no registry host is written here.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Callable, List, Optional

from driftgate.core.errors import DriftgateError

ENV = "DRIFTGATE_ENGINES_DIR"
CHECKOUT = Path(__file__).resolve().parents[2]
ENGINES_SRC = CHECKOUT / "engines"  # the POMs and pins (in the repository)
NAMES = ("kafka", "flink", "gcs", "operator_crds")
FETCH_HINT = "make engines (or: python -m driftgate.local.engines)"


class EngineMissing(DriftgateError, RuntimeError):
    """An engine's jars or binary are not in the cache, or fetching them failed."""


class ToolMissing(EngineMissing):
    """A tool that fetches or runs an engine (java, mvn, go) is not installed: the
    engine is left out (its tests skip or fall back, and say why)."""


def cache_dir() -> Path:
    return Path(os.environ.get(ENV) or CHECKOUT / ".engines")


def java() -> Optional[str]:
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


def need_tool(name: str, what: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(
            f"{what} needs `{name}` on PATH (Debian: apt-get install {_DEBIAN.get(name, name)})"
        )
    return path


_DEBIAN = {"mvn": "maven", "java": "openjdk-17-jre-headless", "go": "golang"}


def mvn_copy(pom: Path, out: Path, progress: Callable[[str], None], *props: str) -> None:
    """``mvn dependency:copy-dependencies`` of ``pom`` into ``out`` (runtime scope)."""
    mvn = need_tool("mvn", f"fetching {pom.parent.name}")
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={out}",
        "-DincludeScope=runtime",
        *props,
    ]
    progress(f"   mvn dependency:copy-dependencies -f {pom.relative_to(CHECKOUT)}")
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if res.returncode != 0:
        raise EngineMissing(
            f"mvn could not fetch {pom.relative_to(CHECKOUT)}: {res.stdout.strip()[-800:]}\n"
            f"command: {' '.join(cmd)}"
        )


def free_ports(n: int) -> List[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def die_with_parent() -> None:
    """In the child before exec: killed when the process that started it dies
    (so a killed test run or CLI leaves no broker behind)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    os.setsid()


def stop(proc: Optional[subprocess.Popen], timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; waits for the process either way."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def stamp(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("ok\n")


def _module(name: str):
    import importlib

    return importlib.import_module(f"driftgate.local.{name}")


def fetch(names: Optional[List[str]] = None, progress: Callable[[str], None] = print) -> List[str]:
    """Fetches each named engine (default: all) into the cache; returns the lines to show."""
    cache = cache_dir()
    names = list(names or NAMES)
    done = []
    for name in names:
        mod = _module(name)
        if mod.missing(cache) is None:
            done.append(f"{name}: ready in {cache}")
            continue
        progress(f">> fetching {name} into {cache}")
        try:
            mod.fetch(cache, progress)
        except ToolMissing as exc:
            done.append(f"{name}: not fetched: {exc}")
            continue
        left = mod.missing(cache)
        if left is not None:
            raise EngineMissing(f"{name}: still missing after fetching: {left}")
        done.append(f"{name}: fetched into {cache}")
    return done


def main(argv: Optional[List[str]] = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(NAMES)
    try:
        for line in fetch(names, progress=lambda s: print(s, file=sys.stderr)):
            print(line, file=sys.stderr)
    except DriftgateError as exc:
        print(f"driftgate: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
