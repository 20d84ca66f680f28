"""Strict region config loading: good files load, each kind of bad one names file and key."""

import shutil
from pathlib import Path

import pytest

from driftgate.core.config import (
    REGIONS_DIR,
    ConfigError,
    available_regions,
    load_region_config,
    region_data_dir,
    schema_file,
)


@pytest.fixture
def regions(tmp_path):
    """A copy of the committed regions folder to edit."""
    d = tmp_path / "regions"
    shutil.copytree(REGIONS_DIR, d)
    return d


def _append(path: Path, text: str):
    path.write_text(path.read_text() + text)


@pytest.mark.parametrize("region", ["EWR", "JFK", "LGA"])
def test_committed_regions_load_with_their_schema(region):
    cfg = load_region_config(region)
    assert cfg.region == region
    assert cfg.features.label == "late"
    assert cfg.features.label not in cfg.features.all
    assert cfg.source_file.endswith(f"{region}.yaml")
    assert schema_file(cfg).is_file()
    assert cfg.pipeline_name == f"driftgate-{region.lower()}"


def test_available_regions_lists_yaml_files_but_not_defaults():
    assert available_regions() == ("EWR", "JFK", "LGA")


def test_config_is_frozen():
    cfg = load_region_config("EWR")
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.region = "JFK"  # type: ignore[misc]


def test_region_file_overrides_only_what_it_sets(regions):
    _append(regions / "JFK.yaml", "trainer:\n  train_steps: 7\n")
    cfg = load_region_config("JFK", regions)
    assert cfg.trainer.train_steps == 7
    assert cfg.trainer.batch_size == load_region_config("EWR", regions).trainer.batch_size


def test_adding_a_region_is_one_yaml_file(regions):
    (regions / "BOS.yaml").write_text("region: BOS\nschema: {version: 3}\n")
    assert "BOS" in available_regions(regions)
    cfg = load_region_config("BOS", regions)
    assert cfg.schema.version == 3
    assert str(schema_file(cfg)).endswith("schemas/BOS/v3/schema.pbtxt")


def test_unknown_region_lists_known_ones(regions):
    with pytest.raises(ConfigError, match=r"unknown region 'SFO'.*Known regions: EWR, JFK, LGA"):
        load_region_config("SFO", regions)


def test_typo_key_names_file_key_and_suggestion(regions):
    _append(regions / "EWR.yaml", "trainer:\n  trainsteps: 10\n")
    with pytest.raises(ConfigError) as err:
        load_region_config("EWR", regions)
    msg = str(err.value)
    assert "EWR.yaml" in msg and "trainer.trainsteps" in msg and "trainer.train_steps" in msg


def test_unknown_top_level_key(regions):
    _append(regions / "LGA.yaml", "colour: blue\n")
    with pytest.raises(ConfigError, match=r"LGA.yaml: unknown key 'colour'"):
        load_region_config("LGA", regions)


def test_missing_key_is_named(regions):
    (regions / "LGA.yaml").write_text("region: LGA\n")  # no schema pin
    with pytest.raises(ConfigError, match=r"missing key 'schema'"):
        load_region_config("LGA", regions)


@pytest.mark.parametrize(
    "snippet, key, what",
    [
        ("trainer:\n  train_steps: many\n", "trainer.train_steps", "whole number"),
        ("trainer:\n  learning_rate: true\n", "trainer.learning_rate", "number"),
        ("features:\n  numeric: distance\n", "features.numeric", "list"),
        ("serving:\n  model_name: ''\n", "serving.model_name", "non-empty string"),
    ],
)
def test_wrong_type_names_file_and_key(regions, snippet, key, what):
    _append(regions / "EWR.yaml", snippet)
    with pytest.raises(ConfigError) as err:
        load_region_config("EWR", regions)
    assert "EWR.yaml" in str(err.value) and key in str(err.value) and what in str(err.value)


@pytest.mark.parametrize(
    "snippet, key",
    [
        ("trainer:\n  train_steps: 0\n", "trainer.train_steps"),
        ("evaluation:\n  min_auc: 1.5\n", "evaluation.min_auc"),
        ("trainer:\n  learning_rate: 0\n", "trainer.learning_rate"),
        ("schema: {version: 0}\n", "schema.version"),
        ("trainer:\n  hidden_units: [8, 0]\n", "trainer.hidden_units[1]"),
    ],
)
def test_out_of_range_names_key(regions, snippet, key):
    path = regions / "EWR.yaml"
    text = path.read_text()
    if snippet.startswith("schema"):
        text = "\n".join(line for line in text.splitlines() if not line.startswith("schema"))
    path.write_text(text + "\n" + snippet)
    with pytest.raises(ConfigError, match="out of range") as err:
        load_region_config("EWR", regions)
    assert key in str(err.value)


def test_error_in_defaults_names_defaults_file(regions):
    _append(regions / "defaults.yaml", "trainer_typo: 1\n")
    with pytest.raises(ConfigError, match=r"defaults.yaml: unknown key 'trainer_typo'"):
        load_region_config("EWR", regions)


def test_label_listed_as_input_is_rejected(regions):
    _append(regions / "EWR.yaml", "features:\n  numeric: [distance, late]\n")
    with pytest.raises(ConfigError, match="leak the label"):
        load_region_config("EWR", regions)


def test_region_field_must_match_file_name(regions):
    (regions / "EWR.yaml").write_text("region: JFK\nschema: {version: 1}\n")
    with pytest.raises(ConfigError, match="does not match the file name"):
        load_region_config("EWR", regions)


def test_span_pattern_needs_placeholder(regions):
    _append(regions / "EWR.yaml", "data:\n  span_pattern: 'all/*.csv'\n")
    with pytest.raises(ConfigError, match=r"data.span_pattern.*\{SPAN\}"):
        load_region_config("EWR", regions)


def test_invalid_yaml_names_file(regions):
    (regions / "EWR.yaml").write_text("region: [EWR\n")
    with pytest.raises(ConfigError, match="EWR.yaml: not valid YAML"):
        load_region_config("EWR", regions)


def test_data_override_and_relative_location(tmp_path):
    cfg = load_region_config("JFK")
    assert region_data_dir(cfg, str(tmp_path)) == str(tmp_path.resolve() / "JFK")
    assert region_data_dir(cfg, "gs://bucket/data") == "gs://bucket/data/JFK"  # a URI kept as it is
    default = region_data_dir(cfg)
    assert default.endswith("demo/data/JFK") and Path(default).is_absolute()


def test_another_csv_dataset_is_config_only(regions):
    """A different data set: new columns, label, span pattern, all in YAML."""
    (regions / "north.yaml").write_text(
        "region: north\nschema: {version: 1}\n"
        "data:\n  location: /data/shop/{region}\n  span_pattern: 'week={SPAN}/*.csv'\n"
        "features: {label: churned, categorical: [plan], numeric: [tenure, spend]}\n"
        "serving: {model_name: churn}\n"
    )
    cfg = load_region_config("north", regions)
    assert cfg.features.all == ("plan", "tenure", "spend")
    assert region_data_dir(cfg) == "/data/shop/north"


def test_a_folder_with_only_a_region_file_inherits_the_project_defaults(tmp_path):
    (tmp_path / "BOS.yaml").write_text("region: BOS\nschema: {version: 1}\n")
    cfg = load_region_config("BOS", tmp_path)
    assert cfg.data.span_pattern == "span-{SPAN}/*.csv" and cfg.source_file == str(tmp_path / "BOS.yaml")


def test_serving_base_path_fills_region_and_model_and_rejects_other_fields(regions):
    assert load_region_config("EWR", regions).serving.served_base_path("EWR") == ""  # unset: the root's own
    _append(regions / "EWR.yaml", "serving:\n  base_path: /models/{region}/{model_name}\n")
    assert load_region_config("EWR", regions).serving.served_base_path("EWR") == "/models/EWR/flights_late"
    (regions / "JFK.yaml").write_text("region: JFK\nschema: {version: 1}\nserving:\n  base_path: /m/{zone}\n")
    with pytest.raises(ConfigError, match=r"JFK.yaml.*serving.*base_path.*\{region\} and \{model_name\}"):
        load_region_config("JFK", regions)


def test_more_than_one_concurrent_run_is_refused_in_one_line_naming_file_and_key(regions):
    _append(regions / "EWR.yaml", "kubeflow:\n  schedule:\n    max_concurrency: 2\n")
    with pytest.raises(ConfigError) as err:
        load_region_config("EWR", regions)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{regions / 'EWR.yaml'}: kubeflow.schedule.max_concurrency: 2")
    assert "lease" in msg and "catchup" in msg  # why, and the backfill path instead
    (regions / "JFK.yaml").write_text(
        "region: JFK\nschema: {version: 1}\nkubeflow:\n  schedule:\n    max_concurrency: 1\n"
    )
    assert load_region_config("JFK", regions).kubeflow.schedule.max_concurrency == 1  # the key stays


def test_a_schedule_window_is_two_rfc3339_times_in_order(regions):
    cfg = load_region_config("EWR", regions).kubeflow.schedule
    assert cfg.start is None and cfg.end is None
    window = (
        "kubeflow:\n  schedule:\n    start: '2026-01-01T00:00:00Z'\n    end: '2026-03-31T23:59:59.5+02:00'\n"
    )
    _append(regions / "EWR.yaml", window)
    cfg = load_region_config("EWR", regions).kubeflow.schedule
    assert (cfg.start, cfg.end) == ("2026-01-01T00:00:00Z", "2026-03-31T23:59:59.5+02:00")


@pytest.mark.parametrize(
    "window, problem",
    [
        ("start: '2026-01-01'", "not an RFC3339 time"),
        ("start: '2026-01-01T00:00:00'", "not an RFC3339 time"),  # no time zone
        ("end: '2026-02-30T00:00:00Z'", "not an RFC3339 time"),
        ("start: '2026-02-01T00:00:00Z'\n    end: '2026-01-01T00:00:00Z'", "must be later than start"),
        ("start: 2026-01-01T00:00:00Z", "expected a non-empty string"),  # unquoted: a YAML timestamp
    ],
)
def test_a_bad_schedule_window_names_file_and_key(regions, window, problem):
    _append(regions / "LGA.yaml", f"kubeflow:\n  schedule:\n    {window}\n")
    with pytest.raises(ConfigError, match=problem) as err:
        load_region_config("LGA", regions)
    assert "LGA.yaml" in str(err.value) and "kubeflow.schedule" in str(err.value)


@pytest.mark.parametrize(
    "snippet,match",
    [
        ("slices: [[carrier], [gate]]", r"EWR.yaml: evaluation.slices\[1\]: 'gate' is not a model input"),
        (
            "slices: [[carrier], [carrier]]",
            r"EWR.yaml: evaluation.slices\[1\]: \['carrier'\] is listed twice",
        ),
        ("slices: [[]]", r"EWR.yaml: evaluation.slices\[0\]: empty"),
        (
            "parity_band: [1.25, 0.8]",
            r"EWR.yaml: evaluation.parity_band: \[1.25, 0.8\] must be \[low, high\]",
        ),
    ],
)
def test_bad_slices_name_file_field_and_fix(regions, snippet, match):
    _append(regions / "EWR.yaml", f"evaluation:\n  {snippet}\n")
    with pytest.raises(ConfigError, match=match):
        load_region_config("EWR", regions)


@pytest.mark.parametrize(
    "snippet, match",
    [
        (
            "prometheus_url: prometheus:9090",
            r"EWR.yaml.*prometheus_url 'prometheus:9090': give an http\(s\) URL",
        ),
        (
            "prometheus_url: http://admin:pw@prometheus:9090",
            r"EWR.yaml.*prometheus_url carries a user or password: remove it and mount a bearer token",
        ),
        ("max_p99_ms: 0", r"EWR.yaml.*serving.max_p99_ms"),
    ],
)
def test_bad_prometheus_settings_name_file_field_and_fix(regions, snippet, match):
    _append(regions / "EWR.yaml", f"serving:\n  {snippet}\n")
    with pytest.raises(ConfigError, match=match) as err:
        load_region_config("EWR", regions)
    assert "pw@" not in str(err.value)  # the password is not repeated in the error
