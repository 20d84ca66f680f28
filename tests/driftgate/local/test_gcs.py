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


def test_the_command_prints_the_host_line_then_what_tensorflow_needs():
    proc = subprocess.Popen(
        [sys.executable, "-m", "driftgate", "local", "gcs", "--bucket", "cli-bucket", "--tensorflow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        lines = [proc.stdout.readline().strip() for _ in range(7)]  # read before it stops
        assert lines[0].startswith("STORAGE_EMULATOR_HOST=http://127.0.0.1:")
        urllib.request.urlopen(lines[0].split("=", 1)[1] + "/storage/v1/b", timeout=5).close()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and out == "", err[-1000:]
    keys = {row.split("=", 1)[0] for row in lines}
    assert {"HTTPS_PROXY", "CURL_CA_BUNDLE", "GOOGLE_AUTH_TOKEN_FOR_TESTING", "NO_PROXY"} <= keys


def test_missing_names_the_build_command(tmp_path):
    why = gcs.missing(tmp_path)
    assert why.startswith(f"fake-gcs-server {gcs.VERSION} not built in {tmp_path}")
    assert f"go install {gcs.GO_MODULE}@{gcs.VERSION}" in why and engines.FETCH_HINT in why


def test_the_tensorflow_gateway_tunnels_only_to_cloud_storage_and_stops_with_the_server():
    import http.client

    with gcs.bucket_server(buckets=("tf-bucket",), tensorflow=True) as server:
        env, gateway = server.env(), server.gateway.proc.pid
        assert env["STORAGE_EMULATOR_HOST"] == server.url and env["HTTPS_PROXY"].startswith(
            "http://127.0.0.1:"
        )
        assert os.path.isfile(env["CURL_CA_BUNDLE"]) and "TF_USE_MODULAR_FILESYSTEM" not in env
        host, port = env["HTTPS_PROXY"][len("http://") :].split(":")
        for target, status in (("storage.googleapis.com:443", 200), ("example.org:443", 403)):
            conn = http.client.HTTPConnection(host, int(port), timeout=5)
            conn.request("CONNECT", target)
            assert conn.getresponse().status == status
            conn.close()
        code = "import tensorflow as tf; tf.io.gfile.GFile('gs://tf-bucket/a/b.txt', 'w').write('hi')"
        subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **env), check=True, timeout=120)
        assert server.client().bucket("tf-bucket").blob("a/b.txt").download_as_bytes() == b"hi"
    assert _gone(gateway) and _gone(server.pid)
