"""``driftgate backtest``: replay regions' history under retraining policies."""

from __future__ import annotations

import json
import os
import time
from typing import List, Optional

import click

from driftgate.cli import output
from driftgate.cli.options import config_dir_option, data_option, load, regions_dir, schemas_option
from driftgate.core.errors import ExitCode


def span_range(ctx, param, text: Optional[str]) -> Optional[List[int]]:
    """click callback: '1-12' or '1,2,5' -> span numbers."""
    if not text:
        return None
    try:
        if "-" in text:
            lo, hi = (int(x) for x in text.split("-", 1))
            return list(range(lo, hi + 1))
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"expected a range '1-12' or a list '1,2,5', got {text!r}") from None


@click.command("backtest")
@data_option
@click.option("--regions", default=None, help="comma-separated (default: all configured)")
@click.option("--spans", callback=span_range, default=None, help="range '1-12' or list (default: every span)")
@click.option("--policies", default=None, help="comma-separated (default: all; never and always always run)")
@click.option(
    "--train-window", type=int, default=None, help="also train on the newest K spans and compare with one"
)
@click.option(
    "--out", default="runs/backtest", show_default=True, help="folder for the matrix, JSON and HTML"
)
@config_dir_option
@schemas_option
@output.output_option
def backtest_cmd(data, regions, spans, policies, train_window, out, config_dir, schemas, output_format):
    """Replay each region's spans under retraining policies, scored on the next span."""
    from backtest import report, young
    from backtest.data import BacktestError
    from backtest.run import YOUNG, backtest_region, leave_one_region_out, overall
    from driftgate.core import storage
    from driftgate.core.config import available_regions, region_data_dir

    if not data:
        raise click.UsageError("--data DIR is required (or set DRIFTGATE_DATA)")
    names = regions.split(",") if regions else list(available_regions(regions_dir(config_dir)))
    chosen = [x.strip() for x in policies.split(",")] if policies else None
    t0 = time.time()
    results = []
    try:
        for region in names:
            cfg = load(region, config_dir)
            results.append(
                backtest_region(
                    cfg,
                    region_data_dir(cfg, data),
                    out,
                    spans=spans,
                    policies=chosen,
                    train_window=train_window,
                    schemas_dir=schemas,
                    progress=output.progress,
                )
            )
    except BacktestError as exc:
        output.error(str(exc))
        return ExitCode.ERROR
    leave_one_region_out(results)  # needs every region's rows
    total = overall(results)
    doc = {
        "regions": [r.to_json() for r in results],
        "overall": [r.to_json() for r in total],
        "seconds": round(time.time() - t0, 1),
    }
    storage.write_atomic(os.path.join(out, "backtest.json"), json.dumps(doc, indent=1))
    storage.write_atomic(os.path.join(out, "backtest.html"), report.html_page(results, total))
    if output_format == output.JSON:
        output.emit_json(doc)
        return ExitCode.OK
    for res in results:
        click.echo(f"{res.region} (spans {res.spans[0]}-{res.spans[-1]}, {len(res.spans) - 1} decisions)")
        click.echo(output.table(report.table_rows(res.rows), report.HEAD))
        stale = "  ".join(f"{age}: {auc:.3f}" for age, auc in res.staleness.items())
        click.echo(f"mean AUC by model age (spans): {stale}")
        if res.window:
            w = res.window
            click.echo(
                f"train on newest {w['k']} spans: AUC {w['window_mean_auc']:.4f} vs one span "
                f"{w['one_span_mean_auc']:.4f} on the next span ({len(w['spans_scored'])} spans)"
            )
        if res.young:
            click.echo("a young region meets each later span as its second (span 1's model serving):")
            for name in YOUNG:
                y = young.summary(res.young, name)
                click.echo(
                    f"  {name}: retrains on spans {y['retrained_on'] or 'none'}, "
                    f"AUC on the next span {y['mean_auc_change']:+.3f} vs staying ({y['helped']} helped)"
                )
        click.echo("")
    click.echo(f"all regions ({len(results)})")
    click.echo(output.table(report.table_rows(total), report.HEAD))
    click.echo(f"{time.time() - t0:.0f}s; matrix, JSON and HTML in {out}/ (backtest.html)")
    return ExitCode.OK


COMMANDS = [backtest_cmd]
