"""Reading and writing files under a root that is a local path or a bucket URI.

The only module that looks at a scheme: everything else asks ``is_remote`` or
simply calls these functions. Local paths use the OS directly (fast, and no
TensorFlow import in the CLI's fast paths); ``gs://`` goes through the Cloud
Storage client library (credentials from the environment, as any Google
client finds them; ``STORAGE_EMULATOR_HOST`` points it at another server);
other URIs through ``tf.io.gfile``. TFX itself writes its artifacts with
``tf.io.gfile``: both see the same objects.

``read_versioned`` / ``write_if_unchanged`` are a compare-and-swap for state
that several writers update (a scheduled run and a person promoting): on
``gs://`` with object generation preconditions (``ifGenerationMatch``), on a
local path under a per-file lock comparing content digests.

What each store guarantees (the lander's exactly-once rests on it,
``streaming.sink``): ``write_atomic``: old or new, never half (local: temp
file, fsync, rename; gs://: one upload). ``create``: whole, refused when the
name exists (local: temp file, fsync, ``link``; gs://: ``ifGenerationMatch=0``).
``copy``: create-if-absent (a hard link; gs://: read, then ``create``).
``write_if_unchanged``: a digest check under a flock; ``ifGenerationMatch``.
``list_files``: ``os.walk``; gs:// listings are strongly consistent. Other
URIs (``s3://`` through ``tf.io.gfile``) read, write and list but have no
create-if-absent or compare-and-swap: what needs them raises Unsupported.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import posixpath
import uuid
from typing import Iterator, List, Optional, Tuple, Union

from driftgate.core import faults

TMP_PREFIX = ".tmp-"
GS = "gs://"


class Conflict(RuntimeError):
    """The object changed since it was read: re-read and try again."""


class Unsupported(RuntimeError):
    """This kind of location cannot do what was asked (names it)."""


_client = None


def _gcs(path: str):
    """(bucket, object name) of a ``gs://`` path, with one client a process."""
    global _client
    if _client is None:
        from google.cloud import storage as gcs

        _client = gcs.Client()
    bucket, _, name = path[len(GS) :].partition("/")
    return _client.bucket(bucket), name.rstrip("/")


def is_bucket(path: str) -> bool:
    """True for ``gs://`` (objects with generations: compare-and-swap by them)."""
    return str(path).startswith(GS)


def is_remote(path: str) -> bool:
    """True for a URI with a scheme (``gs://bucket/...``), False for a local path."""
    return "://" in str(path)


def absolute(path: str) -> str:
    """A local path made absolute (not the working directory's), a URI unchanged."""
    return str(path) if is_remote(path) else os.path.abspath(path)


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def join(base: str, *parts: str) -> str:
    base = str(base)
    return posixpath.join(base, *parts) if is_remote(base) else os.path.join(base, *parts)


def dirname(path: str) -> str:
    return posixpath.dirname(path) if is_remote(path) else os.path.dirname(path)


def relative(path: str, base: str) -> Optional[str]:
    """``path`` relative to the folder ``base`` ("a/b" for "<base>/a/b"), or
    None when it is not under it (local paths and URIs alike)."""
    prefix = str(base).rstrip("/") + "/"
    return path[len(prefix) :] if str(path).startswith(prefix) else None


def exists(path: str) -> bool:
    """A file, or a folder (on a bucket: any object under ``path/``)."""
    if is_bucket(path):
        bucket, name = _gcs(path)
        if name and bucket.blob(name).exists():
            return True
        return any(
            True for _ in bucket.client.list_blobs(bucket, prefix=f"{name}/" if name else "", max_results=1)
        )
    return _gfile().exists(path) if is_remote(path) else os.path.exists(path)


def makedirs(path: str) -> None:
    if is_bucket(path):
        return  # a bucket has no folders: writing an object makes its "folder"
    if is_remote(path):
        _gfile().makedirs(path)
    else:
        os.makedirs(path, exist_ok=True)


def listdir(path: str) -> List[str]:
    """Entry names in a folder ([] when it does not exist)."""
    if is_bucket(path):
        bucket, name = _gcs(path)
        prefix = f"{name}/" if name else ""
        pages = bucket.client.list_blobs(bucket, prefix=prefix, delimiter="/")
        names = [b.name[len(prefix) :] for b in pages]
        names += [p[len(prefix) :] for p in pages.prefixes]
        return sorted({n.rstrip("/") for n in names if n.rstrip("/")})
    if not exists(path):
        return []
    names = _gfile().listdir(path) if is_remote(path) else os.listdir(path)
    return sorted(n.rstrip("/") for n in names)


def glob(pattern: str) -> List[str]:
    """Paths matching ``pattern``: a folder's by Python's glob, a bucket's by
    ``tf.io.gfile.glob`` (as TFX's ExampleGen lists them)."""
    if is_remote(pattern):
        return _gfile().glob(pattern)
    import glob as local_glob

    return local_glob.glob(pattern)


def read_bytes(path: str) -> bytes:
    if is_bucket(path):
        from google.api_core import exceptions

        bucket, name = _gcs(path)
        try:
            return bucket.blob(name).download_as_bytes()
        except exceptions.NotFound:
            raise FileNotFoundError(path) from None
    if is_remote(path):
        with _gfile().GFile(path, "rb") as fh:
            return fh.read()
    with open(path, "rb") as fh:
        return fh.read()


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


def write_atomic(path: str, data: Union[bytes, str]) -> None:
    """Writes ``data`` so that readers see the old or the new content, never
    half: locally a temporary file (``_temporary``: two writers never share
    one) renamed over the target; an object store publishes an object only
    once fully written, so a direct write is atomic there."""
    faults.point("write", path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if is_bucket(path):
        bucket, name = _gcs(path)
        bucket.blob(name).upload_from_string(data)
        return
    if is_remote(path):
        makedirs(dirname(path))
        with _gfile().GFile(path, "wb") as fh:
            fh.write(data)
        return
    tmp = _temporary(path, data)
    try:
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def create(path: str, data: Union[bytes, str]) -> bool:
    """Creates ``path`` with ``data`` only if nothing is there yet: True, or
    False with nothing written. Whole or not at all, like ``write_atomic``
    (local: a temporary file, fsync, then ``os.link``, which refuses an
    existing name where a rename would replace it)."""
    faults.point("write", path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if is_bucket(path):
        from google.api_core import exceptions

        bucket, name = _gcs(path)
        try:
            bucket.blob(name).upload_from_string(data, if_generation_match=0)
        except exceptions.PreconditionFailed:
            return False
        return True
    if is_remote(path):
        raise Unsupported(
            f"{path}: create-if-absent needs a local path or gs:// (not {path.split(':')[0]}://)"
        )
    tmp = _temporary(path, data)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


def _temporary(path: str, data: bytes) -> str:
    """``data`` in a fsynced temporary file beside ``path`` (hidden, ``.part``:
    no glob for the target's kind of file matches it); returns its path."""
    makedirs(dirname(path))
    tmp = os.path.join(os.path.dirname(path), f"{TMP_PREFIX}{uuid.uuid4().hex}-{os.path.basename(path)}.part")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return tmp


def copy(src: str, dst: str, data: Optional[bytes] = None) -> bool:
    """Copies the file ``src`` to ``dst`` only if ``dst`` does not exist yet
    (False when it does): a hard link, else ``src``'s bytes (or ``data``) by
    ``create``. Not a server-side copy: fake-gcs-server 1.56 ignores
    ``ifGenerationMatch`` on copy and rewrite. FileNotFoundError: no ``src``."""
    if not is_remote(src) and not is_remote(dst):
        faults.point("write", dst)
        makedirs(dirname(dst))
        try:
            os.link(src, dst)
            return True
        except FileExistsError:
            return False
        except FileNotFoundError:
            raise
        except OSError:
            pass  # another file system: copy the bytes
    return create(dst, read_bytes(src) if data is None else data)


def delete(path: str) -> bool:
    """Deletes the file ``path``; False when it was not there."""
    faults.point("delete", path)
    if is_bucket(path):
        from google.api_core import exceptions

        bucket, name = _gcs(path)
        try:
            bucket.blob(name).delete()
        except exceptions.NotFound:
            return False
        return True
    if is_remote(path):
        if not _gfile().exists(path):
            return False
        _gfile().remove(path)
        return True
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def list_files(folder: str) -> List[str]:
    """Every file under ``folder``, at any depth, as paths relative to it
    ("span-3/x.csv"), sorted; [] when there is none. On gs:// one listing of
    the prefix (strongly consistent: an object whose upload returned is
    listed); folder markers are not files."""
    folder = str(folder).rstrip("/")
    if is_bucket(folder):
        bucket, name = _gcs(folder)
        prefix = f"{name}/" if name else ""
        return sorted(
            b.name[len(prefix) :]
            for b in bucket.client.list_blobs(bucket, prefix=prefix)
            if not b.name.endswith("/")
        )
    if is_remote(folder):
        gfile = _gfile()
        if not gfile.exists(folder):
            return []
        return sorted(
            posixpath.join(top[len(folder) :].lstrip("/"), f) for top, _, fs in gfile.walk(folder) for f in fs
        )
    out = []
    for top, _, fs in os.walk(folder):
        rel = os.path.relpath(top, folder)
        out += [f if rel == "." else os.path.join(rel, f) for f in fs]
    return sorted(out)


@contextlib.contextmanager
def _file_lock(path: str) -> Iterator[None]:
    """Exclusive lock for one local file's compare-and-swap (held for a read
    or a write, never across a caller's work)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    lock = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.cas-lock")
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _digest(data: Optional[bytes]) -> str:
    return "absent" if data is None else hashlib.sha256(data).hexdigest()


def read_versioned(path: str) -> Tuple[Optional[bytes], object]:
    """(content or None when absent, version token) for ``write_if_unchanged``.
    On ``gs://`` the token is the object's generation (0: no object)."""
    if is_bucket(path):
        from google.api_core import exceptions

        bucket, name = _gcs(path)
        blob = bucket.get_blob(name)
        if blob is None:
            return None, 0
        try:
            return blob.download_as_bytes(if_generation_match=blob.generation), blob.generation
        except exceptions.PreconditionFailed:
            raise Conflict(f"{path} changed while it was read") from None
    if is_remote(path):
        raise Unsupported(
            f"{path}: compare-and-swap writes need a local path or gs:// (not {path.split(':')[0]}://)"
        )
    with _file_lock(path):
        data = read_bytes(path) if os.path.exists(path) else None
    return data, _digest(data)


def write_if_unchanged(path: str, data: Union[bytes, str], token: object) -> object:
    """Writes ``data`` only if ``path`` is still as ``read_versioned`` saw it
    (``token``); raises Conflict otherwise. Atomic like ``write_atomic``.
    Returns the token of what it wrote (the next compare-and-swap's)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if is_bucket(path):
        from google.api_core import exceptions

        bucket, name = _gcs(path)
        blob = bucket.blob(name)
        try:
            blob.upload_from_string(data, if_generation_match=token)
        except exceptions.PreconditionFailed:
            raise Conflict(f"{path} was changed by another writer") from None
        return blob.generation
    if is_remote(path):
        raise Unsupported(
            f"{path}: compare-and-swap writes need a local path or gs:// (not {path.split(':')[0]}://)"
        )
    with _file_lock(path):
        current = read_bytes(path) if os.path.exists(path) else None
        if _digest(current) != token:
            raise Conflict(f"{path} was changed by another writer")
        write_atomic(path, data)
    return _digest(data)


def update(path: str, change, attempts: int = 20) -> bool:
    """Read-modify-write by compare-and-swap: ``change(content or None)``
    returns the new content, or None to leave ``path`` as it is. When another
    writer got in between, re-reads and calls ``change`` again (with jitter);
    raises Conflict after ``attempts`` lost races. True when it wrote."""
    import random
    import time

    for _ in range(attempts):
        data, token = read_versioned(path)
        new = change(data)
        if new is None:
            return False
        try:
            write_if_unchanged(path, new, token)
            return True
        except Conflict:
            time.sleep(random.uniform(0.01, 0.2))
    raise Conflict(f"{path}: changed by other writers {attempts} times in a row")
