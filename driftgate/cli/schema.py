"""``driftgate schema``: the region's versioned schemas (show, validate, diff,
check-span, infer, propose, release; check-files and check-released for the
pre-commit hooks). Errors name the file, line and feature."""

from __future__ import annotations

import click

from driftgate.cli.options import (
    config_dir_option,
    data_option,
    load,
    region_option,
    regions_dir,
    schemas_option,
)
from driftgate.core.errors import ExitCode


def _version(text, default: int) -> int:
    if text is None:
        return default
    t = str(text).lower().lstrip("v")
    if not t.isdigit():
        raise click.BadParameter(f"version '{text}': use a number like 2 or v2")
    return int(t)


def _common(f):
    return region_option(config_dir_option(schemas_option(f)))


@click.group("schema")
def schema_group():
    """Versioned schemas: infer, show, validate, diff, propose, check-span, release."""


@schema_group.command("show")
@click.argument("version", required=False)
@_common
def show_cmd(version, region, config_dir, schemas):
    """Summary of a version (default: the pinned one)."""
    from driftgate.app import schema_workflow
    from pipelines import schema_store

    config = load(region, config_dir)
    v = _version(version, config.schema.version)
    path = schema_store.version_path(region, v, schemas)
    click.echo(f"{region} schema v{v} ({path}){' - pinned' if v == config.schema.version else ''}")
    click.echo(schema_workflow.summary(schema_store.load(path)))
    return 0


@schema_group.command("validate")
@click.option("--file", "file_", default=None, help="a schema.pbtxt to check before committing it")
@_common
def validate_cmd(file_, region, config_dir, schemas):
    """Check the pinned version, or an edited file."""
    from driftgate.app import schema_workflow
    from pipelines import schema_store

    config = load(region, config_dir)
    path = file_ or schema_store.version_path(region, config.schema.version, schemas)
    schema_workflow.validate_file(path, config)
    click.echo(f"{path}: valid for region {region}")
    return 0


@schema_group.command("diff")
@click.argument("version_a")
@click.argument("version_b")
@_common
def diff_cmd(version_a, version_b, region, config_dir, schemas):
    """Semantic diff of two versions."""
    from driftgate.app import schema_workflow
    from pipelines import schema_store

    pinned = load(region, config_dir).schema.version
    va, vb = _version(version_a, pinned), _version(version_b, pinned)
    lines = schema_workflow.diff(
        schema_store.load(schema_store.version_path(region, va, schemas)),
        schema_store.load(schema_store.version_path(region, vb, schemas)),
    )
    click.echo(f"{region} v{va} -> v{vb}: " + (f"{len(lines)} change(s)" if lines else "no semantic change"))
    if lines:
        click.echo("\n".join(lines))
    return 0


@schema_group.command("check-span")
@click.option("--span", type=int, required=True)
@click.option("--version", "version", default=None, help="default: the pinned version")
@data_option
@_common
def check_span_cmd(span, version, data, region, config_dir, schemas):
    """Would a span pass under a version? (exit 3 when it would not)"""
    from driftgate.app.schema_drafts import check_span

    config = load(region, config_dir)
    v = _version(version, config.schema.version)
    findings = check_span(config, span, v, data, schemas)
    if not findings:
        click.echo(f"{region} span {span} passes schema v{v}")
        return 0
    click.echo(f"{region} span {span} fails schema v{v}: {len(findings)} anomaly(ies)")
    for f in findings:
        click.echo(f"  {f.feature}: {', '.join(f.types)}: {f.description}")
    return ExitCode.BLOCKED


def _draft(mode, span, data, region, config_dir, schemas):
    from driftgate.app.schema_drafts import draft_next_version

    config = load(region, config_dir)
    d = draft_next_version(config, span, mode, data, schemas)
    if mode == "propose" and len(d.changes) == 1:
        click.echo(f"span {span} needs no change that can be made automatically")
    click.echo(f"wrote {d.path} and an entry in {d.changelog}")
    for line in d.changes[1:]:
        click.echo(f"  {line}")
    for line in d.not_fixed:
        click.echo(f"  not fixed (edit by hand): {line}")
    for p in d.problems:
        click.echo(f"  problem to fix before pinning: {p}")
    click.echo(
        f"next: review, `driftgate schema check-span --region {region} --span {span} --version {d.version}`, "
        f"then set schema.version: {d.version} in {config.source_file}"
    )
    return 0


def _draft_command(mode: str, doc: str):
    @schema_group.command(mode, help=doc)
    @click.option("--span", type=int, required=True)
    @data_option
    @_common
    def command(span, data, region, config_dir, schemas):
        return _draft(mode, span, data, region, config_dir, schemas)

    return command


_draft_command("infer", "Draft the next version from a span's statistics.")
_draft_command("propose", "Next version with the smallest changes accepting a span.")


@schema_group.command("release")
@click.argument("version", required=False)
@_common
def release_cmd(version, region, config_dir, schemas):
    """Record a version as released (its content may never change)."""
    from driftgate.app import schema_workflow
    from pipelines import schema_store

    config = load(region, config_dir)
    v = _version(version, config.schema.version)
    schema_workflow.validate_file(schema_store.version_path(region, v, schemas), config)
    key, sha = schema_workflow.release(region, v, schemas)
    click.echo(f"{key} released ({sha[:12]}): it may no longer be edited")
    return 0


@schema_group.command("check-files")
@click.argument("files", nargs=-1)
@config_dir_option
def check_files_cmd(files, config_dir):
    """Validate each schemas/<REGION>/v<N>/schema.pbtxt given against its
    region's config (the pre-commit hook; other files are ignored)."""
    from driftgate.app.schema_review import check_files

    checks = check_files(files, regions_dir(config_dir))
    for c in checks:
        click.echo(f"{c.path}: valid for region {c.region}" if c.ok else c.problem, err=not c.ok)
    return ExitCode.ERROR if any(not c.ok for c in checks) else ExitCode.OK


@schema_group.command("check-released")
@config_dir_option
@schemas_option
def check_released_cmd(config_dir, schemas):
    """Refuse an edited released version, or a pinned version not released
    (the pre-commit hook)."""
    from driftgate.app.schema_review import check_released

    problems = check_released(regions_dir(config_dir), schemas)
    for line in problems:
        click.echo(line, err=True)
    return ExitCode.ERROR if problems else ExitCode.OK


COMMANDS = [schema_group]
