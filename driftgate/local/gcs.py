"""fake-gcs-server (the Go module ``github.com/fsouza/fake-gcs-server``) on
loopback: a Cloud Storage JSON API server that enforces generation
preconditions (``ifGenerationMatch`` answers 412 when stale), so a
compare-and-swap on ``gs://`` is tested against a server that refuses a stale
write.

Built once with ``go install <module>@<VERSION>`` into the engine cache
(``<cache>/gcs-<VERSION>/bin/``; a new pin builds anew), then started as::

    fake-gcs-server -scheme http -host 127.0.0.1 -port P -backend memory
                    -public-host 127.0.0.1:P -external-url http://127.0.0.1:P

(flags checked against the pinned version's ``-help``). Clients find it through
``STORAGE_EMULATOR_HOST`` (:meth:`Server.env`). TensorFlow's own ``gs://`` file
system does not read that variable: ``tensorflow=True`` also starts
:mod:`driftgate.local.gcs_gateway`, and :meth:`Server.env` then names what
TensorFlow needs to reach the server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional, Sequence

from driftgate.local import engines

GO_MODULE = "github.com/fsouza/fake-gcs-server"
VERSION = "v1.56.1"
NAME = "fake-gcs-server"
ENV = "STORAGE_EMULATOR_HOST"
BACKENDS = ("memory", "filesystem")


def home(cache: Path) -> Path:
    return Path(cache) / f"gcs-{VERSION}"


def binary(cache: Path) -> Path:
    return home(cache) / "bin" / NAME


def missing(cache: Path) -> Optional[str]:
    if binary(cache).is_file() and (home(cache) / ".done").exists():
        return None
    how = engines.FETCH_HINT if shutil.which("go") else f"apt-get install golang, then {engines.FETCH_HINT}"
    return f"{NAME} {VERSION} not built in {home(cache)} (go install {GO_MODULE}@{VERSION}); run: {how}"


def fetch(cache: Path, progress: Callable[[str], None]) -> None:
    """``go install <module>@<VERSION>`` with GOBIN in the cache (idempotent)."""
    if missing(cache) is None:
        return
    go = engines.need_tool("go", f"building {NAME}")
    out = binary(cache).parent
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(out), GOFLAGS="-mod=mod")
    cmd = [go, "install", f"{GO_MODULE}@{VERSION}"]
    progress(f"   GOBIN={out} go install {GO_MODULE}@{VERSION}")
    res = subprocess.run(cmd, cwd=out, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if res.returncode != 0 or not binary(cache).is_file():
        raise engines.EngineMissing(
            f"go could not build {GO_MODULE}@{VERSION}: {res.stdout.strip()[-800:]}\ncommand: {' '.join(cmd)}"
        )
    (home(cache) / ".done").write_text(f"{GO_MODULE}@{VERSION}\n")


def ensure(progress: Callable[[str], None] = lambda s: None) -> Path:
    """The binary, built first when ``go`` is here; EngineMissing otherwise."""
    cache = engines.cache_dir()
    if missing(cache) is not None:
        engines.need_tool("go", f"building {NAME} ({missing(cache)})")
        fetch(cache, progress)
    return binary(cache)


class Server:
    """One fake-gcs-server process on ``127.0.0.1:port`` holding ``buckets``."""

    def __init__(
        self,
        port: Optional[int] = None,
        buckets: Sequence[str] = (),
        backend: str = "memory",
        directory: Optional[str] = None,
        tensorflow: bool = False,
    ):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        self.port = port or engines.free_ports(1)[0]
        self.buckets = list(buckets)
        self.backend = backend
        self._tmp = tempfile.TemporaryDirectory(prefix="driftgate-gcs-")
        self.directory = Path(directory or self._tmp.name)
        self.proc: Optional[subprocess.Popen] = None
        self.tensorflow = tensorflow
        self.gateway = None  # gcs_gateway.TensorFlowGateway when tensorflow

    @property
    def url(self) -> str:
        """What ``STORAGE_EMULATOR_HOST`` holds."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def env(self) -> Dict[str, str]:
        """Environment for a client of this server (with the gateway: also TensorFlow's gs://)."""
        env = {ENV: self.url}
        if self.gateway is not None:
            env.update(self.gateway.env())
        return env

    def command(self, binary_path: Path) -> list:
        host = f"127.0.0.1:{self.port}"
        cmd = [str(binary_path), "-scheme", "http", "-host", "127.0.0.1", "-port", str(self.port)]
        cmd += ["-backend", self.backend, "-public-host", host, "-external-url", self.url]
        if self.backend == "filesystem":
            cmd += ["-filesystem-root", str(self.directory / "storage")]
        return cmd + ["-log-level", "warn"]

    def start(self, timeout_s: float = 30.0, progress: Callable[[str], None] = lambda s: None) -> "Server":
        binary_path = ensure(progress)
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / "server.log", "ab") as log:
            self.proc = subprocess.Popen(
                self.command(binary_path),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=engines.die_with_parent,
            )
        self._wait_ready(timeout_s)
        for bucket in self.buckets:
            self.create_bucket(bucket)
        if self.tensorflow:
            from driftgate.local.gcs_gateway import TensorFlowGateway

            self.gateway = TensorFlowGateway(self.port, f"127.0.0.1:{self.port}", self.directory).start()
        progress(f"{NAME} {VERSION} at {self.url} (pid {self.pid}, {self.backend}); buckets: {self.buckets}")
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.time() + timeout_s
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=1).close()
                return
            except (urllib.error.URLError, OSError):
                if self.proc.poll() is not None or time.time() > deadline:
                    tail = (self.directory / "server.log").read_text(errors="replace")[-600:].strip()
                    self.stop()
                    raise RuntimeError(
                        f"{NAME} did not answer at {self.url}: {tail or '(no output)'}"
                    ) from None
                time.sleep(0.1)

    def client(self):
        """A Cloud Storage client of this server (anonymous, as a test or demo needs)."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="driftgate-local",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.url},
        )

    def create_bucket(self, name: str) -> None:
        from google.api_core import exceptions

        with contextlib.suppress(exceptions.Conflict):
            self.client().create_bucket(name)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL; waits until the process is gone."""
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        engines.stop(self.proc, timeout_s)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


@contextlib.contextmanager
def bucket_server(
    port: Optional[int] = None,
    buckets: Sequence[str] = (),
    backend: str = "memory",
    progress: Callable[[str], None] = lambda s: None,
    tensorflow: bool = False,
) -> Iterator[Server]:
    """A started :class:`Server`, stopped (no process left) on exit."""
    server = Server(port=port, buckets=buckets, backend=backend, tensorflow=tensorflow)
    try:
        yield server.start(progress=progress)
    finally:
        server.stop()
