"""What naming the pipeline image as Beam's SDK container saves a local run.

Without a dependency flag in ``beam_args``, every TFX Beam component copies
the TFX installation into a new temporary folder and builds an sdist of it
(``tfx.utils.dependency_utils``), never deleted. ``pipelines.pipeline.beam_args``
adds ``--sdk_container_image`` to stop that. This runs EWR span 1 (a retrain)
under LocalDagRunner twice, in separate processes: with TFX's old behaviour
(the region's ``beam_args`` as written) and with driftgate's; prints wall time,
per-component seconds and the temporary build folders left behind.

    .venv/bin/python benchmarks/bench_beam_deps.py [--data demo/data]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ONE = """
import glob, json, os, sys, time
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
sys.path.insert(0, {here!r})
import pipelines.pipeline as pp
from driftgate.core.config import load_region_config
from pipelines.local_runner import run_region
if sys.argv[1] == "without":
    pp.beam_args = lambda config, given=None: list(given if given is not None else config.beam_args)
t0 = time.time()
r = run_region(load_region_config("EWR"), root=sys.argv[2], data=sys.argv[3], span=1, progress=lambda _: None)
print(json.dumps({{"wall_s": round(time.time() - t0, 1), "decision": r.decision, "components": r.component_seconds}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(HERE, "demo", "data"))
    args = ap.parse_args()
    rows = {}
    for mode in ("without", "with"):
        root = tempfile.mkdtemp(prefix="driftgate-bench-beam-")
        before = set(glob.glob(os.path.join(tempfile.gettempdir(), "tmp*", "build", "tfx")))
        out = (
            subprocess.run(
                [sys.executable, "-c", ONE.format(here=HERE), mode, root, args.data],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        leaked = set(glob.glob(os.path.join(tempfile.gettempdir(), "tmp*", "build", "tfx"))) - before
        size = sum(
            os.path.getsize(os.path.join(d, f)) for top in leaked for d, _, fs in os.walk(top) for f in fs
        )
        rows[mode] = dict(json.loads(out), leaked_folders=len(leaked), leaked_mb=round(size / 1e6))
        for top in leaked:
            shutil.rmtree(os.path.dirname(os.path.dirname(top)), ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
    print("EWR span 1 (retrain), LocalDagRunner, one process each")
    print(f"{'':<32}{'wall':>8}{'example_gen':>13}{'statistics_gen':>16}{'left in /tmp':>16}")
    for mode, label in (("without", "TFX default (sdist per component)"), ("with", "--sdk_container_image")):
        r = rows[mode]
        c = r["components"]
        print(
            f"{label:<32}{r['wall_s']:>7.1f}s{c['example_gen']:>12.1f}s{c['statistics_gen']:>15.1f}s"
            f"{r['leaked_folders']:>6} ({r['leaked_mb']} MB)"
        )
    os.makedirs(os.path.join(HERE, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(HERE, "benchmarks", "results", "beam_deps.json"), "w") as fh:
        json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
