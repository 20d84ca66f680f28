"""``driftgate run`` and ``driftgate demo``: run region pipelines locally."""

from __future__ import annotations

import time
from typing import List

import click

from driftgate.cli import output
from driftgate.cli.options import (
    config_dir_option,
    data_option,
    int_list,
    load,
    regions_dir,
    root_option,
    schemas_option,
)
from driftgate.cli.output import fmt
from driftgate.core.errors import ExitCode
from driftgate.core.vocabulary import REJECTED

wait_option = click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="seconds to wait when another run of the region holds its lease (then exit 5)",
)
pushgateway_option = click.option(
    "--pushgateway",
    envvar="DRIFTGATE_PUSHGATEWAY",
    default=None,
    help="also push metrics here [env DRIFTGATE_PUSHGATEWAY]",
)


def summary_lines(r) -> List[str]:
    """A short human summary of one RunResult."""
    head = f"{r.region} span {r.span}: "
    judged = canary_line(r.canary) + ([f"  decision: {r.summary}"] if r.summary else []) + model_lines(r)
    if r.blocked:
        lines = [head + "BLOCKED by data anomalies; nothing trained, serving unchanged"]
        lines += [f"  - {reason}" for reason in r.reasons[:10]]
        if len(r.reasons) > 10:
            lines.append(f"  ... and {len(r.reasons) - 10} more (see -o json)")
        return lines + judged
    if r.decision == "skip":
        return [head + f"skipped: {r.reasons[0] if r.reasons else ''}"] + judged
    verdict = "blessed" if r.blessed else "NOT blessed"
    pushed = f"pushed version {r.pushed_version}" if r.pushed_version else "not pushed"
    if r.release_label == REJECTED:
        pushed = f"version {r.pushed_version} REJECTED at release (no label; serving unchanged)"
    elif r.release_label:
        pushed += f" ({r.release_label})"
    lines = [head + f"trained, {verdict}, {pushed} ({r.duration_s:.0f}s)"]
    m = r.metrics
    lines.append(
        f"  rows {r.rows:,}  anomalies {len(r.anomalies)}  auc {fmt(m.get('auc'), '.3f')}  "
        f"accuracy {fmt(m.get('binary_accuracy'), '.3f')}  baseline version {fmt(r.baseline_version)}"
    )
    lines += [f"  not blessed: {reason}" for reason in r.not_blessed_reasons]
    lines.append(f"  serving: {r.serving_dir}")
    return lines + judged


def model_lines(r) -> List[str]:
    """Slices, fairness, importance, the estimate before labels and data
    integrity, as the report's card says them (``components.monitor.model_view``)."""
    from components.monitor import model_view

    integ = {"integrity": r.drift.integrity} if r.drift is not None else {}
    found = model_view.markdown_lines(
        {"canary": r.canary or {}, "slice_metrics": r.slice_metrics, "drift": integ}
    )
    return ["  " + line[2:].replace("**", "") for line in found]


def canary_cell(canary: dict) -> str:
    """The canary judge's verdict in a few characters: ``v2 promote``, ``-`` without a canary."""
    if not canary or canary.get("verdict") in (None, "none"):
        return "-"
    return f"v{canary.get('canary_version')} {canary['verdict']}"


def serving_cell(canary: dict) -> str:
    """The serving model's AUC on the span (the quality check): ``v1 0.635``, ``-`` when not judged."""
    q = (canary or {}).get("quality") or {}
    if q.get("auc") is None:
        return "-"
    return f"v{q['version']} {q['auc']:.3f}" + (" DEGRADED" if q.get("verdict") == "degraded" else "")


def canary_line(canary: dict) -> List[str]:
    """The verdict with its reasons (promote/rollback/pending), for ``driftgate run``."""
    if not canary or canary.get("verdict") in (None, "none"):
        return []
    head = (
        f"  canary v{canary.get('canary_version')} vs stable v{canary.get('stable_version')} "
        f"on {canary.get('rows', 0):,} rows: {canary['verdict'].upper()}"
    )
    return [head] + [f"    {reason}" for reason in canary.get("reasons", [])[:6]]


def demo_table(results) -> str:
    """region x span: rows, anomalies, canary verdict, decision, blessed, pushed version, label, accuracy, AUC, time."""
    rows = []
    for r in results:
        if isinstance(r, tuple):  # (region, span, error message)
            rows.append([r[0], r[1], "error", r[2], "", "", "", "", "", "", "", ""])
            continue
        m = r.metrics
        rows.append(
            [
                r.region,
                fmt(r.span),
                f"{r.rows:,}",
                len(r.anomalies),
                canary_cell(r.canary),
                serving_cell(r.canary),
                r.decision,
                fmt(r.blessed),
                fmt(r.pushed_version),
                fmt(r.release_label),
                fmt(m.get("binary_accuracy"), ".3f"),
                fmt(m.get("auc"), ".3f"),
                f"{r.duration_s:.0f}s",
            ]
        )
    head = [
        "region",
        "span",
        "rows",
        "anomalies",
        "canary",
        "serving auc",
        "decision",
        "blessed",
        "pushed",
        "label",
        "accuracy",
        "auc",
        "time",
    ]
    return output.table(rows, head)


def _run(config, span, *, root, data, schemas, force, pushgateway, wait_s=0.0):
    from driftgate.app.run_span import run_span

    result = run_span(
        config,
        root=root,
        data=data,
        span=span,
        force_retrain=force,
        schemas_dir=schemas,
        pushgateway=pushgateway,
        progress=output.progress,
        wait_s=wait_s,
    )
    if result.canary.get("relocated_from"):
        output.progress(
            f"  root moved: serving configs named {result.canary['relocated_from']}; rewritten for this root"
        )
    for line in result.canary.get("repaired", []):
        output.progress(f"  repaired: {line}")
    for a in result.alerts:
        output.progress(f"  alert {a['key']} ({a['severity']}): {a['outcome']}")
    for w in result.warnings:
        output.progress(f"  warning: {w} (the run itself is done)")
    if result.files.get("report"):
        output.progress(f"  report: {result.files['report']}")
    return result


@click.command("run")
@click.option("--region", required=True)
@click.option("--span", type=int, default=None, help="span to ingest (default: the next one not processed)")
@data_option
@root_option
@click.option("--force-retrain", is_flag=True, help="retrain even when drift does not call for it")
@wait_option
@pushgateway_option
@config_dir_option
@schemas_option
@output.output_option
@click.option("--json", "as_json", is_flag=True, help="same as -o json")
def run_cmd(
    region, span, data, root, force_retrain, wait, pushgateway, config_dir, schemas, output_format, as_json
):
    """Run one region's pipeline locally (LocalDagRunner)."""
    from pipelines.preflight import DataBlocked

    as_json = as_json or output_format == output.JSON
    config = load(region, config_dir)
    try:
        result = _run(
            config,
            span,
            root=root,
            data=data,
            schemas=schemas,
            force=force_retrain,
            pushgateway=pushgateway,
            wait_s=wait,
        )
    except DataBlocked as exc:
        msg = f"region {region}: span blocked: {exc}. Nothing was trained; serving is unchanged."
        if as_json:
            out = {
                "region": region,
                "span": span,
                "decision": "block",
                "blocked": True,
                "reasons": [str(exc)],
            }
            output.emit_json(out)
        output.error(msg)
        return ExitCode.BLOCKED
    if as_json:
        output.emit_json(result.to_json_dict())
    else:
        output.lines(summary_lines(result))
    if result.release_label == REJECTED:
        return ExitCode.REJECTED
    return ExitCode.BLOCKED if result.blocked else ExitCode.OK


@click.command("demo")
@data_option
@root_option
@click.option(
    "--spans", callback=int_list, default="1,2,3,4,5,6", show_default=True, help="comma-separated spans"
)
@click.option("--regions", default=None, help="comma-separated (default: all configured)")
@pushgateway_option
@config_dir_option
@schemas_option
@output.output_option
def demo_cmd(data, root, spans, regions, pushgateway, config_dir, schemas, output_format):
    """Run every region over several spans; print a table."""
    from driftgate.core.config import available_regions

    out = output
    if not data:
        raise click.UsageError("--data DIR is required (or set DRIFTGATE_DATA)")
    names = regions.split(",") if regions else list(available_regions(regions_dir(config_dir)))
    results, failed = [], False
    t0 = time.time()
    for region in names:
        for span in spans:
            out.progress(f"== {region} span {span} ==")
            try:
                config = load(region, config_dir)
                results.append(
                    _run(
                        config,
                        span,
                        root=root,
                        data=data,
                        schemas=schemas,
                        force=False,
                        pushgateway=pushgateway,
                    )
                )
            except Exception as exc:  # keep going: the table shows which run failed and why
                failed = True
                results.append((region, span, str(exc).splitlines()[0][:120]))
                out.error(f"{region} span {span}: {exc}")
    if output_format == out.JSON:
        out.emit_json(
            [
                r.to_json_dict()
                if not isinstance(r, tuple)
                else {"region": r[0], "span": r[1], "error": r[2]}
                for r in results
            ]
        )
    else:
        click.echo(demo_table(results))
        for r in results:
            if not isinstance(r, tuple) and r.summary:
                click.echo(f"{r.region} span {r.span}: {r.summary}")
        click.echo(
            f"{len(results)} runs in {time.time() - t0:.0f}s; per-run JSON in {root}/<REGION>/results/, "
            f"served models in {root}/serving/"
        )
    return ExitCode.ERROR if failed else ExitCode.OK


COMMANDS = [run_cmd, demo_cmd]
