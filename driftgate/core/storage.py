"""Reading and writing files under a root that is a local path or a bucket URI.

The only module that looks at a scheme: everything else asks ``is_remote`` or
simply calls these functions. Local paths use the OS directly (fast, and no
TensorFlow import in the CLI's fast paths); URIs go through ``tf.io.gfile``
(``gs://`` in the pipeline image).
"""

from __future__ import annotations

import os
import posixpath
import uuid
from typing import List, Union

TMP_PREFIX = ".tmp-"


def is_remote(path: str) -> bool:
    """True for a URI with a scheme (``gs://bucket/...``), False for a local path."""
    return "://" in str(path)


def absolute(path: str) -> str:
    """A local path made absolute (runs must not depend on the working
    directory later); a URI unchanged."""
    return str(path) if is_remote(path) else os.path.abspath(path)


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def join(base: str, *parts: str) -> str:
    base = str(base)
    return posixpath.join(base, *parts) if is_remote(base) else os.path.join(base, *parts)


def dirname(path: str) -> str:
    return posixpath.dirname(path) if is_remote(path) else os.path.dirname(path)


def exists(path: str) -> bool:
    return _gfile().exists(path) if is_remote(path) else os.path.exists(path)


def makedirs(path: str) -> None:
    if is_remote(path):
        _gfile().makedirs(path)
    else:
        os.makedirs(path, exist_ok=True)


def listdir(path: str) -> List[str]:
    """Entry names in a folder ([] when it does not exist)."""
    if not exists(path):
        return []
    names = _gfile().listdir(path) if is_remote(path) else os.listdir(path)
    return sorted(n.rstrip("/") for n in names)


def read_bytes(path: str) -> bytes:
    if is_remote(path):
        with _gfile().GFile(path, "rb") as fh:
            return fh.read()
    with open(path, "rb") as fh:
        return fh.read()


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


def write_atomic(path: str, data: Union[bytes, str]) -> None:
    """Writes ``data`` so that readers see the old or the new content, never half.

    Local files: a uniquely named temporary file in the same folder (two writers
    never share it), fsync, rename over the target. Object stores (gs://)
    publish an object only once fully written, so a direct write is atomic there.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    makedirs(dirname(path))
    if is_remote(path):
        with _gfile().GFile(path, "wb") as fh:
            fh.write(data)
        return
    tmp = os.path.join(os.path.dirname(path), f"{TMP_PREFIX}{uuid.uuid4().hex}-{os.path.basename(path)}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
