"""Released schema versions and their history: ``schemas/released.json`` (the
content hash of every version ever pinned: a released version never changes),
each region's ``CHANGELOG.md``, and the git commit a schema file was last
changed in (recorded with every run). Files are written atomically."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from driftgate.core import storage
from pipelines.schemas import SchemaError, schemas_root, version_path

RELEASED_FILE = "released.json"


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def released(schemas_dir: Optional[Path] = None) -> Dict[str, str]:
    """``{"<REGION>/v<N>": sha256}`` of every released version."""
    path = schemas_root(schemas_dir) / RELEASED_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def release(region: str, version: int, schemas_dir: Optional[Path] = None) -> Tuple[str, str]:
    """Records ``region``/``version`` as released (its content hash); refuses to
    change the hash of a version already released."""
    key = f"{region}/v{version}"
    path = version_path(region, version, schemas_dir)
    sha = digest(path)
    table = released(schemas_dir)
    if key in table and table[key] != sha:
        raise SchemaError(
            f"{path}: version {version} of {region} was released and has been edited since; "
            f"restore it and put the change in a new version"
        )
    table[key] = sha
    out = schemas_root(schemas_dir) / RELEASED_FILE
    storage.write_atomic(str(out), json.dumps(dict(sorted(table.items())), indent=1) + "\n")
    return key, sha


def append_changelog(region: str, version: int, lines: List[str], schemas_dir: Optional[Path] = None) -> Path:
    import datetime as dt

    path = schemas_root(schemas_dir) / region / "CHANGELOG.md"
    text = path.read_text() if path.is_file() else f"# {region} schema changelog\n"
    entry = f"\n## v{version} ({dt.date.today().isoformat()}, draft: review before pinning)\n\n" + "".join(
        f"- {line}\n" for line in lines
    )
    storage.write_atomic(str(path), text.rstrip("\n") + "\n" + entry)
    return path


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
