"""The versioned-schema store: ``schemas/<REGION>/v<N>/schema.pbtxt``, what
the runners read (a version's file, parsed with errors that name the file,
line and column), ``schemas/released.json`` (the content hash of every version
ever pinned: a released version never changes) and the git commit a schema
file was last changed in (recorded with every run).

The workflow ML engineers use on it (validate, diff, infer, propose, release)
is ``driftgate.app.schema_workflow``; docs: ``docs/schemas.md``.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Dict, List, Optional

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from driftgate.core.config import project_root
from driftgate.core.errors import DriftgateError

TYPE_NAMES = ("INT", "FLOAT", "BYTES", "STRUCT")
RELEASED_FILE = "released.json"


class SchemaError(DriftgateError, ValueError):
    """A schema file is unusable; the message names file, line or feature."""


def schemas_root(schemas_dir: Optional[Path] = None) -> Path:
    return Path(schemas_dir) if schemas_dir else project_root() / "schemas"


def version_path(region: str, version: int, schemas_dir: Optional[Path] = None) -> Path:
    return schemas_root(schemas_dir) / region / f"v{version}" / "schema.pbtxt"


def versions(region: str, schemas_dir: Optional[Path] = None) -> List[int]:
    """Versions present for ``region``, ascending."""
    folder = schemas_root(schemas_dir) / region
    if not folder.is_dir():
        return []
    return sorted(int(p.name[1:]) for p in folder.iterdir() if re.fullmatch(r"v\d+", p.name))


def parse(text: str, source: str) -> schema_pb2.Schema:
    """Parses a Schema text proto; errors name the file, line and column."""
    try:
        return text_format.Parse(text, schema_pb2.Schema())
    except text_format.ParseError as exc:
        msg = str(exc)
        m = re.search(r'Enum type "tensorflow.metadata.v0.FeatureType" has no value named (\w+)', msg)
        if m:
            msg += f" (feature types are {', '.join(TYPE_NAMES)})"
        raise SchemaError(f"{source}:{msg}") from exc


def load(path: Path) -> schema_pb2.Schema:
    if not Path(path).is_file():
        raise SchemaError(f"{path}: no such schema file")
    return parse(Path(path).read_text(), str(path))


def dumps(schema: schema_pb2.Schema, header: str = "") -> str:
    return header + text_format.MessageToString(schema)


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def release_key(region: str, version: int) -> str:
    """A version's key in ``released.json``: ``<REGION>/v<N>``."""
    return f"{region}/v{version}"


def released(schemas_dir: Optional[Path] = None) -> Dict[str, str]:
    """``{"<REGION>/v<N>": sha256}`` of every released version."""
    path = schemas_root(schemas_dir) / RELEASED_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def release_problem(
    region: str, version: int, recorded: str, schemas_dir: Optional[Path] = None
) -> Optional[str]:
    """What is wrong with released ``region``/``version`` (recorded hash
    ``recorded``): its file gone or edited since, in one line; None when intact."""
    path = version_path(region, version, schemas_dir)
    if not path.is_file():
        return f"{path}: version {version} of {region} was released and is gone; restore it"
    if digest(path) != recorded:
        return (
            f"{path}: version {version} of {region} was released and has been edited since; "
            "restore it and put the change in a new version"
        )
    return None


def git_commit_of(path: Path) -> Optional[str]:
    """The commit that last changed ``path``, when it is in a git checkout."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%h", "--", str(path)],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=str(Path(path).parent),
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
