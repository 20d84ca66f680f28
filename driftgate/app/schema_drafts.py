"""Drafting a region's next schema version from a span (``infer`` / ``propose``)
and checking a span against a version: the schema workflow people run, as
functions that return what they did."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from driftgate.core import storage


@dataclass
class Draft:
    version: int
    path: Path
    changelog: Path
    changes: List[str]  # first line: how the draft was made
    not_fixed: List[str] = field(default_factory=list)  # what needs a person
    problems: List[str] = field(default_factory=list)  # to fix before pinning


def span_statistics(config, span: int, data: Optional[str], schema):
    """TFDV statistics of a span's CSV files, computed with ``schema``."""
    from driftgate.app import schema_workflow
    from driftgate.core.config import region_data_dir
    from pipelines import preflight

    sf = preflight.span_files(region_data_dir(config, data), config.data.span_pattern, span)
    return schema_workflow.span_csv_statistics(list(sf.files), schema)


def check_span(config, span: int, version: int, data: Optional[str], schemas_dir=None) -> list:
    """The anomalies ``span`` raises under schema ``version`` ([] when it passes)."""
    from driftgate.app import schema_workflow
    from pipelines import schema_store

    schema = schema_workflow.validate_file(
        schema_store.version_path(config.region, version, schemas_dir), config
    )
    return schema_workflow.check(span_statistics(config, span, data, schema), schema)


def draft_next_version(config, span: int, mode: str, data: Optional[str] = None, schemas_dir=None) -> Draft:
    """Writes ``v<N+1>`` (``mode``: ``infer`` drafts from the span's statistics,
    ``propose`` makes the smallest edits to the pinned version that accept the
    span) and its changelog entry; never overwrites an existing version."""
    from driftgate.app import schema_workflow
    from pipelines import schema_store

    region, pinned = config.region, config.schema.version
    latest = max(schema_store.versions(region, schemas_dir) or [0])
    nxt = latest + 1
    base = schema_store.load(schema_store.version_path(region, pinned, schemas_dir)) if latest else None
    stats = span_statistics(config, span, data, base)
    if mode == "infer":
        new = schema_workflow.infer(stats, config)
        changes = [f"drafted by `driftgate schema infer` from span {span}"]
        changes += schema_workflow.diff(base, new) if base is not None else []
        not_fixed = []
    else:
        if base is None:
            raise schema_store.SchemaError(f"region {region} has no schema yet: use `driftgate schema infer`")
        prop = schema_workflow.propose(stats, base)
        new, not_fixed = prop.schema, list(prop.not_fixed)
        changes = [f"proposed by `driftgate schema propose` from span {span} (base v{pinned})"] + list(
            prop.changes
        )
    path = schema_store.version_path(region, nxt, schemas_dir)
    if path.exists():
        raise FileExistsError(f"{path} already exists; versions are never overwritten")
    header = f"# driftgate schema for region {region}, version {nxt} (draft from span {span}).\n"
    storage.write_atomic(str(path), schema_store.dumps(new, header))
    log = schema_workflow.append_changelog(
        region, nxt, changes + [f"NOT fixed: {x}" for x in not_fixed], schemas_dir
    )
    return Draft(nxt, path, log, changes, not_fixed, schema_workflow.problems(new, config))
