"""Fault injection: runs killed, overlapping, moved, out of disk, read-only, rejected.

Every scenario starts from a copy of one region root where span 1 trained and
version 1 serves as stable, breaks a real ``driftgate run`` process (the CLI,
LocalDagRunner, the real TFX components) at a named failpoint
(``driftgate.core.faults``: SIGKILL, or the OSError a full disk or read-only
mount raises), then runs again without the fault. After every step the region
must hold (``assert_nothing_lost``):

- ``history.json`` has one entry per span;
- every version folder in the serving base path is labelled (stable, canary,
  an earlier stable) or listed as rejected with its reason in ``release.json``;
- ``models.config`` (and ``stable.config`` / ``canary.config``) parse as
  ``tensorflow_serving.config.ModelServerConfig``, carry exactly the labels
  of the committed ``release.json`` (and no newer revision), name the root's
  own base path, and every label points at a version folder holding
  ``saved_model.pb``.

The module prints one summary line at the end of the session (``faults
injected ..., nothing lost``). Not proven here: a kill inside the kernel's
rename (atomic by POSIX), the real TF Serving binary loading the configs
(none on this machine), a real full disk or read-only mount (the OSErrors are
raised at the write, as the kernel would raise them), and a Kubeflow task
killed by its pod being evicted (the same code runs there).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REGION, MODEL = "EWR", "flights_late"


def recovered(scenario: str) -> None:
    """Records a scenario whose faults were injected and recovered from, for
    the session's summary line (tests/conftest.py; a file, so it also works
    across pytest-xdist workers)."""
    with open(os.environ["DRIFTGATE_TEST_FAULTS_SUMMARY"], "a") as fh:
        fh.write(json.dumps([scenario, 1, 1]) + "\n")


@pytest.fixture(scope="module")
def base(tmp_path_factory, flights_frame):
    """Data (EWR spans 1-3, 400 rows each), a small-model config folder, and a
    root where span 1 ran (version 1 stable)."""
    from driftgate.app import datasets

    top = tmp_path_factory.mktemp("faults")
    sample = (
        flights_frame[(flights_frame.origin == REGION) & flights_frame.month.isin([1, 2, 3])]
        .groupby("month", group_keys=False)
        .apply(lambda g: g.sample(400, random_state=11))
    )
    datasets.write_spans(sample, "origin", "month", str(top / "data"), columns=datasets.FLIGHTS_COLUMNS)
    (top / "regions").mkdir()
    (top / "regions" / f"{REGION}.yaml").write_text(
        textwrap.dedent(
            f"""\
            region: {REGION}
            schema: {{version: 1}}
            trainer: {{train_steps: 60, eval_steps: 4, batch_size: 32}}
            evaluation: {{min_auc: 0.5, min_accuracy: 0.5, min_auc_improvement: -1.0}}
            """
        )
    )
    env = dict(top=top, data=top / "data", regions=top / "regions")
    root = top / "base"
    first = drive(env, root, "--span", "1")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["release_label"] == "stable"
    return env | {"root": root}


def drive(env, root, *args, fault=None, wait=True):
    """``driftgate run`` in its own process, as an operator or a scheduler starts it."""
    cmd = [
        sys.executable,
        "-m",
        "driftgate",
        "run",
        "--region",
        REGION,
        "--root",
        str(root),
        "--data",
        str(env["data"]),
        "--config-dir",
        str(env["regions"]),
        "-o",
        "json",
        *args,
    ]
    environ = {k: v for k, v in os.environ.items() if k != "DRIFTGATE_FAULT"}
    if fault:
        environ["DRIFTGATE_FAULT"] = fault
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ)
    if not wait:
        return proc
    out, err = proc.communicate(timeout=900)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def copy_root(base, tmp_path, name="root") -> Path:
    root = tmp_path / name
    shutil.copytree(base["root"], root)
    return root


def history(root: Path) -> list:
    return json.loads((root / REGION / "state" / "history.json").read_text())


def release_state(root: Path):
    from serving import release

    return release.load_state(str(root / "serving" / REGION), MODEL)


def assert_nothing_lost(root: Path) -> None:
    from serving import release
    from serving.layout import list_versions

    spans = [h["span"] for h in history(root)]
    assert len(spans) == len(set(spans)), f"history has a span twice: {spans}"
    sdir = root / "serving" / REGION
    st = release_state(root)
    labelled = {st.stable, st.canary, *st.previous_stables}
    reasons = {
        e["version"]: e.get("reason", "") for e in st.history if e["action"] in ("rejected", "superseded")
    }
    reasons.update({e["version"]: e.get("reason", "") for e in st.history if e["action"] == "rollback"})
    for v in list_versions(str(sdir / MODEL)):
        assert v in labelled or (
            v in st.rejected and reasons.get(v)
        ), f"version {v} is on disk but neither labelled nor rejected with a reason: {st}"
    for name, labels in (
        ("models.config", {"stable": st.stable, "canary": st.canary}),
        ("stable.config", {"stable": st.stable}),
        ("canary.config", {"canary": st.canary or st.stable}),
    ):
        text = (sdir / name).read_text()
        revision = int(text.split("\n", 1)[0].rsplit(" ", 1)[1])  # configs change only when labels do
        assert revision <= st.revision, (name, revision, st.revision)
        (model,) = release.parse_config(text).model_config_list.config
        assert model.base_path == str(sdir / MODEL)
        assert dict(model.version_labels) == {k: v for k, v in labels.items() if v is not None}
        for v in model.version_labels.values():
            assert (sdir / MODEL / str(v) / "saved_model.pb").exists()


def state_digest(serving: Path) -> dict:
    """Digest of the serving folder's files but its lock files (their holder
    line is written by taking the lock, not by a release step)."""
    from tests.e2e.helpers import tree_digest

    return {k: v for k, v in tree_digest(serving).items() if not k.endswith("lock")}


def killed(proc) -> bool:
    return proc.returncode == -signal.SIGKILL


def assert_configs_parse(root: Path) -> None:
    """What must hold even right after a fault: every config a ModelServerConfig, history one entry per span."""
    from serving import release

    spans = [h["span"] for h in history(root)]
    assert len(spans) == len(set(spans)), f"history has a span twice: {spans}"
    for name in ("models.config", "stable.config", "canary.config"):
        release.parse_config((root / "serving" / REGION / name).read_text())


def test_chain_of_faults_each_recovered_by_the_next_run(base, tmp_path):
    """Seven runs of span 2 on one root. Each run after a fault is that fault's
    re-run: it must get past the point where the last one stopped (take span 2
    again, repair what was left) before it is itself stopped at the next fault;
    the last run has none and must succeed. Between the kill after the push and
    the kill during the label write, the root is moved to another path (the old
    one deleted): from there on every step runs on the moved root."""
    from serving import repair

    root = copy_root(base, tmp_path, "first")
    history_before = (root / REGION / "state" / "history.json").read_bytes()

    # 1. full disk when the gate writes the span's history
    run = drive(base, root, fault="write:enospc:state/history.json")
    assert run.returncode == 1 and "No space left on device" in run.stderr, run.stderr[-2000:]
    assert (root / REGION / "state" / "history.json").read_bytes() == history_before  # whole, as it was
    assert not list((root / REGION / "state").glob(".tmp-*"))
    assert_nothing_lost(root)
    recovered("full disk on the state write")

    # 2. killed right after the gate recorded span 2
    run = drive(base, root, fault="gate.recorded:kill")
    assert killed(run), run.stderr[-2000:]
    assert [(h["span"], h["completed"]) for h in history(root) if h["span"] == 2] == [(2, False)]
    assert_nothing_lost(root)
    recovered("kill after the gate")

    # 3. killed in training: span 2 was taken again (a scheduled run: no --span)
    run = drive(base, root, "--force-retrain", fault="trainer.fit:kill")
    assert killed(run), run.stderr[-2000:]
    assert "EWR span 2 (oldest span not yet processed)" in run.stderr
    assert release_state(root).canary is None
    assert_nothing_lost(root)
    recovered("kill in training")

    # 4. killed after the push, before the release step labelled version 2
    run = drive(base, root, "--force-retrain", fault="pusher.published:kill")
    assert killed(run), run.stderr[-2000:]
    assert (root / "serving" / REGION / MODEL / "2" / "saved_model.pb").exists()
    assert release_state(root).canary is None and 2 not in release_state(root).rejected
    assert_configs_parse(root)
    recovered("kill after the push, before labelling")

    # the root is restored elsewhere; the old path is gone
    moved = tmp_path / "restored" / "root"
    shutil.copytree(root, moved)
    shutil.rmtree(root)
    old_base = str(root / "serving" / REGION / MODEL)

    # 5. killed during the label write (release.json committed, configs not yet)
    run = drive(base, moved, "--force-retrain", fault="release.state_written:kill")
    assert killed(run), run.stderr[-2000:]
    st = release_state(moved)
    assert st.rejected == [2] and st.canary == 3 and st.stable == 1  # 2: reconciled; 3: labelled, then killed
    assert any(e["action"] == "relocated" and old_base in e["reason"] for e in st.history)
    assert "canary" not in (moved / "serving" / REGION / "models.config").read_text()  # behind release.json
    assert_configs_parse(moved)
    recovered("moved root")
    recovered("kill during the label write")

    # 6. the serving folder is read-only: the repair of the configs cannot be written
    serving = moved / "serving" / REGION
    before = state_digest(serving)
    run = drive(base, moved, fault=f"write:erofs:{serving}")
    assert run.returncode == 1 and "Read-only file system" in run.stderr, run.stderr[-2000:]
    assert state_digest(serving) == before
    recovered("read-only serving folder")

    # 7. no fault: the run repairs the configs, finishes span 2, and the region is whole
    run = drive(base, moved)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout)
    assert out["span"] == 2 and out["canary"]["repaired"] == [
        f"TF Serving configs were behind release.json (revision {st.revision}): rewritten"
    ]
    assert [(h["span"], h["completed"]) for h in history(moved)] == [(1, True), (2, True)]
    assert release_state(moved).canary == 3
    assert old_base not in (serving / "models.config").read_text()
    assert_nothing_lost(moved)
    reasons = {e["version"]: e["reason"] for e in release_state(moved).history if e["action"] == "rejected"}
    assert reasons == {2: repair.UNLABELLED}
    releases = json.loads((moved / REGION / "state" / "releases.json").read_text())
    assert not releases["3"]["model_uri"].startswith("/")  # relative to the region's root
    assert (moved / REGION / releases["3"]["model_uri"]).is_dir()
    # the audit trail explains the release state: what the kills left unrecorded, the repair step wrote
    from driftgate.app import audit_trail
    from driftgate.core.config import load_region_config

    trail = audit_trail.load(load_region_config(REGION), str(moved))
    assert trail.ok, trail.problems
    reconciled = [r for r in trail.records if r["trigger"].get("by") == "reconciled"]
    assert ("canary", 3) in [(r["action"], r["version"]) for r in reconciled]  # killed before recording it
    failed = [r for r in trail.records if r["kind"] == "span_decision" and r["action"] == "failed"]
    assert len(failed) >= 2 and any("No space left on device" in r["summary"] for r in failed)


def test_rejected_push_is_said_by_the_decision_line_exit_code_metric_and_alert(base, tmp_path):
    root = copy_root(base, tmp_path)
    run = drive(base, root, "--force-retrain", fault="release.smoke_test:enospc")
    assert run.returncode == 4, run.stderr[-2000:]
    out = json.loads(run.stdout)
    assert (out["pushed_version"], out["release_label"]) == (2, "rejected")
    assert out["summary"].startswith("retrain: version 2 was pushed but REJECTED at release, not labelled")
    assert "No space left on device" in out["summary"]
    metrics = (root / "metrics" / "driftgate_ewr.prom").read_text()
    assert 'driftgate_release_rejected{region="EWR",version="2"} 1.0' in metrics
    from components.monitor.alerts import derive
    from components.monitor.result import RunResult

    (alert,) = [a for a in derive(RunResult(**out), [], 3) if a.feature == "<release v2>"]
    assert alert.severity == "critical" and "REJECTED" in alert.summary
    st = release_state(root)
    assert st.rejected == [2] and st.stable == 1 and st.canary is None
    assert_nothing_lost(root)
    recovered("version rejected at release")


def test_overlapping_runs_second_refused_or_waits_and_both_results_are_their_own(base, tmp_path):
    """The operator's case: a backfill of span 2 and a run of span 3 started together."""
    root = copy_root(base, tmp_path)
    backfill = drive(base, root, "--span", "2", "--force-retrain", wait=False)
    deadline = time.time() + 120
    lease = root / REGION / "run.lease"
    while time.time() < deadline and not (lease.exists() and '"released": false' in lease.read_text()):
        time.sleep(0.2)
    refused = drive(base, root, "--span", "3")
    waited = drive(base, root, "--span", "3", "--wait", "900", wait=False)
    b_out, b_err = backfill.communicate(timeout=900)
    w_out, w_err = waited.communicate(timeout=900)
    assert refused.returncode == 5, refused.stderr[-2000:]
    line = refused.stderr.strip().splitlines()[-1]
    assert "region is being run by run EWR-" in line and "--wait" in line and "pid" in line
    assert not refused.stdout.strip()
    assert backfill.returncode == 0, b_err[-2000:]
    assert waited.returncode == 0, w_err[-2000:]
    first, second = json.loads(b_out), json.loads(w_out)
    assert (first["span"], second["span"]) == (2, 3)
    assert first["run_id"] != second["run_id"]
    assert (first["pushed_version"], first["release_label"]) == (2, "canary")
    results = {s: json.loads((root / REGION / "results" / f"span-{s}.json").read_text()) for s in (2, 3)}
    assert results[2]["run_id"] == first["run_id"] and results[3]["run_id"] == second["run_id"]
    assert [(h["span"], h["run_id"]) for h in history(root)[1:]] == [
        (2, first["run_id"]),
        (3, second["run_id"]),
    ]
    # span 3 judged v2 as the canary it found (no unjudged supersede)
    assert second["canary"]["canary_version"] == 2
    assert_nothing_lost(root)
    recovered("two overlapping runs")
