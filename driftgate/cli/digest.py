"""``driftgate digest``: the week (or month) at a glance across regions, for
stakeholders, from what the runs recorded under the root: an HTML page,
Markdown sized for one Slack message (``--send`` posts it), or JSON.
Docs: ``docs/monitoring.md``."""

from __future__ import annotations

import os

import click

from driftgate.cli import output
from driftgate.cli.options import config_dir_option, data_option, regions_dir, root_option, schemas_option

MARKDOWN = "markdown"


def _configs(config_dir):
    """Every region config that loads (a broken one is named, not fatal: the
    digest reads the root, the configs only add schema drafts and data spans)."""
    from driftgate.core.config import available_regions, load_region_config
    from driftgate.core.strict import ConfigError

    folder, out = regions_dir(config_dir), {}
    for region in available_regions(folder):
        try:
            out[region] = load_region_config(region, folder)
        except ConfigError as exc:
            output.progress(f"warning: {exc} (left out of the digest's configs)")
    return out


def _timezone(ctx, param, value):
    if value is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"{value!r} is not an IANA time zone (e.g. UTC, Europe/Berlin)") from None
    return value


@click.command("digest")
@root_option
@click.option("--period", type=click.Choice(["week", "month"]), default="week", show_default=True)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="YYYY-MM-DD",
    help="the digest covers the last whole week (Monday to Monday) or month ended by the "
    "end of that day [default: now]",
)
@click.option("--regions", default=None, help="comma-separated (default: every region under the root)")
@click.option(
    "--timezone",
    "tz",
    default=None,
    callback=_timezone,
    help="IANA zone of the period boundaries [default: digest.timezone of the config, UTC]",
)
@click.option(
    "--out", default=None, help="the HTML page [default: <root>/reports/digest-<period>-<first day>.html]"
)
@click.option(
    "--link-base",
    envvar="DRIFTGATE_DIGEST_LINK_BASE",
    default=None,
    help="URL the root is served at: report links in the Markdown and Slack become absolute "
    "[env DRIFTGATE_DIGEST_LINK_BASE]",
)
@click.option(
    "--send",
    is_flag=True,
    help="post the Markdown to the alert channels' Slack webhook "
    "(DRIFTGATE_SLACK_WEBHOOK_URL, or DRIFTGATE_SLACK_WEBHOOK_URL_FILE)",
)
@data_option
@config_dir_option
@schemas_option
@click.option(
    "-o",
    "--output",
    "output_format",
    type=click.Choice([output.TABLE, output.JSON, MARKDOWN]),
    default=output.TABLE,
    show_default=True,
    help="result format",
)
def digest_cmd(
    root, period, until, regions, tz, out, link_base, send, data, config_dir, schemas, output_format
):
    """The week (or month) at a glance across regions: what needs a person first."""
    from components.monitor import digest_view
    from driftgate.app import digest as app
    from driftgate.core import storage

    configs = _configs(config_dir)
    settings = app.settings(configs.values())
    doc, span = app.build(
        root,
        period=period,
        timezone=tz or settings.timezone,
        until=until.date() if until else None,
        regions=[r.strip() for r in regions.split(",") if r.strip()] if regions else None,
        configs=configs,
        data=data,
        schemas_dir=schemas,
        canary_pending_days=settings.canary_pending_days,
        progress=output.progress,
    )
    page = app.write_html(doc, root, out or app.default_out(root, span))
    output.progress(f"html: {page}")
    html_rel = storage.relative(page, storage.absolute(root))
    if output_format == output.JSON:
        output.emit_json(doc)
    elif output_format == MARKDOWN:
        click.echo(digest_view.markdown(doc, link_base=link_base, html_link=html_rel), nl=False)
    else:
        rows, head = digest_view.table_rows(doc)
        click.echo(output.table(rows, head))
        needs = doc["needs_person"]
        click.echo(f"needs a person ({len(needs)}):" if needs else "nothing needs a person")
        for i in needs:
            click.echo(f"  {i['text']}" + (f"  [{i['report']}]" if i.get("report") else ""))
    if send:
        text = digest_view.markdown(doc, slack=True, link_base=link_base, html_link=html_rel)
        alerts = next(iter(configs.values())).alerts if configs else None
        app.send(text, os.environ, alerts.retries if alerts else 3, alerts.backoff_seconds if alerts else 1.0)
        output.progress(f"sent to Slack ({len(text)} characters)")
    return 0


COMMANDS = [digest_cmd]
