"""Canary releases on TF Serving: the region's ``models.config`` and its state.

Per region, beside the model base path (``<root>/serving/<REGION>/``):

- ``models.config``: a ``ModelServerConfig`` text proto (built with
  ``tensorflow_serving.config.model_server_config_pb2``) with a ``specific``
  version policy holding the stable and canary versions and ``version_labels``
  {stable, canary}: what ``tensorflow_model_server --model_config_file`` reads.
- ``stable.config`` / ``canary.config``: the same model with one version each,
  for the two TF Serving Deployments the mesh splits traffic between
  (``kubeflow/serving/``; TF Serving has no traffic split of its own).
- ``release.json``: stable, canary, earlier stables (for rollback), rejected
  versions and the history of verdicts.

Local folder or bucket alike, ``release.json`` is the source of truth and is
changed by compare-and-swap (``driftgate.core.storage.write_if_unchanged``: a
generation precondition on ``gs://``, a digest check under a file lock
locally): a writer that lost the race re-reads and re-applies its change, or
stops when the change no longer makes sense ("no canary to promote"). The
three configs are derived from the committed state and carry its revision in
a comment; a config is only replaced by one of a newer revision, so a slow
writer never puts back an older config. Every write is atomic (temporary
file + fsync + rename locally; an object appears whole on a bucket). On a
local root the whole step also holds a per-region lock with a timeout naming
its holder. A version gets a label only after its SavedModel loaded and its
serving signature answered on a sample of the region's data.

Relocatable: nothing here trusts a path it stored. The models are read from
the current root (``model_dir``); the ``base_path`` written into the configs
is the folder as TF Serving sees it (``served``: the configured
``serving.base_path``, by default the root's own folder), recomputed at every
write. A root copied or restored elsewhere is noticed by ``relocate``, which
rewrites the configs for where the root is now and records that it did.

Docs: ``docs/canary.md``.
"""

import contextlib
import fcntl
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Iterator, List, Optional

from google.protobuf import text_format

from driftgate.core import faults, local_copies, storage
from driftgate.core.errors import DriftgateError
from serving.layout import RELEASE_STATE_FILE

STABLE, CANARY = "stable", "canary"
CONFIG_FILE, STATE_FILE = "models.config", RELEASE_STATE_FILE


class ReleaseError(DriftgateError, RuntimeError):
    """A release step cannot be done; nothing was changed."""


@dataclass
class ReleaseState:
    model_name: str
    base_path: str  # as TF Serving sees it (what the configs say); recomputed at each load
    stable: Optional[int] = None
    canary: Optional[int] = None
    previous_stables: List[int] = field(default_factory=list)
    rejected: List[int] = field(default_factory=list)
    history: List[dict] = field(default_factory=list)
    revision: int = 0  # +1 per committed change; the configs carry it


def build_config(model_name: str, base_path: str, versions: dict):
    """ModelServerConfig for ``versions`` = {label: version} (labels may be absent)."""
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = model_name
    model.base_path = base_path
    model.model_platform = "tensorflow"
    present = {label: v for label, v in versions.items() if v is not None}
    model.model_version_policy.specific.versions.extend(sorted(set(present.values())))
    for label, v in sorted(present.items()):
        model.version_labels[label] = v
    return config


def parse_config(text: str):
    from tensorflow_serving.config import model_server_config_pb2

    return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())


LOCK_FILE = ".release.lock"
LOCK_TIMEOUT_S = 120.0


@contextlib.contextmanager
def locked(serving_dir: str, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Exclusive per-region lock (flock on ``<serving_dir>/.release.lock``).

    The holder writes who it is (host, pid, start time) into the lock file; a
    writer that cannot get the lock within ``timeout`` seconds raises
    ReleaseError naming that holder instead of waiting forever."""
    import socket

    os.makedirs(serving_dir, exist_ok=True)
    path = os.path.join(serving_dir, LOCK_FILE)
    with open(path, "a+") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    holder = fh.read().strip() or "unknown holder"
                    raise ReleaseError(
                        f"{serving_dir}: release lock held by {holder} for over {timeout:.0f}s; "
                        f"if that process is gone, retry (the lock is released when it exits)"
                    ) from None
                time.sleep(0.1)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(
                f"host {socket.gethostname()} pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"
            )
            fh.flush()
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fh.flush()
            fcntl.flock(fh, fcntl.LOCK_UN)


def state_path(serving_dir: str) -> str:
    return storage.join(serving_dir, STATE_FILE)


def model_dir(serving_dir: str, model_name: str) -> str:
    """Where the versions are under the current root (read for smoke tests and judgements)."""
    return storage.join(serving_dir, model_name)


def _parse_state(data: Optional[bytes], serving_dir: str, model_name: str, served: str = "") -> ReleaseState:
    base = served or model_dir(serving_dir, model_name)
    if data is None:
        return ReleaseState(model_name=model_name, base_path=base)
    state = ReleaseState(**json.loads(data))
    state.base_path = base  # never the stored one: a moved root keeps serving its versions
    return state


def load_state(serving_dir: str, model_name: str, served: str = "") -> ReleaseState:
    """The region's release state; ``served``: the base path TF Serving sees
    (empty: ``model_dir``)."""
    path = state_path(serving_dir)
    return _parse_state(
        storage.read_bytes(path) if storage.exists(path) else None, serving_dir, model_name, served
    )


def accounted(state: ReleaseState) -> set:
    """Versions the state says something of: labelled now or before, or rejected."""
    return {state.stable, state.canary, *state.previous_stables, *state.rejected}


def configs_behind(serving_dir: str, state: ReleaseState) -> bool:
    """True when a config is missing or labels other versions than ``state``."""
    for name, versions in _config_versions(state):
        path = storage.join(serving_dir, name)
        if not storage.exists(path):
            return True
        if _body(storage.read_bytes(path)) != _body(_config_text(state, versions).encode()):
            return True
    return False


REVISION = re.compile(rb"^# driftgate release revision (\d+)")
ATTEMPTS = 20


def _config_text(state: ReleaseState, versions: dict) -> str:
    proto = text_format.MessageToString(build_config(state.model_name, state.base_path, versions))
    return f"# driftgate release revision {state.revision}\n{proto}"


def _body(config: bytes) -> bytes:
    return config.split(b"\n", 1)[1] if b"\n" in config else config


def _write_config(path: str, text: str, revision: int) -> None:
    """Writes ``text`` unless ``path`` already holds a config of revision
    ``revision`` or newer (a faster writer got there first) or the same one."""

    def change(data: Optional[bytes]) -> Optional[str]:
        found = REVISION.match(data or b"")
        if found and (int(found.group(1)) >= revision or _body(data) == _body(text.encode())):
            return None  # newer already, or the same labels (a rejected push changes no config)
        return text

    try:
        storage.update(path, change, ATTEMPTS)
    except storage.Conflict:
        raise ReleaseError(
            f"{path}: other writers kept replacing it; run `driftgate serving status` to check"
        ) from None


def save(serving_dir: str, state: ReleaseState) -> None:
    """Writes the three TF Serving configs of a committed state."""
    for name, versions in _config_versions(state):
        _write_config(storage.join(serving_dir, name), _config_text(state, versions), state.revision)


def _config_versions(state: ReleaseState) -> list:
    """(config file, {label: version}) of each TF Serving config of ``state``."""
    return [
        (CONFIG_FILE, {STABLE: state.stable, CANARY: state.canary}),
        ("stable.config", {STABLE: state.stable}),
        ("canary.config", {CANARY: state.canary or state.stable}),
    ]


def guard(serving_dir: str):
    """The per-region lock on a local root (buckets rely on preconditions alone)."""
    return contextlib.nullcontext() if storage.is_remote(serving_dir) else locked(serving_dir)


def transact(
    serving_dir: str, model_name: str, change, served: str = "", failpoint: str = ""
) -> ReleaseState:
    """Applies ``change(state) -> state`` to the region's release state by
    compare-and-swap (re-read and re-applied when another writer committed
    first), then writes the configs. ``change`` raising ReleaseError leaves
    everything as it was. When it raises after a lost race (re-read), the
    error says that another writer changed the state first."""
    path = state_path(serving_dir)
    committed, revisions, added = [], [], []

    def apply(data: Optional[bytes]) -> str:
        state = _parse_state(data, serving_dir, model_name, served)
        revisions.append(state.revision)
        before = len(state.history)
        try:
            state = change(state)
        except ReleaseError as exc:
            if revisions[0] == revisions[-1]:
                raise
            raise ReleaseError(
                f"{path} was changed by another writer (revision {revisions[0]} -> {revisions[-1]}) "
                f"after it was read; {exc}"
            ) from None
        state.revision += 1
        committed[:] = [state]
        added[:] = state.history[before:]  # what this (the committed) attempt changed
        return json.dumps(asdict(state), indent=1)

    try:
        storage.update(path, apply, ATTEMPTS)
    except storage.Conflict:
        raise ReleaseError(f"{path}: changed by other writers {ATTEMPTS} times in a row; retry") from None
    if failpoint:  # committed; the configs follow (reconcile repairs a gap)
        faults.point(failpoint)
    save(serving_dir, committed[0])
    from serving.audit import audit_event

    for event in added:
        audit_event(serving_dir, committed[0], event)
    return committed[0]


def record_event(state: ReleaseState, action: str, version: Optional[int], **extra) -> None:
    state.history.append(
        dict(action=action, version=version, at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra)
    )


def canary_since(state: ReleaseState) -> Optional[float]:
    """When the current canary got its label (Unix seconds; None: no canary or no record)."""
    import calendar

    for event in reversed(state.history):
        if (
            event.get("action") == CANARY
            and event.get("version") == state.canary
            and state.canary is not None
        ):
            return float(calendar.timegm(time.strptime(event["at"], "%Y-%m-%dT%H:%M:%SZ")))
    return None


def smoke_test(version_dir: str, examples: List[bytes]) -> None:
    """Loads the SavedModel and calls ``serving_default`` on ``examples``;
    raises ReleaseError unless every output is a finite probability."""
    import numpy as np
    import tensorflow as tf

    try:
        faults.point("release.smoke_test", version_dir)
        model = tf.saved_model.load(version_dir)
        serve = model.signatures["serving_default"]
        out = serve(examples=tf.constant(examples))
    except Exception as exc:  # any load or call failure means: no label
        raise ReleaseError(
            f"{version_dir}: SavedModel failed its smoke test: {type(exc).__name__}: {exc}"
        ) from exc
    probs = np.asarray(next(iter(out.values())))
    if (
        probs.shape[0] != len(examples)
        or not np.all(np.isfinite(probs))
        or probs.min() < 0
        or probs.max() > 1
    ):
        raise ReleaseError(f"{version_dir}: serving signature returned no valid probabilities")


def push(
    serving_dir: str, model_name: str, version: int, examples: List[bytes], served: str = ""
) -> ReleaseState:
    """Labels a newly pushed version: stable when none is, canary otherwise.
    A version whose SavedModel fails the smoke test is marked rejected (and
    ReleaseError raised after that is recorded)."""
    with guard(serving_dir):
        failure = None
        try:
            with local_copies.local_copy(
                storage.join(model_dir(serving_dir, model_name), str(version))
            ) as local:
                smoke_test(local, examples)
        except ReleaseError as exc:
            failure = exc

        def change(state: ReleaseState) -> ReleaseState:
            if failure is not None:
                state.rejected.append(version)
                record_event(state, "rejected", version, reason=str(failure))
            elif state.stable is None:
                state.stable = version
                record_event(state, "stable", version, reason="first version in the region")
            else:
                if state.canary is not None:
                    state.rejected.append(state.canary)
                    record_event(state, "superseded", state.canary, reason=f"canary replaced by {version}")
                state.canary = version
                record_event(state, "canary", version)
            return state

        state = transact(serving_dir, model_name, change, served, failpoint="release.state_written")
    if failure is not None:
        raise failure
    return state


def promote(
    serving_dir: str, model_name: str, reason: str = "promoted by hand", served: str = ""
) -> ReleaseState:
    def change(state: ReleaseState) -> ReleaseState:
        if state.canary is None:
            raise ReleaseError(f"{serving_dir}: no canary to promote (stable is {state.stable})")
        state.previous_stables.append(state.stable)
        state.stable, state.canary = state.canary, None
        record_event(state, "promote", state.stable, reason=reason)
        return state

    with guard(serving_dir):
        return transact(serving_dir, model_name, change, served)


def rollback(
    serving_dir: str, model_name: str, reason: str = "rolled back by hand", served: str = ""
) -> ReleaseState:
    """With a canary: drop its label, mark it rejected (kept on disk). Without:
    return to the previous stable in one step."""

    def change(state: ReleaseState) -> ReleaseState:
        if state.canary is not None:
            state.rejected.append(state.canary)
            record_event(state, "rollback", state.canary, reason=reason)
            state.canary = None
        elif state.previous_stables:
            bad = state.stable
            state.rejected.append(bad)
            state.stable = state.previous_stables.pop()
            record_event(state, "rollback", bad, reason=reason, restored=state.stable)
        else:
            raise ReleaseError(
                f"{serving_dir}: nothing to roll back to (stable {state.stable}, no earlier stable)"
            )
        return state

    with guard(serving_dir):
        return transact(serving_dir, model_name, change, served)
