"""Start-up of one Kubeflow task: seconds from the task process's start to its
executor's ``Do``, against a bare ``python -c "import tensorflow"`` measured in
the same run, through TFX's own entrypoint
(``tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor``) and
driftgate's (``pipelines.kubeflow_entrypoint``) side by side.

Tasks: ``trivial`` (an executor that does nothing) and the span gate and run
recorder of the committed EWR spec (``kubeflow/pipelines/EWR.yaml``: their
``--executor_class_path``, inputs spec and Beam args, input and output artifact
types). Each task's executor class is wrapped (``Probe__<class path>``, a
subclass built when the task imports it) so that ``Do`` prints the time and
ends the process: nothing of the executor's work is measured. Start = the wall
clock just before the parent starts the process; the rounds alternate the
order of the two entrypoints.

    .venv/bin/python benchmarks/bench_task_startup.py [--rounds 3] [--tasks trivial,span_gate]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "kubeflow" / "pipelines" / "EWR.yaml"
MARK = "bench_task_startup.do"
# TFX's entrypoint module as it is, run with the ``system.*`` titles registered
# (without them a task writing a KFP UI artifact fails before its Do)
OLD_CODE = (
    "from absl import app; "
    "from tfx.orchestration.kubeflow.v2 import compiler_utils; "
    "from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor as tfx_entrypoint; "
    "compiler_utils.TITLE_TO_CLASS_PATH.update({titles!r}); "
    "app.run(tfx_entrypoint.main, flags_parser=tfx_entrypoint._parse_flags)"
)
NEW = ["-m", "pipelines.kubeflow_entrypoint"]
BARE = ["-c", f"import json, time, tensorflow; print(json.dumps({{{MARK!r}: time.time()}}))"]
# what a task should not need to import (shown per task: which were loaded at Do)
HEAVY = {
    "tfx.components": "tfx.components",  # only its __init__ counts: see _loaded
    "tfx.v1": "tfx.v1",
    "kfp.client": "kfp.client",
    "tensorflow_model_analysis": "tfma",
    "tensorflow_data_validation": "tfdv",
    "apache_beam": "beam",
}
SPEC_TASKS = ("span_gate", "run_recorder")


# --- in the task process: the executor classes the entrypoints import -------


def _loaded() -> list:
    out = []
    for module, short in HEAVY.items():
        mod = sys.modules.get(module)
        if mod is None:
            continue
        if module in ("tfx.components", "tfx.v1") and "__getattr__" in vars(mod):
            continue  # registered by pipelines.kubeflow_entrypoint, its __init__ not run
        out.append(short)
    return out


def _probe_do(self, input_dict, output_dict, exec_properties):
    sys.stdout.write(json.dumps({MARK: time.time(), "loaded": _loaded()}) + "\n")
    sys.stdout.flush()
    os._exit(0)


def __getattr__(name: str):
    if name == "TrivialExecutor":
        from tfx.dsl.components.base import base_executor

        return type(name, (base_executor.BaseExecutor,), {"Do": _probe_do, "__module__": __name__})
    if name.startswith("Probe__"):
        module, _, cls = name[len("Probe__") :].replace("__", ".").rpartition(".")
        real = getattr(importlib.import_module(module), cls)
        return type(name, (real,), {"Do": _probe_do, "__module__": __name__})
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- in the benchmark process ----------------------------------------------


def _spec() -> dict:
    import yaml

    return next(d for d in yaml.safe_load_all(SPEC.read_text()) if d)


def _artifact(definition: dict, uri: str, n: int) -> dict:
    return {"name": str(n), "uri": uri, "type": definition["artifactType"]}


def task_args(task: str, spec: dict, work: Path, pipeline_root: str, run_id: str) -> list:
    """The task's container args, ``{{$}}`` filled with an ExecutorInput built
    from its component's artifact definitions (typed inputs: the old entrypoint
    cannot repair empty ones)."""
    task_dir = work / task
    if task == "trivial":
        component = {
            "outputDefinitions": {"artifacts": {"out": {"artifactType": {"schemaTitle": "tfx.String"}}}}
        }
        args = ["--executor_class_path", "benchmarks.bench_task_startup.TrivialExecutor"]
        args += ["--json_serialized_invocation_args", "{{$}}"]
    else:
        component = spec["components"][task]
        args = list(spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]["args"])
        i = args.index("--executor_class_path") + 1
        args[i] = "benchmarks.bench_task_startup.Probe__" + args[i].replace(".", "__")
    inputs = component.get("inputDefinitions", {}).get("artifacts", {})
    outputs = component.get("outputDefinitions", {}).get("artifacts", {})
    run_dir = f"{pipeline_root}/driftgate-ewr/{run_id}"
    executor_input = {
        "inputs": {
            "artifacts": {
                k: {"artifacts": [_artifact(d, str(work / "upstream" / k.strip("_")), n)]}
                for n, (k, d) in enumerate(sorted(inputs.items()), 100)
            }
        },
        "outputs": {
            "artifacts": {
                k: {"artifacts": [_artifact(d, f"{run_dir}/{task}/{k}", n)]}
                for n, (k, d) in enumerate(sorted(outputs.items()), 200)
            },
            "outputFile": str(task_dir / "executor_output.json"),
        },
    }
    return [json.dumps(executor_input) if a == "{{$}}" else a for a in args]


def timed(argv: list, env: dict) -> tuple:
    """(seconds from process start to the probe's mark, modules loaded at Do)."""
    start = time.time()
    proc = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    for line in proc.stdout.splitlines():
        if MARK in line:
            doc = json.loads(line)
            return doc[MARK] - start, doc.get("loaded", [])
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
    raise SystemExit(f"{' '.join(argv[:2])}: no Do mark (exit {proc.returncode}):\n{tail}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tasks", default=",".join(("trivial",) + SPEC_TASKS))
    ap.add_argument("--out", help="also write the figures as JSON here")
    args = ap.parse_args()
    tasks = [t for t in args.tasks.split(",") if t]
    sys.path.insert(0, str(ROOT))
    from pipelines.kubeflow_entrypoint import SYSTEM_TITLES

    old = ["-c", OLD_CODE.format(titles=SYSTEM_TITLES)]
    spec = _spec()
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="3")
    times = {"bare": []}
    times.update({(t, e): [] for t in tasks for e in ("old", "new")})
    loaded = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        root = str(work / "root")
        # as the compiled spec sets them: the new entrypoint renews the (absent) lease
        env.update(DRIFTGATE_LEASE_FILE=str(work / "EWR" / "run.lease"), DRIFTGATE_PIPELINE_ROOT=root)
        argv = {t: task_args(t, spec, work, root, "bench-run") for t in tasks}
        for r in range(args.rounds):
            times["bare"].append(timed(BARE, env)[0])
            for t in tasks:
                for e in ("old", "new") if r % 2 == 0 else ("new", "old"):
                    seconds, mods = timed((old if e == "old" else NEW) + argv[t], env)
                    times[(t, e)].append(seconds)
                    loaded[(t, e)] = mods
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    bare = statistics.median(times["bare"])

    def cell(xs):
        return f"{statistics.median(xs):5.2f} s ({min(xs):.2f}-{max(xs):.2f})"

    print(f"process start -> executor Do, median (min-max) of {args.rounds} rounds")
    print(f"{'bare import tensorflow':34s} {cell(times['bare'])}   1.00x")
    result = {"rounds": args.rounds, "bare_import_tensorflow_s": round(bare, 2), "tasks": {}}
    for t in tasks:
        old, new = statistics.median(times[(t, "old")]), statistics.median(times[(t, "new")])
        for e, m in (("old", old), ("new", new)):
            mods = ",".join(loaded[(t, e)]) or "-"
            print(f"{t + ' ' + e:34s} {cell(times[(t, e)])}   {m / bare:4.2f}x   loaded: {mods}")
        print(f"{t + ' new/old':34s} {new / old:5.2f}")
        result["tasks"][t] = {
            "old_s": round(old, 2),
            "new_s": round(new, 2),
            "old_vs_bare": round(old / bare, 2),
            "new_vs_bare": round(new / bare, 2),
            "loaded_at_do": {"old": loaded[(t, "old")], "new": loaded[(t, "new")]},
        }
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
