"""``driftgate config`` (show, validate) and ``driftgate regions``."""

from __future__ import annotations

import dataclasses

import click

from driftgate.cli import output
from driftgate.cli.options import config_dir_option, region_option, regions_dir


def _flatten(value, prefix="") -> dict:
    if dataclasses.is_dataclass(value):
        value = {
            f.name: getattr(value, f.name) for f in dataclasses.fields(value) if not f.metadata.get("derived")
        }
    if isinstance(value, dict) and value:
        out = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): list(value) if isinstance(value, tuple) else value}


@click.group("config")
def config_group():
    """Region configuration: show the merged result, validate every region."""


@config_group.command("show")
@region_option
@config_dir_option
@output.output_option
def show_cmd(region, config_dir, output_format):
    """The merged config of a region, with the file each key came from."""
    from driftgate.core.config import load_region_config_with_origins

    cfg, origin = load_region_config_with_origins(region, regions_dir(config_dir))
    flat = _flatten(cfg)

    def source(key: str) -> str:
        while key and key not in origin:
            key = key.rsplit(".", 1)[0] if "." in key else ""
        return origin.get(key, "(default)")

    if output_format == output.JSON:
        output.emit_json({k: {"value": v, "file": source(k)} for k, v in flat.items()})
    else:
        click.echo(output.table([[k, v, source(k)] for k, v in flat.items()], ["key", "value", "file"]))
    return 0


@config_group.command("reference")
@config_dir_option
def reference_cmd(config_dir):
    """Every config key with its type, range, default and meaning (Markdown:
    docs/configuration-reference.md is this output)."""
    from driftgate.app.config_reference import reference

    click.echo(reference(regions_dir(config_dir)), nl=False)


@config_group.command("validate")
@config_dir_option
@output.output_option
def validate_cmd(config_dir, output_format):
    """Load every region in the config folder (for CI and pre-commit); exit 1 on any error."""
    from driftgate.core.config import ConfigError, available_regions, load_region_config

    folder = regions_dir(config_dir)
    rows = []
    for region in available_regions(folder):
        try:
            load_region_config(region, folder)
            rows.append({"region": region, "status": "ok", "problem": ""})
        except ConfigError as exc:
            rows.append({"region": region, "status": "error", "problem": str(exc)})
    if output_format == output.JSON:
        output.emit_json(rows)
    else:
        click.echo(
            output.table(
                [[r["region"], r["status"], r["problem"]] for r in rows], ["region", "status", "problem"]
            )
        )
    return 1 if any(r["status"] == "error" for r in rows) else 0


@click.command("regions")
@config_dir_option
@output.output_option
def regions_cmd(config_dir, output_format):
    """List configured regions and their files."""
    from driftgate.core.config import available_regions

    folder = regions_dir(config_dir)
    rows = [{"region": r, "file": str(folder / f"{r}.yaml")} for r in available_regions(folder)]
    if output_format == output.JSON:
        output.emit_json(rows)
    else:
        click.echo(output.table([[r["region"], r["file"]] for r in rows], ["region", "file"]))
    return 0


COMMANDS = [config_group, regions_cmd]
