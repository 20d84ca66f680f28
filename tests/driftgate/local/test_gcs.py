"""fake-gcs-server on loopback (driftgate/local/gcs.py): started and stopped
leaving no process, and ``driftgate local gcs`` as a command."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from driftgate.local import engines, gcs


@pytest.fixture(scope="module", autouse=True)
def built():
    why = gcs.missing(engines.cache_dir())
    if why is not None and shutil.which("go") is None:
        pytest.skip(f"no bucket server: {why}")
    gcs.ensure()


def _gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie not yet reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_bucket_server_serves_its_buckets_refuses_a_stale_write_and_leaves_no_process():
    from google.api_core import exceptions

    with gcs.bucket_server(buckets=("one-bucket", "two-bucket")) as server:
        pid = server.pid
        assert server.alive and not _gone(pid)
        assert server.env() == {"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{server.port}"}
        client = server.client()
        assert sorted(b.name for b in client.list_buckets()) == ["one-bucket", "two-bucket"]
        blob = client.bucket("one-bucket").blob("x")
        blob.upload_from_string(b"a", if_generation_match=0)
        with pytest.raises(exceptions.PreconditionFailed):
            client.bucket("one-bucket").blob("x").upload_from_string(b"b", if_generation_match=0)
        assert client.bucket("one-bucket").blob("x").download_as_bytes() == b"a"
    assert not server.alive and _gone(pid)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{server.url}/storage/v1/b", timeout=2)


def test_the_command_prints_where_to_reach_it_serves_and_stops_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "driftgate", "local", "gcs", "--bucket", "cli-bucket", "-o", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        info = json.loads(proc.stdout.readline())
        url = info["url"]
        assert info["env"] == {"STORAGE_EMULATOR_HOST": url} and info["buckets"] == ["cli-bucket"]
        with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=5) as resp:
            assert [b["name"] for b in json.load(resp)["items"]] == ["cli-bucket"]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-1000:]
    assert "stopping fake-gcs-server" in err
    deadline = time.time() + 5
    while not _gone(info["pid"]) and time.time() < deadline:
        time.sleep(0.1)
    assert _gone(info["pid"])


def test_the_command_prints_the_host_line():
    proc = subprocess.Popen(
        [sys.executable, "-m", "driftgate", "local", "gcs", "--bucket", "cli-bucket"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("STORAGE_EMULATOR_HOST=http://127.0.0.1:")
        urllib.request.urlopen(line.split("=", 1)[1] + "/storage/v1/b", timeout=5).close()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and out == "", err[-1000:]


def test_missing_names_the_build_command(tmp_path):
    why = gcs.missing(tmp_path)
    assert why.startswith(f"fake-gcs-server {gcs.VERSION} not built in {tmp_path}")
    assert f"go install {gcs.GO_MODULE}@{gcs.VERSION}" in why and engines.FETCH_HINT in why
