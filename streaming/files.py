"""Where a landed region's objects live, under a folder or a bucket prefix
alike (every read and write goes through ``driftgate.core.storage``):

    <data>/<REGION>/span-<N>/<topic>+<partition>+<first offset, 20 digits>.csv
    <data>/<REGION>/span-<N>/_MANIFEST.json   files, rows, offset ranges, sha256
    <data>/<REGION>/span-<N>/_SUCCESS         written last: the span is complete
    <data>/<REGION>/_late/span-<N>/...        records that came after the seal
    <data>/<REGION>/_land/checkpoint.json     the commit point (``streaming.sink.commit``)
    <data>/<REGION>/_land/pending/e<epoch>/span-<N>/<name>.csv
                                              written before the commit, published after it

A span file's name carries its partition and first offset. A file is
written under ``_land/pending/`` by the lander that holds the checkpoint's
epoch, committed by the checkpoint, and only then published (copied, or
linked on a disk) to its span folder: no file a reader can see was ever
written by a lander that did not commit it (``streaming.sink``).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Dict, List, Optional, Tuple

from driftgate.core import storage
from driftgate.core.vocabulary import LANDING_MANIFEST, SEALED_MARKER

MANIFEST = LANDING_MANIFEST  # "_MANIFEST.json"
SUCCESS = SEALED_MARKER  # "_SUCCESS"
LATE = "_late"
LAND = "_land"
CHECKPOINT = f"{LAND}/checkpoint.json"
PENDING = f"{LAND}/pending"
_NAME = re.compile(r"^(?P<topic>.+)\+(?P<partition>\d+)\+(?P<first>\d{20})\.csv$")
_FOLDER = re.compile(r"^(?:(?P<late>_late)/)?span-(?P<span>\d+)$")


def folder_of(span: int, late: bool = False) -> str:
    """A span's folder relative to the region's ("span-3", "_late/span-3")."""
    return f"{LATE}/span-{span}" if late else f"span-{span}"


def parse_folder(folder: str) -> Optional[Tuple[int, bool]]:
    """(span, late) of a relative span folder, None for anything else."""
    m = _FOLDER.match(folder)
    return (int(m["span"]), bool(m["late"])) if m else None


def span_dir(region_dir: str, span: int, late: bool = False) -> str:
    return storage.join(region_dir, *folder_of(span, late).split("/"))


def file_name(topic: str, partition: int, first_offset: int) -> str:
    return f"{topic}+{partition}+{first_offset:020d}.csv"


def parse_name(name: str) -> Optional[Tuple[str, int, int]]:
    m = _NAME.match(name)
    return (m["topic"], int(m["partition"]), int(m["first"])) if m else None


def is_temporary(name: str) -> bool:
    """A write that never finished (``storage.write_atomic``'s temporary file)."""
    return name.rsplit("/", 1)[-1].startswith(storage.TMP_PREFIX)


def ranges(offsets) -> List[List[int]]:
    """Sorted offsets as ``[[first, last], ...]`` runs."""
    out: List[List[int]] = []
    for o in sorted(offsets):
        if out and o == out[-1][1] + 1:
            out[-1][1] = o
        else:
            out.append([o, o])
    return out


def read_json(path: str) -> Optional[dict]:
    try:
        return json.loads(storage.read_bytes(path))
    except FileNotFoundError:
        return None


def write_json(path: str, doc: dict) -> None:
    storage.write_atomic(path, json.dumps(doc, indent=1, sort_keys=True))


def with_rows(manifest: dict) -> dict:
    """The manifest with ``rows`` the sum of its files'."""
    manifest["rows"] = sum(f["rows"] for f in manifest["files"].values())
    return manifest


def sha256(path: str) -> str:
    return hashlib.sha256(storage.read_bytes(path)).hexdigest()


class Listing:
    """One listing of everything under a region's folder or prefix (a single
    paged request on a bucket): span folders, their files and seals, staged
    files."""

    def __init__(self, region_dir: str):
        self.region_dir = region_dir
        self.folders: Dict[str, List[str]] = {}  # relative span folder -> names in it
        self.pending: List[str] = []  # relative paths under _land/pending/
        for rel in storage.list_files(region_dir):
            rel = rel.replace("\\", "/")
            if rel.startswith(PENDING + "/"):
                self.pending.append(rel)
                continue
            folder, _, name = rel.rpartition("/")
            if parse_folder(folder) is not None:
                self.folders.setdefault(folder, []).append(name)

    def spans(self, late: bool = False) -> List[Tuple[int, str]]:
        """``[(span, relative folder)]``, by span."""
        out = []
        for folder in self.folders:
            span, is_late = parse_folder(folder)
            if is_late == late:
                out.append((span, folder))
        return sorted(out)

    def sealed(self, folder: str) -> bool:
        return SUCCESS in self.folders.get(folder, [])


def span_folders(region_dir: str, late: bool = False) -> List[Tuple[int, str]]:
    """``[(span, folder path)]`` of landed span folders, by span."""
    return [(s, storage.join(region_dir, *f.split("/"))) for s, f in Listing(region_dir).spans(late)]


def is_sealed(folder: str) -> bool:
    return storage.exists(storage.join(folder, SUCCESS))
