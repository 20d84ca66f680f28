"""What a team's config repository checks on every commit (the pre-commit
hooks in ``.pre-commit-hooks.yaml``; docs: ``docs/schemas.md``).

- :func:`check_files`: each changed ``schemas/<REGION>/v<N>/schema.pbtxt``
  parses and is valid for its region's config (the same checks as
  ``driftgate schema validate``);
- :func:`check_released`: no released version was edited (its content hash
  in ``schemas/released.json`` still matches) and every region's pinned
  version is released.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional

from driftgate.app.schema_workflow import validate_file
from driftgate.core.config import ConfigError, available_regions, load_region_config
from driftgate.core.errors import DriftgateError
from pipelines.schema_store import RELEASED_FILE, release_key, release_problem, released, schemas_root

SCHEMA_FILE = re.compile(r"(?:^|/)(?P<region>[A-Za-z][A-Za-z0-9_-]*)/v(?P<version>\d+)/schema\.pbtxt$")


@dataclass(frozen=True)
class FileCheck:
    path: str
    region: Optional[str]
    problem: str  # "" when the file is valid

    @property
    def ok(self) -> bool:
        return not self.problem


def check_files(paths: Iterable[str], regions_dir: Path) -> List[FileCheck]:
    """One check per schema file in ``paths`` (other files are ignored)."""
    out = []
    for path in paths:
        m = SCHEMA_FILE.search(Path(path).as_posix())
        if not m:
            continue
        region = m.group("region")
        try:
            config = (
                load_region_config(region, regions_dir) if region in available_regions(regions_dir) else None
            )
            validate_file(Path(path), config)
            out.append(FileCheck(path, region, ""))
        except (DriftgateError, ConfigError) as exc:
            out.append(FileCheck(path, region, str(exc)))
    return out


def check_released(regions_dir: Path, schemas_dir: Optional[Path] = None) -> List[str]:
    """One line per released version edited since, or pinned version not released."""
    table = released(schemas_dir)
    problems = []
    for key, sha in sorted(table.items()):
        region, v = key.split("/v")
        problem = release_problem(region, int(v), sha, schemas_dir)
        if problem:
            problems.append(problem)
    for region in available_regions(regions_dir):
        try:
            pinned = load_region_config(region, regions_dir).schema.version
        except ConfigError:
            continue  # the config hook names it
        if release_key(region, pinned) not in table:
            problems.append(
                f"{regions_dir / (region + '.yaml')}: pins schema v{pinned} of {region}, which is not in "
                f"{schemas_root(schemas_dir) / RELEASED_FILE}: run `driftgate schema release --region {region} {pinned}`"
            )
    return problems
