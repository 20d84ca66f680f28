"""SpanExampleGen's executor on real CSV files: it resolves its own span (no
driver) with TFX's input processor and records it on the Examples artifact."""

import json

import pytest

from components.ingest import spans
from components.state import RegionState


def _layout(state):
    """A layout whose state folder is ``state`` (``<root>/EWR/state``)."""
    from driftgate.core.layout import RegionLayout

    assert state.name == "state"
    return RegionLayout(str(state.parent.parent), state.parent.name, "flights_late")


def _props(data, state, range_config=None):
    from tfx.proto import example_gen_pb2
    from tfx.utils import proto_utils

    cfg_input = example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name="single_split", pattern="span-{SPAN}/*.csv")]
    )
    out = example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[
                example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=3),
                example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1),
            ]
        )
    )
    props = {
        "input_base": str(data),
        "input_config": proto_utils.proto_to_json(cfg_input),
        "output_config": proto_utils.proto_to_json(out),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
        "output_file_format": example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        "layout": _layout(state).to_json(),
    }
    if range_config is not None:
        props["range_config"] = proto_utils.proto_to_json(range_config)
    return props


@pytest.fixture
def data(tmp_path):
    for span in (1, 2, 3):
        folder = tmp_path / "data" / f"span-{span}"
        folder.mkdir(parents=True)
        rows = "\n".join(f"{i},{span}" for i in range(40))
        (folder / "data.csv").write_text(f"x,y\n{rows}\n")
    return tmp_path / "data"


def test_resolve_takes_the_oldest_unprocessed_span_and_sets_driver_properties(data, tmp_path):
    from components.ingest.executor import resolve

    state = tmp_path / "EWR" / "state"
    RegionState(str(state)).record_span({"span": 1, "decision": "retrain"})
    props, choice = resolve(_props(data, state))
    assert (choice.span, choice.reason, choice.pending) == (2, spans.NEXT, (3,))
    assert props["span"] == 2 and props["version"] is None
    assert "span-2/*.csv" in props["input_config"] and "{SPAN}" not in props["input_config"]
    assert props["input_fingerprint"].startswith("split:single_split,num_files:1,")


def test_a_static_range_pins_the_span(data, tmp_path):
    from tfx.proto import range_config_pb2

    from components.ingest.executor import resolve

    rc = range_config_pb2.RangeConfig(
        static_range=range_config_pb2.StaticRange(start_span_number=1, end_span_number=1)
    )
    props, choice = resolve(_props(data, tmp_path / "EWR" / "state", rc))
    assert (props["span"], choice.reason) == (1, spans.REQUESTED)


def test_executor_writes_examples_carrying_span_version_and_choice(data, tmp_path):
    from tfx.types import standard_artifacts

    from components.ingest.executor import Executor
    from components.ingest.recorded import artifact_span, ingest_choice

    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "out")
    Executor().Do({}, {"examples": [examples]}, _props(data, tmp_path / "EWR" / "state"))
    assert examples.span == 3 and artifact_span(examples) == 3
    assert examples.get_int_custom_property("span") == 3
    assert ingest_choice(examples) == spans.SpanChoice(3, spans.FIRST)
    assert json.loads(examples.split_names) == ["train", "eval"]
    assert list((tmp_path / "out" / "Split-train").glob("*.gz"))


def test_no_files_for_the_pattern_names_the_folder(tmp_path):
    from components.ingest.executor import resolve

    (tmp_path / "empty").mkdir()
    with pytest.raises(spans.SpanError, match="empty: no files match 'span-\\{SPAN\\}/\\*.csv'"):
        resolve(_props(tmp_path / "empty", tmp_path / "EWR" / "state"))
