"""``driftgate audit``: the region's audit trail as a table or JSON, checked
against its release state (``driftgate.app.audit_trail``)."""

from __future__ import annotations

import click

from driftgate.cli import output
from driftgate.cli.options import config_dir_option, load, region_option, root_option
from driftgate.core.errors import ExitCode


@click.command("audit")
@region_option
@root_option
@click.option("--since", default=None, help="records at or after this UTC date or time (2026-03-01)")
@click.option("--until", default=None, help="records before this UTC date or time")
@click.option("--repair", is_flag=True, help="write the release records a crash left out, from release.json")
@config_dir_option
@output.output_option
def audit_cmd(region, root, since, until, repair, config_dir, output_format):
    """Who or what changed the region's model or schema, on what evidence; checked
    against the release state (exit 1 when a release is not explained)."""
    from driftgate.app import audit_trail

    trail = audit_trail.load(load(region, config_dir), root, since, until, repair=repair)
    if output_format == output.JSON:
        output.emit_json(trail.to_json_dict())
        return ExitCode.OK if trail.ok else ExitCode.ERROR
    rows = [
        [
            r["ts"][:19].replace("T", " "),
            r["kind"],
            r["action"],
            "-" if r.get("span") is None else r["span"],
            "-" if r.get("version") is None else r["version"],
            audit_trail.trigger_text(r),
            (r.get("summary") or "")[:70],
        ]
        for r in trail.records
    ]
    click.echo(output.table(rows, ["time (UTC)", "kind", "action", "span", "version", "by", "summary"]))
    for entry in trail.repaired:
        click.echo(
            f"repaired: {entry['action']} v{entry.get('version')} at {entry.get('at')} (from release.json)"
        )
    state = f"stable v{trail.stable}, canary {'v' + str(trail.canary) if trail.canary else 'none'}"
    if trail.ok:
        click.echo(f"check: the trail explains the release state ({state})")
        return ExitCode.OK
    for problem in trail.problems:
        click.echo(f"check: {problem}", err=True)
    return ExitCode.ERROR


COMMANDS = [audit_cmd]
