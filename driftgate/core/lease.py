"""One run of a region at a time: a lease object under the region's root.

``<root>/<REGION>/run.lease`` holds JSON naming its holder (host, pid, start
time, run id) and when the lease expires. It is taken and given back by
compare-and-swap (``storage.read_versioned`` / ``write_if_unchanged``): on
``gs://`` with an object generation precondition, on a local path by a digest
check under a per-file lock, so of two runs starting together exactly one
gets it. The same protocol serves a local folder and a bucket.

A lease is free when it is absent, released, expired (its holder stopped
renewing it for ``ttl`` seconds: the stale-lease timeout), or held by a process
of this host that no longer exists (a run killed by SIGKILL frees the region
at once for the next run on the same machine). The holder renews it from a
background thread every ``ttl / 3`` seconds while it works. A run that finds
it held waits up to ``wait_s`` seconds, then raises :class:`LeaseHeld` with
one line naming the holder.

Docs: ``docs/operations.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterator, Optional

from driftgate.core import storage
from driftgate.core.errors import DriftgateError, ExitCode

DEFAULT_TTL_S = 300.0
# A run's tasks on Kubeflow run in separate pods: its first task takes the lease,
# every task renews it while it works (``pipelines.kubeflow_entrypoint``: every
# ttl / 3), its last task gives it back and, when the run fails, its exit task
# (``components.monitor.finalizer``). The TTL only has to outlast the gap
# between two tasks (pod scheduling, image pull) and frees the region of a run
# that was terminated or lost its node. ``DRIFTGATE_LEASE_TTL_S`` overrides it.
PIPELINE_TTL_S = 15 * 60.0
TTL_ENV = "DRIFTGATE_LEASE_TTL_S"
# a pipeline run's lease names no process: its tasks are pods, one after another
NO_PID = 0
POLL_S = 2.0


class LeaseHeld(DriftgateError, RuntimeError):
    """The region is being run by someone else (the message names them)."""

    exit_code = ExitCode.BUSY


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    started: str  # UTC, ISO 8601
    run: str  # the run's id: a second task of the same run holds the same lease

    @classmethod
    def me(cls, run: str, pid: Optional[int] = None) -> "Holder":
        return cls(socket.gethostname(), os.getpid() if pid is None else pid, _utc(time.time()), run)

    def describe(self) -> str:
        where = f"host {self.host}, pid {self.pid}" if self.pid != NO_PID else f"pipeline task on {self.host}"
        return f"run {self.run} ({where}, since {self.started})"


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _alive_here(holder: Holder) -> bool:
    """False only when the holder is a process of this host that is gone."""
    if holder.host != socket.gethostname() or holder.pid == NO_PID:
        return True  # another machine, or a pipeline run's pods: only its expiry tells
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _parse(data: Optional[bytes]) -> Optional[dict]:
    if not data:
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        return None  # unreadable (a torn write cannot happen, a hand edit can): free
    return doc if isinstance(doc, dict) and doc.get("holder") else None


def holder_of(doc: Optional[dict], now: float) -> Optional[Holder]:
    """The live holder of a lease document at ``now``, or None when it is free."""
    if doc is None or doc.get("released"):
        return None
    holder = Holder(**doc["holder"])
    if float(doc.get("expires", 0)) <= now or not _alive_here(holder):
        return None
    return holder


class Lease:
    """The lease at ``path`` for ``run``; use :func:`held` rather than this directly."""

    def __init__(self, path: str, run: str, ttl: float = DEFAULT_TTL_S, pid: Optional[int] = None):
        """``pid=NO_PID``: held by a pipeline run whose tasks are pods (freed
        by its last task, its exit task or expiry, never by a pid check)."""
        self.path, self.ttl = path, float(ttl)
        self.me = Holder.me(run, pid)
        self.lost: Optional[str] = None  # set when someone else took it while we worked

    def _doc(self, released: bool = False) -> str:
        return json.dumps(
            {
                "holder": asdict(self.me),
                "expires": time.time() + self.ttl,
                "expires_at": _utc(time.time() + self.ttl),
                "released": released,
            },
            indent=1,
        )

    def try_acquire(self) -> Optional[Holder]:
        """Takes the lease if free (or already ours). None when taken, else the holder in the way."""
        while True:
            data, token = storage.read_versioned(self.path)
            current = holder_of(_parse(data), time.time())
            if current is not None and current.run != self.me.run:
                return current
            if current is not None:  # our run holds it already (the runner, then its ingest task)
                self.me = current  # keep its holder
            try:
                storage.write_if_unchanged(self.path, self._doc(), token)
                return None
            except storage.Conflict:
                continue  # another run wrote in between: see who holds it now

    def acquire(self, wait_s: float = 0.0, progress: Callable[[str], None] = lambda line: None) -> None:
        deadline = time.monotonic() + max(0.0, wait_s)
        told = False
        while True:
            holder = self.try_acquire()
            if holder is None:
                return
            if time.monotonic() >= deadline:
                raise LeaseHeld(
                    f"{self.path}: region is being run by {holder.describe()}; "
                    + (f"waited {wait_s:.0f}s; " if wait_s else "")
                    + "retry when it is done, or pass --wait SECONDS "
                    f"(a lease not renewed for {self.ttl:.0f}s is taken over)"
                )
            if not told:
                progress(f"waiting up to {wait_s:.0f}s for {holder.describe()} to finish")
                told = True
            time.sleep(min(POLL_S, max(0.05, deadline - time.monotonic())))

    def _rewrite(self, released: bool) -> bool:
        """Renews (or releases) the lease if it is still ours; False when it is not."""

        def change(data: Optional[bytes]) -> Optional[str]:
            doc = _parse(data)
            if doc is None or doc["holder"].get("run") != self.me.run:  # a run is one holder, whatever pod
                raise _NotOurs(holder_of(doc, time.time()))
            if doc.get("released"):
                return None  # our run gave it back already (its last task): nothing to renew or release
            self.me = Holder(**doc["holder"])  # renewed or released by any process of the run: same holder
            return self._doc(released=released)

        try:
            storage.update(self.path, change)
            return True
        except _NotOurs as exc:
            self.lost = f"lease taken over by {exc.holder.describe() if exc.holder else 'nobody'}"
            return False

    def renew(self) -> bool:
        return self._rewrite(released=False)

    def release(self) -> bool:
        return self._rewrite(released=True)


class _NotOurs(Exception):
    def __init__(self, holder: Optional[Holder]):
        super().__init__()
        self.holder = holder


@contextlib.contextmanager
def held(
    path: str,
    run: str,
    *,
    wait_s: float = 0.0,
    ttl: float = DEFAULT_TTL_S,
    progress: Callable[[str], None] = lambda line: None,
) -> Iterator[Lease]:
    """Holds the lease at ``path`` for ``run`` while the block runs, renewing
    it every ``ttl / 3`` s; released at the end, also when the block raises.
    Raises LeaseHeld (before the block) when another live run holds it after
    ``wait_s`` seconds."""
    lease = Lease(path, run, ttl)
    lease.acquire(wait_s, progress)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease.ttl / 3):
            try:
                if not lease.renew():
                    progress(f"warning: {path}: {lease.lost}")
                    return
            except Exception as exc:  # noqa: BLE001 - a failed renewal is retried next period
                progress(f"warning: {path}: lease not renewed: {exc}")

    thread = threading.Thread(target=renew, name="driftgate-lease", daemon=True)
    thread.start()
    try:
        yield lease
    finally:
        stop.set()
        thread.join(timeout=5)
        with contextlib.suppress(Exception):  # expiry frees it if this fails
            lease.release()


def run_id_from_uri(uri: str, pipeline_root: str) -> str:
    """The pipeline run's id from where Kubeflow writes a task's output:
    ``<pipeline root>/<pipeline name>/<run id>/<task>/...`` on the open-source
    backend (``backend/src/v2/metadata/client.go``), ``<pipeline root>/<project
    number>/<job id>/<task>_<uuid>/...`` on Vertex: the second segment either
    way. "" when ``uri`` is not under ``pipeline_root``."""
    parts = (storage.relative(uri, pipeline_root) or "").split("/")
    return parts[1] if len(parts) > 2 else ""


def pipeline_ttl(environ, default: float = PIPELINE_TTL_S) -> float:
    """The lease TTL of a pipeline run, or of ``driftgate land`` with
    ``default=DEFAULT_TTL_S`` (``DRIFTGATE_LEASE_TTL_S``, else ``default``)."""
    try:
        return float(environ.get(TTL_ENV) or default)
    except ValueError:
        return default


def renew_run(path: str, run: str, ttl: float) -> bool:
    """Extends the lease ``run`` holds by ``ttl`` from now; never takes a free
    or foreign lease. False when ``run`` does not hold it (or gave it back)."""
    return Lease(path, run, ttl)._rewrite(released=False) and holds(path, run)


def document(path: str) -> Optional[dict]:
    """The lease document at ``path`` (holder, expiry, released), or None."""
    data, _ = storage.read_versioned(path)
    return _parse(data)


def holds(path: str, run: str) -> bool:
    """True when ``run`` holds the lease at ``path`` now (not released, not expired)."""
    holder = holder_of(document(path), time.time())
    return holder is not None and holder.run == run


def release_run(path: str, run: str) -> bool:
    """Gives back the lease ``run`` holds (from any process of that run:
    the last task of a Kubeflow run). False when it holds none."""
    return Lease(path, run).release()
