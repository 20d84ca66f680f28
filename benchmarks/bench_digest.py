"""How long ``driftgate digest`` takes for a 3-region, 6-span root (goal:
under 5 s): reading the root, summarising, the HTML page and the Markdown.

- in process: ``driftgate.app.digest.build`` + ``write_html`` + ``markdown``,
  median and worst of several rounds (the imports paid once);
- a fresh process running the command (``driftgate digest -o json``): what the
  weekly CronJob pays, imports included.

The root is the synthetic one the tests use (``tests/components/monitor/
digest_root.py``: result JSONs with the gate's full drift report over 15
features and three baselines), or a real one with ``--root DIR`` (e.g. the
demo's: ``driftgate demo --data /tmp/dg/data --root /tmp/dg/runs``).

    .venv/bin/python benchmarks/bench_digest.py [--root DIR] [--until YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

ROUNDS = 10


def _in_process(root: str, until, tz: str) -> dict:
    from components.monitor import digest_view
    from driftgate.app import digest as app

    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        doc, period = app.build(root, period="week", timezone=tz, until=until)
        app.write_html(doc, root, app.default_out(root, period))
        md = digest_view.markdown(doc, slack=True)
        times.append(time.perf_counter() - t0)
    runs = sum(len(r["runs"]) for r in doc["regions"])
    return {
        "median_s": round(statistics.median(times), 4),
        "max_s": round(max(times), 4),
        "regions": len(doc["regions"]),
        "runs_in_period": runs,
        "needs_person": len(doc["needs_person"]),
        "markdown_chars": len(md),
    }


def _fresh_process(root: str, until, tz: str) -> float:
    code = (
        "import sys; from driftgate.cli.digest import digest_cmd; "
        "digest_cmd(sys.argv[1:], standalone_mode=False)"
    )
    args = ["--root", root, "--timezone", tz, "-o", "json"] + (
        ["--until", until.isoformat()] if until else []
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    json.loads(out.stdout)
    return round(elapsed, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root", default=None, help="a real root (default: the synthetic 3-region, 6-span one)"
    )
    parser.add_argument(
        "--until", default=None, help="YYYY-MM-DD closing the week (default: the root's week)"
    )
    parser.add_argument("--timezone", default="Europe/Berlin")
    args = parser.parse_args()
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        if args.root:
            root, kind = os.path.abspath(args.root), "given root"
            until = date.fromisoformat(args.until) if args.until else None
        else:
            from tests.components.monitor import digest_root

            root, kind = str(digest_root.standard_root(Path(tmp) / "runs")), "synthetic (tests' digest_root)"
            until = date.fromisoformat(args.until) if args.until else date(2026, 12, 6)
        files = sum(len(fs) for _, _, fs in os.walk(root))
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)
        result = {
            "root": kind,
            "files": files,
            "megabytes": round(size / 1e6, 2),
            "in_process": _in_process(root, until, args.timezone),
            "fresh_process_s": _fresh_process(root, until, args.timezone),
            "when": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cpus": os.cpu_count(),
        }
    print(json.dumps(result, indent=1))
    out = HERE / "results" / ("digest.json" if not args.root else "digest_given_root.json")
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
