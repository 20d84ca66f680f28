"""Local copies of files and trees under a root that is a local path or a
bucket URI, for libraries that open files by name (SQLite for ML Metadata,
TensorFlow loading a SavedModel): everything through ``storage``."""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import tempfile
from typing import Iterator

from driftgate.core import storage


def _copy_down(path: str, local: str) -> None:
    for rel in storage.list_files(path):
        target = os.path.join(local, *rel.replace("\\", "/").split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(storage.read_bytes(storage.join(path, rel)))


@contextlib.contextmanager
def local_file(path: str) -> Iterator[str]:
    """A local path for the one file at ``path``, for a library that opens files
    by name (SQLite: ML Metadata): ``path`` itself when local (its folder made);
    for a URI a temporary copy, downloaded when it exists and written back when
    the block ends (on ``gs://`` by compare-and-swap against the generation
    downloaded: Conflict when another writer replaced it meanwhile)."""
    if not storage.is_remote(path):
        storage.makedirs(storage.dirname(path))
        yield path
        return
    folder = tempfile.mkdtemp(prefix="driftgate-")
    local = os.path.join(folder, posixpath.basename(path))
    try:
        if storage.is_bucket(path):
            data, token = storage.read_versioned(path)
        else:
            data, token = (storage.read_bytes(path) if storage.exists(path) else None), None
        if data is not None:
            with open(local, "wb") as fh:
                fh.write(data)
        try:
            yield local
        finally:
            new = open(local, "rb").read() if os.path.exists(local) else None
            if new is not None and new != data:
                storage.write_if_unchanged(path, new, token) if storage.is_bucket(
                    path
                ) else storage.write_atomic(path, new)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def local_copy(path: str) -> Iterator[str]:
    """A local folder holding the tree at ``path``: the path itself when it is
    local, else a temporary download removed afterwards (a SavedModel on a
    bucket is loaded from here)."""
    if not storage.is_remote(path):
        yield path
        return
    local = tempfile.mkdtemp(prefix="driftgate-")
    try:
        _copy_down(path, local)
        yield local
    finally:
        shutil.rmtree(local, ignore_errors=True)
