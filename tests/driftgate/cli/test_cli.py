"""The CLI as users call it: fast help, clear errors and exit codes."""

import json
import os
import subprocess
import sys

import pytest

from driftgate.cli import main as cli
from driftgate.cli.run import demo_table, summary_lines


def _driftgate(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "driftgate", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def test_help_is_fast_and_imports_no_tensorflow():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from driftgate.cli import main as cli\n"
            "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('TF=' + str('tensorflow' in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "TF=False" in out.stdout and "run" in out.stdout and "demo" in out.stdout
    assert "Exit codes: 0 done, 1 error, 2 usage error, 3 span blocked" in out.stdout


def test_legacy_keras_is_selected_by_importing_the_package():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os; os.environ.pop('TF_USE_LEGACY_KERAS', None)\n"
            "import pipelines, os; print(os.environ.get('TF_USE_LEGACY_KERAS'))",
        ],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"},
    )
    assert out.stdout.strip() == "1"


def test_unknown_region_exits_1_naming_known_regions(tmp_path):
    res = _driftgate("run", "--region", "SFO", "--data", str(tmp_path), "--root", str(tmp_path))
    assert res.returncode == 1
    assert "unknown region 'SFO'" in res.stderr and "EWR, JFK, LGA" in res.stderr


def test_missing_span_directory_exits_1(tmp_path, small_spans):
    res = _driftgate(
        "run", "--region", "EWR", "--span", "9", "--data", str(small_spans), "--root", str(tmp_path)
    )
    assert res.returncode == 1
    assert "span 9 not found" in res.stderr and "spans present: 1, 2" in res.stderr


def test_missing_data_folder_exits_1(tmp_path):
    res = _driftgate("run", "--region", "EWR", "--data", str(tmp_path / "none"), "--root", str(tmp_path))
    assert res.returncode == 1 and "does not exist" in res.stderr


@pytest.mark.parametrize(
    "corruption, message",
    [
        ("drop_column", "missing column(s) temp"),
        ("empty", "no rows"),
    ],
)
def test_bad_span_exits_3_prints_its_json_and_changes_nothing(tmp_path, small_spans, corruption, message):
    data = tmp_path / "data" / "EWR" / "span-1"
    data.mkdir(parents=True)
    lines = (small_spans / "EWR" / "span-1" / "data.csv").read_text().splitlines()
    if corruption == "drop_column":
        header = lines[0].split(",")
        i = header.index("temp")
        lines = [",".join(c for j, c in enumerate(line.split(",")) if j != i) for line in lines]
    else:
        lines = lines[:1]
    (data / "data.csv").write_text("\n".join(lines) + "\n")
    root = tmp_path / "runs"
    res = _driftgate(
        "run", "--region", "EWR", "--data", str(tmp_path / "data"), "--root", str(root), "--json"
    )
    assert res.returncode == 3, res.stderr
    assert message in res.stderr and "serving is unchanged" in res.stderr
    out = json.loads(res.stdout)  # blocked before TFX started: still one JSON object
    assert out["decision"] == "block" and out["blocked"] is True and message in out["reasons"][0]
    assert not root.exists() or not (root / "serving").exists()


def test_demo_table_formats_results_and_errors():
    from components.monitor.result import RunResult

    r = RunResult(
        region="EWR",
        span=1,
        rows=9616,
        anomalies=[],
        blocked=False,
        blessed=True,
        pushed_version=1,
        serving_dir="/s",
        metrics={"auc": 0.7389, "binary_accuracy": 0.7433},
        decision="retrain",
        duration_s=61.0,
        canary={"verdict": "none", "quality": {"version": 1, "auc": 0.6353, "verdict": "degraded"}},
    )
    table = demo_table([r, ("JFK", 2, "boom")])
    assert "EWR" in table and "0.739" in table and "0.743" in table and "yes" in table
    assert "v1 0.635 DEGRADED" in table
    assert "JFK" in table and "error" in table and "boom" in table
    lines = summary_lines(r)
    assert "pushed version 1" in lines[0] and "auc 0.739" in lines[1]
    json.dumps(r.to_json_dict())
    estimate = {"span": 3, "sentence": "estimated AUC 0.700 [0.690, 0.710]"}
    r.canary["quality"]["estimate"] = estimate
    r.slice_metrics = [{"slice": "carrier=EV", "rows": 300.0, "auc": 0.61, "auc_diff": -0.04}]
    lines = summary_lines(r)
    assert "  span 3 before labels: estimated AUC 0.700 [0.690, 0.710]" in lines
    assert any(x.startswith("  candidate by slice: 1 slices; worst carrier=EV AUC 0.610") for x in lines)


def _regions_copy(tmp_path):
    import shutil

    from driftgate.core.config import REGIONS_DIR

    d = tmp_path / "regions"
    shutil.copytree(REGIONS_DIR, d)
    return d


def test_config_typo_exits_1_naming_file_and_key(tmp_path, small_spans):
    regions = _regions_copy(tmp_path)
    (regions / "EWR.yaml").write_text((regions / "EWR.yaml").read_text() + "trainer:\n  learnig_rate: 0.1\n")
    res = _driftgate(
        "run",
        "--region",
        "EWR",
        "--data",
        str(small_spans),
        "--root",
        str(tmp_path / "r"),
        "--config-dir",
        str(regions),
    )
    assert res.returncode == 1
    assert "EWR.yaml: unknown key 'trainer.learnig_rate'" in res.stderr and "learning_rate" in res.stderr


def test_schema_that_does_not_parse_exits_1_naming_file(tmp_path, small_spans):
    schemas = tmp_path / "schemas" / "EWR" / "v1"
    schemas.mkdir(parents=True)
    (schemas / "schema.pbtxt").write_text('feature {\n  name: "late"\n  type: INTEGER\n}\n')
    res = _driftgate(
        "run",
        "--region",
        "EWR",
        "--data",
        str(small_spans),
        "--root",
        str(tmp_path / "r"),
        "--schemas",
        str(tmp_path / "schemas"),
    )
    assert res.returncode == 1
    assert "EWR/v1/schema.pbtxt: schema does not parse" in res.stderr
    assert not (tmp_path / "r" / "serving").exists()


def test_usage_errors_exit_2():
    assert cli.main(["run"]) == 2  # --region missing
    assert cli.main(["no-such-command"]) == 2


def test_version_names_driftgate_and_the_stack(capsys):
    assert cli.main(["--version"]) == 0
    out = capsys.readouterr().out
    for name in ("driftgate", "tfx", "tensorflow-data-validation", "kfp", "tensorflow"):
        assert f"{name} " in out
    assert "not installed" not in out


def test_config_show_names_the_file_of_every_key(capsys):
    assert cli.main(["config", "show", "--region", "EWR", "-o", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["schema.version"]["file"].endswith("EWR.yaml")
    assert shown["data.span_pattern"] == {
        "value": "span-{SPAN}/*.csv",
        "file": shown["data.span_pattern"]["file"],
    }
    assert shown["data.span_pattern"]["file"].endswith("defaults.yaml")


def test_config_validate_checks_every_region_and_fails_on_one_bad(tmp_path, capsys):
    regions = _regions_copy(tmp_path)
    assert cli.main(["config", "validate", "--config-dir", str(regions)]) == 0
    (regions / "JFK.yaml").write_text("schema: {version: 1}\ntrainer: {stepz: 3}\n")
    capsys.readouterr()
    assert cli.main(["config", "validate", "--config-dir", str(regions), "-o", "json"]) == 1
    rows = {r["region"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["EWR"]["status"] == "ok" and rows["JFK"]["status"] == "error"
    assert "unknown key 'trainer.stepz'" in rows["JFK"]["problem"]


def test_config_folder_comes_from_the_environment(tmp_path, capsys, monkeypatch):
    (tmp_path / "BOS.yaml").write_text("schema: {version: 1}\n")  # defaults come from the project
    monkeypatch.setenv("DRIFTGATE_CONFIG_DIR", str(tmp_path))
    assert cli.main(["regions", "-o", "json"]) == 0
    assert [r["region"] for r in json.loads(capsys.readouterr().out)] == ["BOS"]


def test_tables_size_columns_to_their_content():
    from driftgate.cli.data import drift_table

    comparison = {
        "baseline": "previous",
        "span": 1,
        "severity": "warning",
        "drifted": ["account_age_days_since_signup"],
        "features": {
            "account_age_days_since_signup": {
                "kind": "numeric",
                "severity": "warning",
                "count_baseline": 900.0,
                "count_current": 900.0,
                "tests": {"ks": {"score": 0.12, "verdict": "warning", "warning": 0.1, "critical": 0.2}},
            }
        },
    }
    from components.drift.results import Comparison

    lines = drift_table(Comparison.from_json(comparison), 2).splitlines()
    row = next(line for line in lines if line.startswith("account_age_days_since_signup"))
    assert row.split()[:4] == ["account_age_days_since_signup", "numeric", "warning", "0.120*"]


def test_busy_region_exits_5_with_one_line_naming_the_holder(tmp_path, small_spans):
    """A second run while another holds the region's lease: refused before
    anything is read or written (the lease is held here, by this process)."""
    from driftgate.core import lease

    path = tmp_path / "EWR" / "run.lease"
    with lease.held(str(path), "EWR-first-run"):
        res = _driftgate("run", "--region", "EWR", "--data", str(small_spans), "--root", str(tmp_path))
        waited = _driftgate(
            "run", "--region", "EWR", "--data", str(small_spans), "--root", str(tmp_path), "--wait", "1"
        )
    assert res.returncode == 5 and waited.returncode == 5
    (line,) = [x for x in res.stderr.splitlines() if x.strip()]
    assert "region is being run by run EWR-first-run" in line and f"pid {os.getpid()}" in line
    assert "--wait SECONDS" in line
    assert "waited 1s" in waited.stderr and "waiting up to 1s for run EWR-first-run" in waited.stderr
    assert sorted(p.name for p in (tmp_path / "EWR").iterdir()) == [
        ".run.lease.cas-lock",
        "run.lease",
    ]  # nothing else touched


def test_rejected_push_leads_the_summary_and_the_decision_line():
    from components.monitor.alerts import derive
    from components.monitor.result import RunResult, build

    class Art:  # what the nodes hand the recorder (custom properties only)
        def __init__(self, **props):
            self.props = props

        def has_custom_property(self, k):
            return k in self.props

        def get_custom_property(self, k):
            return self.props[k]

    r = build(
        "EWR",
        "/s/EWR/m",
        {
            "pushed_model": Art(pushed=1, pushed_version="4"),
            "release": Art(label="rejected", reason="/s/EWR/m/4: SavedModel failed its smoke test: boom"),
        },
    )
    assert r.release_label == "rejected"
    assert r.summary.startswith(
        ": version 4 was pushed but REJECTED at release, not labelled, serving unchanged"
    )
    lines = summary_lines(RunResult(**{**r.to_json_dict(), "decision": "retrain", "blessed": True}))
    assert "version 4 REJECTED at release (no label; serving unchanged)" in lines[0]
    (alert,) = derive(r, [], 3)
    assert alert.severity == "critical" and alert.feature == "<release v4>" and "boom" in alert.summary
