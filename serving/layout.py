"""The TF Serving model base path: numbered version folders, each a SavedModel.

TF Serving loads ``<base>/<N>/`` for integer N once ``saved_model.pb`` is
there. Versions are written under a temporary name and renamed into place, so
a reader never sees half a version. Paths may be local or any filesystem
TensorFlow's gfile knows (``gs://``...). Only ``tf.io.gfile`` is used, imported
lazily, so this module stays cheap for the CLI. Where the base path lives
under a root is ``driftgate.core.layout.RegionLayout.model_base_path``.
"""

from __future__ import annotations

import json
import os
from typing import List, Optional

from driftgate.core import faults, storage

SAVED_MODEL = "saved_model.pb"
TMP_PREFIX = storage.TMP_PREFIX
RELEASE_STATE_FILE = "release.json"  # beside the base path, written by serving/release.py


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def list_versions(base: str) -> List[int]:
    """Complete versions (folders named by an integer holding saved_model.pb), ascending."""
    gfile = _gfile()
    if not gfile.isdir(base):
        return []
    versions = []
    for name in gfile.listdir(base):
        name = name.rstrip("/")
        if name.isdigit() and gfile.exists(storage.join(base, name, SAVED_MODEL)):
            versions.append(int(name))
    return sorted(versions)


def serving_version(base: str) -> Optional[int]:
    """The version serving the region: the one labelled ``stable`` in the
    region's release state (``serving/release.py``) when there is one, else the
    newest complete version (TF Serving's default policy); None when nothing serves."""
    state = storage.join(storage.dirname(base), RELEASE_STATE_FILE)
    if storage.exists(state):
        return json.loads(storage.read_text(state)).get("stable")
    versions = list_versions(base)
    return versions[-1] if versions else None


def next_version(base: str) -> int:
    """One above every version folder present, complete or not."""
    gfile = _gfile()
    taken = [0]
    if gfile.isdir(base):
        taken += [int(n.rstrip("/")) for n in gfile.listdir(base) if n.rstrip("/").isdigit()]
    return max(taken) + 1


def copy_tree(src: str, dst: str) -> None:
    """Copies a folder recursively with gfile (works across filesystems)."""
    gfile = _gfile()
    for dirpath, _, files in gfile.walk(src):
        rel = os.path.relpath(dirpath, src)
        target = dst if rel == "." else storage.join(dst, rel)
        gfile.makedirs(target)
        for f in files:
            gfile.copy(storage.join(dirpath, f), storage.join(target, f), overwrite=True)


def publish_version(model_dir: str, base: str, version: Optional[int] = None) -> int:
    """Copies the SavedModel in ``model_dir`` to ``<base>/<version>`` atomically.

    The copy goes to ``<base>/.tmp-<version>`` first and is renamed into place,
    so TF Serving never loads a partial version. Returns the version written.
    """
    gfile = _gfile()
    if not gfile.exists(storage.join(model_dir, SAVED_MODEL)):
        raise FileNotFoundError(f"{model_dir}: no {SAVED_MODEL}; not a SavedModel, not pushed")
    gfile.makedirs(base)
    version = version or next_version(base)
    final = storage.join(base, str(version))
    faults.point("write", final)
    if gfile.exists(final):
        raise FileExistsError(f"{final} already exists; versions are never overwritten")
    tmp = storage.join(base, f"{TMP_PREFIX}{version}")
    if gfile.exists(tmp):
        gfile.rmtree(tmp)
    copy_tree(model_dir, tmp)
    gfile.rename(tmp, final, overwrite=False)
    return version
