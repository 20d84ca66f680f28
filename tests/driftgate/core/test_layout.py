"""RegionLayout names every location of a region once, for paths and URIs alike."""

from driftgate.core.layout import RegionLayout, metrics_dir, reports_index


def test_every_location_of_a_local_root():
    lay = RegionLayout("/r", "EWR", "flights_late")
    assert lay.pipeline_root == "/r/EWR/pipeline"
    assert lay.metadata_path == "/r/EWR/metadata.sqlite"
    assert lay.state_dir == "/r/EWR/state"
    assert lay.alerts_file == "/r/EWR/state/alerts.json"
    assert lay.result_file(3) == "/r/EWR/results/span-3.json"
    assert lay.report_file(3) == "/r/EWR/reports/span-3.html"
    assert lay.metrics_file == "/r/metrics/driftgate_ewr.prom"
    assert lay.serving_dir == "/r/serving/EWR"
    assert lay.model_base_path == "/r/serving/EWR/flights_late"
    assert lay.canary_record(2, 5) == "/r/serving/EWR/canary-v2-span-5.json"
    assert metrics_dir("/r") == "/r/metrics" and reports_index("/r") == "/r/reports/index.html"


def test_a_bucket_root_gives_uris():
    lay = RegionLayout("gs://b/runs", "JFK", "m")
    assert lay.state_dir == "gs://b/runs/JFK/state"
    assert lay.model_base_path == "gs://b/runs/serving/JFK/m"


def test_the_layout_a_node_is_given_reads_back_whole_and_a_bad_one_is_named():
    import pytest

    from driftgate.core.errors import DriftgateError

    lay = RegionLayout("gs://b/runs", "JFK", "m", data_dir="gs://d/JFK", served_base_path="/models/JFK/m")
    assert RegionLayout.from_json(lay.to_json()) == lay
    with pytest.raises(
        DriftgateError, match="layout parameter .* is not a region layout: keys must be among"
    ):
        RegionLayout.from_json('{"root": "/r", "region": "EWR", "model_name": "m", "colour": "red"}')
    with pytest.raises(DriftgateError, match="is not a region layout"):
        RegionLayout.from_json("/r/EWR/state")  # the old state_dir parameter
