"""The backtest end to end on generated data (real TFDV statistics, real
models from the production trainer, the production gate): a known shift makes
"always" beat "never"; with no shift the configured policy does not retrain;
a second run resumes from the matrix on disk; bad input ends in one line."""

import json
import os
import subprocess
import sys

import pytest

from backtest.data import BacktestError
from backtest.run import backtest_region
from driftgate.core.config import load_region_config
from tests.backtest.conftest import REGION

pytestmark = pytest.mark.e2e


def _run(d, out, **kw):
    cfg = load_region_config(REGION, d["config"])
    return backtest_region(cfg, str(d["data"] / REGION), str(out), schemas_dir=d["schemas"], **kw)


@pytest.fixture(scope="module")
def shifted(shifted_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("bt-out")
    lines = []
    first = _run(shifted_data, out, progress=lines.append, train_window=2)
    again_lines = []
    again = _run(shifted_data, out, progress=again_lines.append)
    return {"first": first, "again": again, "lines": lines, "again_lines": again_lines, "out": out}


def test_a_known_shift_makes_always_beat_never(shifted):
    res = shifted["first"]
    rows = {r.policy: r for r in res.rows}
    assert rows["always"].mean_auc > rows["never"].mean_auc + 0.05
    assert rows["always"].retrains == 3 and rows["never"].retrains == 0
    # the gate sees the price move at span 3 and retrains there: the price is
    # what the model relies on most, its effect reverses, and the serving
    # model's AUC on span 3 falls below its push-time reference (calibration
    # has only one span-to-span comparison by then: drift alone holds)
    assert 2 in res.walks["driftgate"].retrains
    assert res.walks["quality"].retrains[:1] == [2]
    assert res.walks["calibrated"].retrains[:1] != [2]
    assert res.walks["drift-ks"].retrains and res.walks["drift-ks"].retrains[0] == 2
    # each push records which features its model relies on (the price most, on its own eval split)
    imp = res.matrix.references[0]["importance"]
    assert imp["method"] == "permutation_auc" and set(imp["values"]) == {"price", "hour", "segment"}
    assert max(imp["values"], key=imp["values"].get) == "price"
    assert {"driftgate-importance-0.5", "driftgate-importance-2.0"} <= set(rows)
    assert res.loro == {"wanted": True}  # chosen across regions (run.leave_one_region_out)


def test_a_young_region_meeting_the_shift_as_its_second_span_retrains_and_a_steady_one_skips(shifted):
    young = {y["span"]: y for y in shifted["first"].young}
    assert sorted(young) == [2, 3, 4]  # each later span with a next span to score on
    steady, moved = young[2], young[3]
    # span 2 is span 1's distribution again: nothing fires, not even any critical PSI
    assert set(steady["decisions"].values()) == {"skip"} and steady["prediction_overlap"] > 0.5
    # span 3's price moved 2 std and its effect reversed: the default retrains
    assert moved["decisions"]["driftgate"] == "retrain" and moved["prediction_psi"] > 0.25
    assert moved["retrain_auc"] > moved["stay_auc"] and moved["blessed"]
    doc = shifted["first"].to_json()["young_region"]
    assert (
        3 in doc["summary"]["driftgate"]["retrained_on"]
        and 2 not in doc["summary"]["driftgate"]["retrained_on"]
    )


def test_train_window_compares_the_newest_spans_with_one(shifted):
    w = shifted["first"].window
    assert w["k"] == 2 and w["spans_scored"] == [3, 4, 5]
    assert 0.3 < w["window_mean_auc"] < 1 and 0.3 < w["one_span_mean_auc"] < 1
    assert any("window model" in line for line in shifted["lines"])


def test_the_oracle_is_never_below_a_policy_with_as_many_changes(shifted):
    res = shifted["first"]
    for w in res.walks.values():
        assert res.oracles[len(w.changes)].mean >= w.mean - 1e-9, w.policy


def test_a_second_run_resumes_from_the_matrix_without_training(shifted):
    assert any("model 1 of 5" in line for line in shifted["lines"])
    assert not any("model" in line for line in shifted["again_lines"])
    assert shifted["again"].matrix.served == shifted["first"].matrix.served
    saved = json.loads((shifted["out"] / REGION / "matrix.json").read_text())
    assert saved["spans"] == [1, 2, 3, 4, 5] and len(saved["served"]) == 5


@pytest.fixture(scope="module")
def steady_out(tmp_path_factory):
    return tmp_path_factory.mktemp("bt-steady-out")


def test_a_changed_trainer_config_retrains_instead_of_reusing_models_on_disk(steady_data, tmp_path):
    import dataclasses

    cfg = load_region_config(REGION, steady_data["config"])
    data_dir = str(steady_data["data"] / REGION)
    first = []
    backtest_region(
        cfg,
        data_dir,
        str(tmp_path),
        spans=[1, 2, 3],
        schemas_dir=steady_data["schemas"],
        progress=first.append,
    )
    model = tmp_path / REGION / "models" / "span-1" / "saved_model.pb"
    before = model.stat().st_mtime_ns
    changed = dataclasses.replace(
        cfg, trainer=dataclasses.replace(cfg.trainer, train_steps=cfg.trainer.train_steps + 10)
    )
    again = []
    backtest_region(
        changed,
        data_dir,
        str(tmp_path),
        spans=[1, 2, 3],
        schemas_dir=steady_data["schemas"],
        progress=again.append,
    )
    assert sum("model" in line for line in first) == sum("model" in line for line in again) == 3
    assert model.stat().st_mtime_ns != before  # trained again, not the old SavedModel


def test_with_no_shift_the_configured_policy_does_not_retrain(steady_data, steady_out):
    res = _run(steady_data, steady_out, policies=["driftgate"])
    assert res.walks["driftgate"].retrains == []
    assert all(
        y["decisions"]["driftgate"] == "skip" for y in res.young
    )  # nor as a young region's second span
    rows = {r.policy: r for r in res.rows}
    assert abs(rows["always"].mean_auc - rows["never"].mean_auc) < 0.03  # nothing to gain


def test_bad_input_names_region_and_span(steady_data, tmp_path):
    with pytest.raises(BacktestError, match=rf"region {REGION}: 2 span\(s\).*at least 3"):
        _run(steady_data, tmp_path, spans=[1, 2])
    with pytest.raises(BacktestError, match=rf"region {REGION}: span 9 is missing"):
        _run(steady_data, tmp_path, spans=[1, 2, 9])
    no_label = steady_data["data"] / REGION / "span-5" / "rows.csv"
    text = no_label.read_text()
    try:
        lines = [line.rsplit(",", 1)[0] for line in text.splitlines()]
        no_label.write_text("\n".join(lines) + "\n")
        with pytest.raises(BacktestError, match=rf"region {REGION} span 5: .*bought"):
            _run(steady_data, tmp_path / "x", spans=[3, 4, 5])
        assert not (tmp_path / "x" / REGION / "matrix.json").exists()  # nothing half-written
    finally:
        no_label.write_text(text)


def test_cli_prints_the_table_and_writes_json_and_html(steady_data, steady_out):
    out = steady_out  # the matrix of the test above: the CLI resumes from it
    env = dict(os.environ, DRIFTGATE_CONFIG_DIR=str(steady_data["config"]))
    args = [
        sys.executable,
        "-m",
        "driftgate",
        "backtest",
        "--data",
        str(steady_data["data"]),
        "--out",
        str(out),
    ]
    args += ["--schemas", str(steady_data["schemas"]), "--policies", "every-2,driftgate"]
    proc = subprocess.run(args + ["-o", "json"], capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert [r["policy"] for r in doc["overall"]] == ["never", "always", "every-2", "driftgate"]
    assert (out / "backtest.html").read_text().startswith("<!doctype html>")
    bad = subprocess.run(
        args[:6] + ["--out", str(out), "--spans", "1-2"], capture_output=True, text=True, env=env
    )
    assert bad.returncode == 1 and bad.stderr.strip().count("\n") == 0
    assert f"region {REGION}: 2 span(s)" in bad.stderr
