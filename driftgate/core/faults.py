"""Failpoints: named places where the fault-injection suite breaks a run.

Inert unless the environment variable ``DRIFTGATE_FAULT`` names a point
(one check of a dict per call). The suite (``tests/e2e/test_faults.py``) sets
it on a ``driftgate run`` process::

    DRIFTGATE_FAULT=<point>:<action>[:<path part>]

- ``kill``: SIGKILL this process at the point (as the OOM killer or a node
  drain would: no cleanup, no ``finally``);
- ``enospc`` / ``erofs``: raise the OSError a full disk / read-only mount
  raises, for a write whose path contains ``<path part>``.

Points: ``gate.recorded`` (the gate wrote the span's history),
``trainer.fit`` (inside ``model.fit``), ``pusher.published`` (a version is
in the serving folder, not yet labelled), ``release.state_written``
(a push's label committed in release.json, its TF Serving configs not yet),
``release.smoke_test`` (loading a pushed version: an error here rejects it),
``write`` (every ``storage.write_atomic`` and version publish).
"""

from __future__ import annotations

import errno
import os
import signal

ENV = "DRIFTGATE_FAULT"
_ERRORS = {"enospc": errno.ENOSPC, "erofs": errno.EROFS}


def point(name: str, path: str = "") -> None:
    """Acts when ``DRIFTGATE_FAULT`` names ``name`` (and ``path`` contains its path part)."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    parts = spec.split(":", 2)
    if parts[0] != name or len(parts) < 2:
        return
    action, where = parts[1], parts[2] if len(parts) > 2 else ""
    if where and where not in str(path):
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action in _ERRORS:
        code = _ERRORS[action]
        raise OSError(code, f"{os.strerror(code)} (injected: {ENV}={spec})", str(path))
