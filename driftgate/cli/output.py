"""The one place that formats results: tables sized to their content, or JSON."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, List, Sequence

import click

from driftgate.core import logs

TABLE, JSON = "table", "json"
output_option = click.option(
    "-o",
    "--output",
    "output_format",
    type=click.Choice([TABLE, JSON]),
    default=TABLE,
    show_default=True,
    help="result format",
)


def fmt(value: Any, spec: str = "") -> str:
    """A cell: '-' for None, yes/no for booleans, ``spec`` for numbers."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format(value, spec)


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    """Columns as wide as their widest cell (tabulate's ``simple`` format)."""
    from tabulate import tabulate

    return tabulate([list(r) for r in rows], headers=list(headers), tablefmt="simple", disable_numparse=True)


def emit_json(data: Any) -> None:
    """One JSON document on stdout (progress stays on stderr)."""
    click.echo(json.dumps(data, default=str))


def lines(text_lines: List[str]) -> None:
    click.echo("\n".join(text_lines))


def progress(line: str) -> None:
    """A progress line on stderr (a log record when logs are JSON)."""
    if logs.is_json():
        import logging

        logging.getLogger("driftgate.progress").info(line.strip())
    else:
        print(line, file=sys.stderr)


def error(msg: str) -> None:
    if logs.is_json():
        import logging

        logging.getLogger("driftgate").error(msg)
    else:
        click.echo(f"driftgate: error: {msg}", err=True)
