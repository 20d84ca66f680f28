"""A real Apache Flink session cluster on loopback, and the Beam flags that run
TFX's Beam executors on it.

The cluster is Flink's own runtime: the jars of PyPI's ``apache-flink-libraries``
(``lib/flink-dist-*.jar`` and the rest of a distribution's ``lib/``), taken
without PyFlink (``apache-flink`` pins an older apache-beam; it never enters the
venv). One JobManager
(``org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint``) and
N TaskManagers (``org.apache.flink.runtime.taskexecutor.TaskManagerRunner``) run
with ``java -cp 'lib/*' ... --configDir conf``, as the distribution's
``bin/jobmanager.sh`` / ``bin/taskmanager.sh`` start them: the JVM sizes and the
TaskManager's resolved memory come from Flink's ``BashJavaUtils`` (what those
scripts call), and the Java 17 ``--add-opens`` flags from the distribution's
default ``config.yaml``.

Beam's Python FlinkRunner submits to that cluster through Beam's Flink job
server jar (``driftgate.local.flink_jars``: fetched with ``mvn``, or named by
``$DRIFTGATE_FLINK_JOB_SERVER_JAR``); :func:`beam_args` are the flags. The
cluster runs without the jar; Beam on Flink does not (:func:`job_server_missing`
says why).

For tests, demos and a developer's laptop only; a production cluster is the
Flink Kubernetes Operator's (``docs/performance.md``).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

from driftgate.local import engines
from driftgate.local.flink_jars import (  # noqa: F401 - the engine module's interface (engines.fetch)
    JOB_SERVER_ENV,
    fetch,
    home,
    job_server_jar,
    job_server_missing,
    libraries_version,
    missing,
    runtime_missing,
    version,
)

JOBMANAGER = "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"
TASKMANAGER = "org.apache.flink.runtime.taskexecutor.TaskManagerRunner"
BASH_JAVA_UTILS = "org.apache.flink.runtime.util.bash.BashJavaUtils"
# env.java.opts.all of Flink's default config.yaml: "required for Java 17 support"
_EXPORTS = (
    "java.base/sun.net.util java.rmi/sun.rmi.registry jdk.compiler/com.sun.tools.javac.api "
    "jdk.compiler/com.sun.tools.javac.file jdk.compiler/com.sun.tools.javac.parser "
    "jdk.compiler/com.sun.tools.javac.tree jdk.compiler/com.sun.tools.javac.util java.security.jgss/sun.security.krb5"
)
_OPENS = (
    "java.lang java.net java.io java.nio sun.nio.ch java.lang.reflect java.text java.time java.util "
    "java.util.concurrent java.util.concurrent.atomic java.util.concurrent.locks"
)
JAVA17_OPTS = [f"--add-exports={m}=ALL-UNNAMED" for m in _EXPORTS.split()] + [
    f"--add-opens=java.base/{p}=ALL-UNNAMED" for p in _OPENS.split()
]
LOG4J = """rootLogger.level = INFO
rootLogger.appenderRef.file.ref = MainAppender
logger.akka.name = akka
logger.akka.level = WARN
logger.pekko.name = org.apache.pekko
logger.pekko.level = WARN
logger.netty.name = org.jboss.netty.channel.DefaultChannelPipeline
logger.netty.level = ERROR
appender.main.name = MainAppender
appender.main.type = File
appender.main.append = true
appender.main.fileName = ${sys:log.file}
appender.main.layout.type = PatternLayout
appender.main.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
"""


def beam_args(
    master: str,
    parallelism: int = 2,
    environment: str = "LOOPBACK",
    worker_pool: Optional[str] = None,
    cache: Optional[Path] = None,
) -> List[str]:
    """A region's ``beam_args`` to run its Beam components on the session cluster
    at ``master`` (host:port of its REST API). LOOPBACK: the Python SDK harness
    runs in the submitting process (the TaskManagers reach it on loopback);
    EXTERNAL: in a worker pool at ``worker_pool`` (host:port, what a Kubernetes
    deployment runs as a sidecar beside each TaskManager)."""
    args = [
        "--runner=FlinkRunner",
        f"--flink_master={master}",
        f"--flink_version={version()}",
        f"--flink_job_server_jar={job_server_jar(cache or engines.cache_dir())}",
        f"--environment_type={environment}",
        f"--parallelism={parallelism}",
    ]
    if environment == "EXTERNAL":
        args.append(f"--environment_config={worker_pool or 'localhost:50000'}")
    return args


@dataclass
class FlinkCluster:
    """A JobManager and ``taskmanagers`` TaskManagers under ``directory``
    (``conf/``, ``jobmanager.log``, ``taskmanager-<i>.log``, each process's
    ``*.out``, the TaskManagers' ``tmp-<i>/``)."""

    taskmanagers: int = 2
    port: Optional[int] = None  # the REST port (what --flink_master names)
    directory: Optional[Path] = None
    slots: int = 1
    jobmanager_memory: str = "768m"
    taskmanager_memory: str = "1280m"
    procs: Dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self):
        if self.taskmanagers < 1:
            raise ValueError("a Flink cluster needs at least one TaskManager")
        self._tmp = None
        if self.directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="driftgate-flink-")
            self.directory = Path(self._tmp.name)
        self.directory = Path(self.directory)
        self.rpc_port = engines.free_ports(1)[0]
        if self.port is None:
            self.port = engines.free_ports(1)[0]

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def master(self) -> str:
        """``host:port`` for ``--flink_master``."""
        return f"127.0.0.1:{self.port}"

    def beam_args(self, parallelism: int = 2, **kw) -> List[str]:
        return beam_args(self.master, parallelism=parallelism, **kw)

    # -- configuration --------------------------------------------------------

    def config(self) -> Dict[str, str]:
        return {
            "jobmanager.rpc.address": "localhost",
            "jobmanager.rpc.port": str(self.rpc_port),
            "jobmanager.bind-host": "127.0.0.1",
            "jobmanager.memory.process.size": self.jobmanager_memory,
            "jobmanager.execution.failover-strategy": "region",
            "rest.address": "127.0.0.1",
            "rest.bind-address": "127.0.0.1",
            "rest.port": str(self.port),
            "blob.server.port": "0",
            "taskmanager.host": "localhost",
            "taskmanager.bind-host": "127.0.0.1",
            "taskmanager.numberOfTaskSlots": str(self.slots),
            "taskmanager.memory.process.size": self.taskmanager_memory,
            "parallelism.default": str(self.taskmanagers * self.slots),
            # a batch job runs at the parallelism it asks for (Flink 1.19's adaptive batch
            # scheduler would otherwise pick 1 for small inputs), so --parallelism=2 means 2
            "execution.batch.adaptive.auto-parallelism.enabled": "false",
            # a finished batch job stays listed by /jobs/overview for the test to read
            "jobstore.expiration-time": "3600",
            "web.tmpdir": str(self.directory / "web"),
            "io.tmp.dirs": str(self.directory / "tmp"),
        }

    def _write_config(self) -> Path:
        conf = self.directory / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "config.yaml").write_text("".join(f"{k}: {v}\n" for k, v in self.config().items()))
        (conf / "log4j.properties").write_text(LOG4J)
        for d in ("web", "tmp", "plugins"):
            (self.directory / d).mkdir(exist_ok=True)
        return conf

    def _java(self, main: str, log: str, *args: str, jvm: List[str] = (), cp: str = "") -> List[str]:
        java = engines.java()
        if java is None:
            raise engines.EngineMissing(runtime_missing(engines.cache_dir()))
        lib = home(engines.cache_dir()) / "lib"
        return [
            java,
            *jvm,
            *JAVA17_OPTS,
            "-Djava.awt.headless=true",
            f"-Dlog.file={self.directory / log}",
            f"-Dlog4j.configurationFile=file:{self.directory / 'conf' / 'log4j.properties'}",
            "-cp",
            f"{cp}{lib}/*",
            main,
            "--configDir",
            str(self.directory / "conf"),
            *args,
        ]

    def _resource_params(self) -> Dict[str, List[List[str]]]:
        """What ``bin/*.sh`` get from BashJavaUtils, for the JobManager (JM) and a
        TaskManager (TM): the JVM flags, then the resolved memory as ``-D key=value``."""
        bju = home(engines.cache_dir()) / "bin" / "bash-java-utils.jar"
        procs = {}
        for which in ("JM", "TM"):
            cmd = self._java(BASH_JAVA_UTILS, "bash-java-utils.log", jvm=["-Xmx128m"], cp=f"{bju}:")
            cmd.insert(cmd.index("--configDir"), f"GET_{which}_RESOURCE_PARAMS")
            procs[which] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = {}
        for which, proc in procs.items():
            text = proc.communicate(timeout=120)[0]
            prefix = "BASH_JAVA_UTILS_EXEC_RESULT:"
            found = [ln[len(prefix) :].split() for ln in text.splitlines() if ln.startswith(prefix)]
            if proc.returncode != 0 or len(found) < 2:
                raise RuntimeError(f"Flink's BashJavaUtils {which} failed: {text.strip()[-600:]}")
            out[which] = found[:2]
        return out

    # -- life cycle -----------------------------------------------------------

    def start(
        self, timeout_s: float = 90.0, progress: Callable[[str], None] = lambda s: None
    ) -> "FlinkCluster":
        left = runtime_missing(engines.cache_dir())
        if left is not None:
            raise engines.EngineMissing(left)
        self._write_config()
        params = self._resource_params()
        (jm_jvm, jm_dyn), (tm_jvm, tm_dyn) = params["JM"], params["TM"]
        self._spawn("jobmanager", self._java(JOBMANAGER, "jobmanager.log", *jm_dyn, jvm=jm_jvm))
        for i in range(1, self.taskmanagers + 1):
            tmp = self.directory / f"tmp-{i}"
            tmp.mkdir(exist_ok=True)
            args = [*tm_dyn, "-D", f"taskmanager.resource-id=taskmanager-{i}", "-D", f"io.tmp.dirs={tmp}"]
            self._spawn(
                f"taskmanager-{i}", self._java(TASKMANAGER, f"taskmanager-{i}.log", *args, jvm=tm_jvm)
            )
        progress(
            f"started a Flink {libraries_version()} JobManager and {self.taskmanagers} TaskManager(s) "
            f"in {self.directory}"
        )
        self.wait_ready(timeout_s)
        return self

    def _spawn(self, name: str, cmd: List[str]) -> None:
        out = open(self.directory / f"{name}.out", "ab")
        env = dict(os.environ, FLINK_PLUGINS_DIR=str(self.directory / "plugins"))  # none: no warning
        self.procs[name] = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=engines.die_with_parent
        )
        out.close()

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        """Until ``GET /taskmanagers`` lists every TaskManager with its slots free."""
        deadline = time.time() + timeout_s
        seen = 0
        while True:
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                tails = "; ".join(f"{n}: {self._tail(n)}" for n in dead)
                raise RuntimeError(f"Flink process(es) {dead} exited while starting: {tails}")
            with contextlib.suppress(OSError, ValueError):
                seen = len(self.get("/taskmanagers")["taskmanagers"])
                if seen >= self.taskmanagers:
                    return
            if time.time() > deadline:
                raise RuntimeError(
                    f"the Flink cluster at {self.rest_url} lists {seen} of {self.taskmanagers} "
                    f"TaskManagers after {timeout_s:.0f} s"
                )
            time.sleep(0.5)

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM to every process (TaskManagers first), SIGKILL what is left."""
        order = sorted(self.procs, key=lambda n: n == "jobmanager")
        for n in order:
            if self.procs[n].poll() is None:
                self.procs[n].terminate()
        deadline = time.time() + timeout_s
        for n in order:
            p = self.procs[n]
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _tail(self, name: str, n: int = 600) -> str:
        for path in (self.directory / f"{name}.log", self.directory / f"{name}.out"):
            if path.exists() and path.stat().st_size:
                text = path.read_text(errors="replace")
                errs = [ln for ln in text.splitlines() if "Exception" in ln or "ERROR" in ln]
                return (" | ".join(errs[-3:]) or text[-n:]).strip()[-n:]
        return "(no output)"

    # -- what the cluster says ------------------------------------------------

    def get(self, path: str, timeout_s: float = 5.0) -> dict:
        with urllib.request.urlopen(self.rest_url + path, timeout=timeout_s) as resp:
            return json.loads(resp.read())

    def jobs(self) -> List[dict]:
        """``GET /jobs/overview``: each job's jid, name, state, start and end time, tasks."""
        return self.get("/jobs/overview")["jobs"]

    def job(self, jid: str) -> dict:
        """``GET /jobs/<jid>``: state and each vertex with its parallelism."""
        return self.get(f"/jobs/{jid}")


@contextlib.contextmanager
def cluster(taskmanagers: int = 2, **kw) -> Iterator[FlinkCluster]:
    c = FlinkCluster(taskmanagers=taskmanagers, **kw)
    try:
        yield c.start()
    finally:
        c.stop(timeout_s=10)


@contextlib.contextmanager
def worker_pool(
    port: Optional[int] = None, log: Optional[Path] = None, timeout_s: float = 60.0
) -> Iterator[str]:
    """Beam's Python SDK worker pool (``apache_beam.runners.worker.worker_pool_main``),
    what ``--environment_type=EXTERNAL --environment_config=<address>`` names (on
    Kubernetes, a sidecar beside each TaskManager); yields its ``localhost:<port>``."""
    import socket

    port = port or engines.free_ports(1)[0]
    out = open(log, "ab") if log else subprocess.DEVNULL
    cmd = [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={port}"]
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, preexec_fn=engines.die_with_parent)
    try:
        deadline = time.time() + timeout_s
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"Beam's worker pool did not start on port {port}")
            time.sleep(0.3)
        yield f"localhost:{port}"
    finally:
        engines.stop(proc)
        if log:
            out.close()
