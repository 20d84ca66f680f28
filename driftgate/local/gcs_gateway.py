"""TensorFlow's own ``gs://`` file system pointed at the loopback bucket server.

TensorFlow's built-in Cloud Storage file system (what ``tf.io.gfile`` and so
TFX's artifacts, SavedModels and TFRecords use) has its endpoints built in
(``https://www.googleapis.com/storage/v1/``, ``https://storage.googleapis.com/``)
and does not read ``STORAGE_EMULATOR_HOST``. The tensorflow-io plugin that does
read an emulator variable (``TF_USE_MODULAR_FILESYSTEM=1``) crashes the process
on reads of objects over about 100 KB, against any server (see
``docs/engines.md``). So a test reaches the server the way TensorFlow would
reach Cloud Storage through a proxy: its libcurl honours ``HTTPS_PROXY``; this
gateway answers ``CONNECT`` for those two hosts only, ends TLS with a
certificate made here for them (``CURL_CA_BUNDLE`` trusts it), and forwards each
request in plain HTTP to fake-gcs-server, dropping hop-by-hop headers (TF sends
``Transfer-Encoding: identity`` on empty POSTs, which Go's HTTP server answers
501). ``GOOGLE_AUTH_TOKEN_FOR_TESTING`` spares TensorFlow its credential search.
Loopback only; for tests and demos.
"""

from __future__ import annotations

import datetime
import http.client
import http.server
import ipaddress
import socket
import socketserver
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Optional

from driftgate.local import engines

HOSTS = ("www.googleapis.com", "storage.googleapis.com")  # what TensorFlow's gs:// calls
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


def make_certificate(directory: Path) -> tuple:
    """A self-signed certificate for :data:`HOSTS` and 127.0.0.1 (it is its own
    CA); returns (certificate file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "driftgate loopback bucket server")])
    now = datetime.datetime.now(datetime.timezone.utc)
    names = [x509.DNSName(h) for h in HOSTS] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / "gateway-cert.pem", directory / "gateway-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Proxy"

    def log_message(self, fmt, *args):  # quiet: the bucket server logs requests
        pass

    def do_CONNECT(self):
        host, _, port = self.path.partition(":")
        if self.server.tls is None or host not in HOSTS or port != "443":
            self.send_error(403, f"this gateway tunnels only to {', '.join(HOSTS)}:443")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.connection = self.server.tls.wrap_socket(self.connection, server_side=True)
        self.rfile = self.connection.makefile("rb")
        self.wfile = socketserver._SocketWriter(self.connection)

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self):
        if not isinstance(self.connection, ssl.SSLSocket):
            self.send_error(405, "only CONNECT (then requests inside the tunnel)")
            return
        body = self._body()
        skip = HOP_BY_HOP | {"host", "content-length"}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        headers["Host"] = self.server.public_host  # what fake-gcs-server serves downloads by
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=120)
        try:
            sends_body = body or self.command in ("POST", "PUT", "PATCH")
            upstream.request(self.command, self.path, body=body if sends_body else None, headers=headers)
            resp = upstream.getresponse()
            data = resp.read()
        finally:
            upstream.close()
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP | {"content-length"}:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward


class _Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls: Optional[ssl.SSLContext] = None
    upstream_port = 0
    public_host = ""


def serve(port: int, upstream_port: int, public_host: str, cert_file: str, key_file: str) -> None:
    """Runs the gateway on ``127.0.0.1:port`` until the process is stopped."""
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    proxy = _Proxy(("127.0.0.1", port), _Handler)
    proxy.tls, proxy.upstream_port, proxy.public_host = tls, upstream_port, public_host
    proxy.serve_forever()


class TensorFlowGateway:
    """The gateway in front of the bucket server on ``upstream_port`` (whose
    ``-public-host`` is ``public_host``), as a process of its own: a thread of
    a process that also runs TensorFlow would wait for the interpreter lock
    that TensorFlow's file calls hold while they wait for the gateway."""

    def __init__(self, upstream_port: int, public_host: str, directory: Path):
        self.upstream_port, self.public_host, self.directory = upstream_port, public_host, Path(directory)
        self.port = engines.free_ports(1)[0]
        self.proc: Optional[subprocess.Popen] = None
        self.cert_file: Optional[Path] = None

    def start(self, timeout_s: float = 30.0) -> "TensorFlowGateway":
        self.cert_file, key_file = make_certificate(self.directory)
        args = [str(self.port), str(self.upstream_port), self.public_host, str(self.cert_file), str(key_file)]
        with open(self.directory / "gateway.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", __name__, *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=engines.die_with_parent,
            )
        deadline = time.time() + timeout_s
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    log = (self.directory / "gateway.log").read_text(errors="replace")[-600:]
                    raise RuntimeError(
                        f"the TensorFlow gateway did not start: {log or '(no output)'}"
                    ) from None
                time.sleep(0.1)

    def env(self) -> Dict[str, str]:
        """What a process needs for TensorFlow's gs:// to reach the server (set
        before its first gs:// call; without TF_USE_MODULAR_FILESYSTEM)."""
        proxy = f"http://127.0.0.1:{self.port}"
        return {
            "HTTPS_PROXY": proxy,
            "https_proxy": proxy,
            "CURL_CA_BUNDLE": str(self.cert_file),
            "GOOGLE_AUTH_TOKEN_FOR_TESTING": "driftgate-loopback",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }

    def stop(self) -> None:
        engines.stop(self.proc)


if __name__ == "__main__":
    port, upstream, host, cert, key = sys.argv[1:6]
    serve(int(port), int(upstream), host, cert, key)
