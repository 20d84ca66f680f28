"""The gate's component logic (``run_gate``) on real TFX artifacts and TFDV
statistics written to disk, without a runner: baselines from the state folder,
skew from serving logs, and the history it leaves for the next span."""

import json
import os
import shutil

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.gate import decision
from driftgate.core.config import load_region_config, schema_file


@pytest.fixture(scope="module")
def cfg():
    return load_region_config("EWR")


@pytest.fixture(scope="module")
def schema_text(cfg):
    return schema_file(cfg).read_text()


def _stats(frame, schema_text, buckets):
    import tensorflow_data_validation as tfdv
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = text_format.Parse(schema_text, schema_pb2.Schema())
    return tfdv.generate_statistics_from_dataframe(
        frame, stats_options=tfdv.StatsOptions(schema=schema, num_quantiles_histogram_buckets=buckets)
    )


def _artifacts(tmp, span, frame, schema_text, buckets):
    from tfx.types import artifact_utils, standard_artifacts

    examples = standard_artifacts.Examples()
    examples.uri = str(tmp / f"examples-{span}")
    examples.set_int_custom_property("span", span)
    stats_art = standard_artifacts.ExampleStatistics()
    stats_art.uri = str(tmp / f"stats-{span}")
    stats_art.split_names = artifact_utils.encode_split_names(["train", "eval"])
    anomalies = standard_artifacts.ExampleAnomalies()
    anomalies.uri = str(tmp / f"anomalies-{span}")
    anomalies.split_names = stats_art.split_names
    half = len(frame) // 2
    for split, part in (("train", frame.iloc[:half]), ("eval", frame.iloc[half:])):
        os.makedirs(f"{stats_art.uri}/Split-{split}")
        with open(f"{stats_art.uri}/Split-{split}/FeatureStats.pb", "wb") as fh:
            fh.write(_stats(part, schema_text, buckets).SerializeToString())
        os.makedirs(f"{anomalies.uri}/Split-{split}")
        with open(f"{anomalies.uri}/Split-{split}/SchemaDiff.pb", "wb") as fh:
            fh.write(anomalies_pb2.Anomalies().SerializeToString())
    schema_dir = tmp / "schema"
    schema_dir.mkdir(exist_ok=True)
    (schema_dir / "schema.pbtxt").write_text(schema_text)
    return examples, stats_art, anomalies, str(schema_dir)


@pytest.fixture
def gate(tmp_path, cfg, schema_text, flights_frame):
    from components.gate.executor import run_gate

    data_dir = tmp_path / "data" / "EWR"
    months = {
        m: flights_frame[(flights_frame.origin == "EWR") & (flights_frame.month == m)].drop(
            columns=["origin", "month"]
        )
        for m in (1, 2)
    }

    def run(span, month, force=False, model_base=None, serving_logs=None, ingest=None, drift=None):
        if serving_logs is not None:
            folder = data_dir / "serving-logs" / f"span-{span}"
            folder.mkdir(parents=True)
            serving_logs.to_csv(folder / "logs.csv", index=False)
        arts = _artifacts(tmp_path, span, months[month], schema_text, cfg.drift.quantile_buckets)
        if ingest is not None:  # what SpanExampleGen records: why this span, what waits
            arts[0].set_string_custom_property("ingest_reason", ingest[0])
            arts[0].set_string_custom_property("pending_spans", json.dumps(ingest[1]))
        return run_gate(
            *arts,
            features=list(cfg.features.all),
            cfg=drift or cfg.drift,
            state_dir=str(tmp_path / "state"),
            model_base_path=model_base or str(tmp_path / "serving"),
            data_dir=str(data_dir),
            force_retrain=force,
        )

    run.months = months
    run.tmp = tmp_path
    return run


def _fake_serving_version(base, version):
    os.makedirs(f"{base}/{version}")
    open(f"{base}/{version}/saved_model.pb", "wb").close()


def test_first_span_retrains_and_leaves_state_for_the_next(gate):
    report = gate(1, 1)
    assert report.decision == decision.RETRAIN and report.drift == {}
    from components.state import RegionState

    state = RegionState(str(gate.tmp / "state"))
    assert state.load_statistics(1) is not None
    assert state.history()[0]["decision"] == "retrain" and "temp" in state.history()[0]["numeric"]


def test_same_data_against_its_training_baseline_skips(gate):
    from components.state import RegionState

    gate(1, 1)
    _fake_serving_version(gate.tmp / "serving", 1)
    RegionState(str(gate.tmp / "state")).record_release(1, span=1)
    report = gate(2, 1)  # span 2 holds January again
    assert report.drift["training"].span == 1 and report.drift["training"].severity == "none"
    assert report.drift["previous"].span == 1
    assert report.decision == decision.SKIP
    # each span-to-span score is recorded with its sampling noise (what calibration splits off)
    record = RegionState(str(gate.tmp / "state")).history()[-1]
    mean, std = record["noise"]["previous"]["temp"]["ks"]
    assert 0 < mean < record["scores"]["previous"]["temp"]["ks"] + 5 * std and std > 0


def _fixed(cfg, until="fixed"):
    import dataclasses

    return dataclasses.replace(
        cfg.drift, calibration=dataclasses.replace(cfg.drift.calibration, until_calibrated=until)
    )


def test_february_against_january_training_baseline_retrains_on_weather_at_fixed_thresholds(gate, cfg):
    from components.state import RegionState

    gate(1, 1)
    _fake_serving_version(gate.tmp / "serving", 1)
    RegionState(str(gate.tmp / "state")).record_release(1, span=1)
    report = gate(2, 2, drift=_fixed(cfg))
    assert report.decision == decision.RETRAIN
    assert "pressure" in report.drift["training"].drifted
    assert "carrier" not in report.drift["training"].drifted
    assert report.calibration["mode"] == "fixed" and report.summary.startswith("retrain: drift")
    # the integrity rates vs January, from the same statistics: recorded for the next span's thresholds
    rates = report.integrity["rates"]
    assert report.integrity["baseline_span"] == 1 and rates["wind_gust"]["missing"] > 0.5
    assert rates["carrier"]["unseen"] == 0.0 and rates["temp"]["out_of_range"] == 0.0
    assert (
        rates["pressure"]["missing"] > 0.1
    )  # ... as in January: no finding (its floor starts from January's)
    found = {(f["feature"], f["rate"]) for f in report.integrity["findings"]}
    assert ("pressure", "missing") not in found and ("wind_gust", "missing") not in found
    assert RegionState(str(gate.tmp / "state")).history()[-1]["integrity"]["pressure"]["missing"] > 0.1


@pytest.mark.parametrize("until", ["hold", "certain"])
def test_a_young_region_reports_weather_drift_without_retraining(gate, cfg, until):
    from components.state import RegionState

    gate(1, 1)
    _fake_serving_version(gate.tmp / "serving", 1)
    RegionState(str(gate.tmp / "state")).record_release(1, span=1)
    # min_history 3; certain (the default) holds too: no serving-model quality
    # here, so no certain shift, only February's weather at fixed thresholds
    report = gate(2, 2, drift=_fixed(cfg, until))
    assert "pressure" in report.drift["training"].drifted
    assert report.decision == decision.SKIP
    assert "calibrate after 3 span-to-span comparisons (0 so far" in report.summary
    assert f"until_calibrated: {until})" in report.summary


def test_skewed_serving_logs_block_the_span(gate):
    logs = gate.months[1].drop(columns=["late"]).copy()
    logs["distance"] = logs["distance"] * 1.6  # an upstream unit bug in what serving sees
    report = gate(1, 1, serving_logs=logs)
    assert report.decision == decision.BLOCK
    assert report.drift["serving"].drifted == ("distance",)
    assert "skew critical on distance" in report.reasons[0]


def test_clean_serving_logs_are_compared_and_pass(gate):
    logs = gate.months[1].drop(columns=["late"])
    report = gate(1, 1, serving_logs=logs)
    assert report.drift["serving"].severity == "none" and report.decision == decision.RETRAIN


def test_a_span_ingested_again_for_lack_of_a_new_one_skips_and_changes_nothing(gate):
    from components.state import RegionState

    gate(1, 1)
    state_dir = gate.tmp / "state"
    before = {p.name: p.read_bytes() for p in state_dir.rglob("*") if p.is_file()}
    shutil.rmtree(gate.tmp / "stats-1")
    shutil.rmtree(gate.tmp / "anomalies-1")
    report = gate(1, 1, ingest=("no_new_span", []))
    assert report.decision == decision.SKIP and report.reasons[0].startswith("no new span: span 1")
    assert report.ingest == {"reason": "no_new_span", "pending": []}
    assert {p.name: p.read_bytes() for p in state_dir.rglob("*") if p.is_file()} == before
    assert [h["span"] for h in RegionState(str(state_dir)).history()] == [1]


def test_a_backlog_of_spans_is_reported_with_the_decision(gate):
    report = gate(1, 1, ingest=("next", [2, 3]))
    assert report.ingest == {"reason": "next", "pending": [2, 3]}
    assert "spans 2, 3 arrived too; the next runs take them in order" in report.reasons
