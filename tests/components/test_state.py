"""Region state: span history, releases and baseline lookup."""

import json

from tensorflow_metadata.proto.v0 import statistics_pb2

from components import state as st


def test_history_records_replace_by_span_and_sort(tmp_path):
    s = st.RegionState(str(tmp_path))
    s.record_span({"span": 3, "decision": "retrain"})
    s.record_span({"span": 1, "decision": "retrain"})
    s.record_span({"span": 3, "decision": "skip"})
    assert [(h["span"], h["decision"]) for h in s.history()] == [(1, "retrain"), (3, "skip")]
    assert json.loads((tmp_path / "history.json").read_text())[0]["span"] == 1


def test_previous_span_skips_blocked_spans_and_spans_without_statistics(tmp_path):
    s = st.RegionState(str(tmp_path))
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    stats.datasets.add(name="train", num_examples=5)
    for span, decision in [(1, "retrain"), (2, "skip"), (3, "block"), (4, "retrain")]:
        s.record_span({"span": span, "decision": decision})
        if span != 4:
            s.save_statistics(span, stats)
    assert s.previous_span(5) == 2  # 4 has no statistics, 3 was blocked
    assert s.previous_span(1) is None
    assert s.load_statistics(2).datasets[0].num_examples == 5
    assert s.load_statistics(9) is None


def test_releases_map_versions_to_training_spans(tmp_path):
    s = st.RegionState(str(tmp_path))
    assert s.training_span(None) is None and s.training_span(1) is None
    s.record_release(1, span=4)
    s.record_release(2, span=7, model_uri="/m")
    assert s.training_span(2) == 7 and s.releases()[1]["span"] == 4


def test_a_span_is_processed_only_once_its_run_completed(tmp_path):
    s = st.RegionState(str(tmp_path))
    s.record_span({"span": 1, "decision": "retrain"})  # written before `completed` existed: done
    s.record_span({"span": 2, "decision": "retrain", "completed": False})  # the gate; the run then died
    assert s.processed_spans() == [1]
    assert s.mark_completed(2, "EWR-run-b") is True
    assert s.processed_spans() == [1, 2] and s.history()[-1]["run_id"] == "EWR-run-b"
    assert s.mark_completed(2, "EWR-no-new-span") is True  # a finished record stays as it was
    assert s.history()[-1]["run_id"] == "EWR-run-b"
    assert s.mark_completed(7) is False


def test_release_uris_are_kept_relative_to_the_region_root(tmp_path):
    s = st.RegionState(str(tmp_path / "EWR" / "state"))
    assert s.relative(str(tmp_path / "EWR" / "pipeline" / "pusher" / "pushed_model" / "9")) == (
        "pipeline/pusher/pushed_model/9"
    )
    assert s.relative("gs://other/bucket/model") == "gs://other/bucket/model"
    g = st.RegionState("gs://b/runs/EWR/state")
    assert g.relative("gs://b/runs/EWR/pipeline/x") == "pipeline/x"
