"""A landed region's files (local disk): span files, manifests, the seal, the
lander's checkpoint. Every write is ``storage.write_atomic`` (a hidden
temporary file in the same folder, fsync, rename), so no half-written file
ever matches the span pattern ``span-{SPAN}/*.csv``.

    <data>/<REGION>/span-<N>/<topic>+<partition>+<first offset, 20 digits>.csv
    <data>/<REGION>/span-<N>/_MANIFEST.json   files, rows, offset ranges, sha256
    <data>/<REGION>/span-<N>/_SUCCESS         written last: the span is complete
    <data>/<REGION>/_late/span-<N>/...        records that came after the seal
    <data>/<REGION>/_land/checkpoint.json     next offset per partition, watermark

A span file's name carries its partition and first offset. The checkpoint is
the commit point: a file whose first offset is at or past its partition's
checkpointed next offset was written by a checkpoint that never committed,
and recovery deletes it before those offsets are read again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from typing import Iterable, List, Optional, Sequence, Tuple

from driftgate.core import storage
from driftgate.core.vocabulary import LANDING_MANIFEST, SEALED_MARKER

MANIFEST = LANDING_MANIFEST  # "_MANIFEST.json"
SUCCESS = SEALED_MARKER  # "_SUCCESS"
LATE = "_late"
CHECKPOINT = os.path.join("_land", "checkpoint.json")
_NAME = re.compile(r"^(?P<topic>.+)\+(?P<partition>\d+)\+(?P<first>\d{20})\.csv$")


def span_dir(region_dir: str, span: int, late: bool = False) -> str:
    return (
        os.path.join(region_dir, LATE, f"span-{span}") if late else os.path.join(region_dir, f"span-{span}")
    )


def file_name(topic: str, partition: int, first_offset: int) -> str:
    return f"{topic}+{partition}+{first_offset:020d}.csv"


def parse_name(name: str) -> Optional[Tuple[str, int, int]]:
    m = _NAME.match(name)
    return (m["topic"], int(m["partition"]), int(m["first"])) if m else None


def is_temporary(name: str) -> bool:
    """A write that never finished (``storage.write_atomic``'s temporary file)."""
    return name.startswith(storage.TMP_PREFIX)


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def ranges(offsets: Sequence[int]) -> List[List[int]]:
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
        with open(path) as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None


def write_json(path: str, doc: dict) -> None:
    storage.write_atomic(path, json.dumps(doc, indent=1, sort_keys=True))


def write_manifest(folder: str, manifest: dict) -> None:
    """Writes a span folder's manifest, its ``rows`` the sum of its files'."""
    manifest["rows"] = sum(f["rows"] for f in manifest["files"].values())
    write_json(os.path.join(folder, MANIFEST), manifest)


def sha256(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def span_folders(region_dir: str, late: bool = False) -> List[Tuple[int, str]]:
    """``[(span, folder)]`` of landed span folders, by span."""
    base = os.path.join(region_dir, LATE) if late else region_dir
    out = []
    if os.path.isdir(base):
        for name in os.listdir(base):
            m = re.fullmatch(r"span-(\d+)", name)
            if m:
                out.append((int(m[1]), os.path.join(base, name)))
    return sorted(out)


def is_sealed(folder: str) -> bool:
    return os.path.exists(os.path.join(folder, SUCCESS))
