"""A span file with NUL bytes (not text) is refused on every path that reads
CSV spans, in one driftgate error naming the file, the line and what to do;
never Python's bare "line contains NUL", never a value pandas cut short."""

import pytest

from components.ingest import formats

HEADER = "carrier,temp,distance,late"


def _span(tmp_path, lines, name="data.csv", encoding="utf-8"):
    folder = tmp_path / "data" / "span-1"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes("\n".join(lines).encode(encoding) + b"\n")
    return path


def _rows(n=50):
    return [f"{'ABC'[i % 3]},{40 + i % 7}.5,{100 + i},{i % 2}" for i in range(n)]


def _nul_in_row(tmp_path, line=11):
    lines = [HEADER] + _rows()
    lines[line - 1] = lines[line - 1].replace(",", ",\x00", 1)
    return _span(tmp_path, lines)


def _said(message: str, path, line) -> bool:
    return f"{path}, line {line}: NUL byte" in message and "remove the NUL bytes" in message


def test_a_nul_in_the_header_names_the_file_and_line_1(tmp_path):
    from pipelines import preflight

    path = _span(tmp_path, ["car\x00rier,temp,distance,late"] + _rows())
    with pytest.raises(formats.SpanDataError) as caught:
        formats.csv_header(str(path))
    assert _said(str(caught.value), path, 1), caught.value
    files = preflight.span_files(str(tmp_path / "data"), "span-{SPAN}/*.csv", None)
    with pytest.raises(preflight.DataBlocked) as blocked:  # was: csv.Error "line contains NUL"
        preflight.check_span(files, ["carrier", "temp"])
    assert _said(str(blocked.value), path, 1) and "span 1 blocked" in str(blocked.value)


def test_a_nul_in_a_row_is_refused_by_preflight_and_the_fast_ingest_alike(tmp_path):
    from pipelines import preflight

    path = _nul_in_row(tmp_path, line=11)
    files = preflight.span_files(str(tmp_path / "data"), "span-{SPAN}/*.csv", None)
    with pytest.raises(preflight.DataBlocked) as blocked:
        preflight.check_span(files, ["carrier", "temp"])
    assert _said(str(blocked.value), path, 11), blocked.value
    # pyarrow would keep the NUL inside the value (TFX's decoder stops at it)
    with pytest.raises(formats.SpanDataError) as caught:
        formats.csv_layout([str(path)])
    assert _said(str(caught.value), path, 11), caught.value


def test_utf16_text_is_told_apart_from_a_binary_file(tmp_path):
    path = _span(tmp_path, [HEADER] + _rows(), encoding="utf-16")
    with pytest.raises(
        formats.SpanDataError, match=r"line 1: the file is UTF-16 text, not UTF-8.*export it again"
    ):
        formats.csv_header(str(path))


def test_pandas_readers_refuse_what_pandas_would_cut_short(tmp_path):
    import pandas as pd

    from components.ingest import errors
    from driftgate.app import datasets

    path = _nul_in_row(tmp_path, line=11)
    assert pd.read_csv(path)["temp"].isna().sum() == 1  # what pandas does silently: the cell is gone
    with pytest.raises(formats.SpanDataError) as caught:
        errors.read_csv_frame(str(path))
    assert _said(str(caught.value), path, 11)
    with pytest.raises(datasets.DataError) as caught:
        datasets.split_csv(str(path), "carrier", "late", str(tmp_path / "out"), freq="number")
    assert _said(str(caught.value), path, 11)
    clean = _span(tmp_path, [HEADER] + _rows(), name="clean.csv")
    assert errors.read_csv_frame(str(clean)).equals(pd.read_csv(clean))


def test_schema_statistics_refuse_the_file_before_tfdvs_decoder_does(tmp_path):
    from tensorflow_metadata.proto.v0 import schema_pb2

    from driftgate.app import schema_workflow

    path = _nul_in_row(tmp_path, line=4)
    with pytest.raises(formats.SpanDataError) as caught:  # TFDV: "line contains NUL", no file named
        schema_workflow.span_csv_statistics([str(path)], schema_pb2.Schema())
    assert _said(str(caught.value), path, 4), caught.value


def test_the_kafka_replay_names_the_file_and_line(tmp_path):
    from streaming import replay

    path = _nul_in_row(tmp_path, line=7)
    with pytest.raises(formats.SpanDataError) as caught:
        replay.span_rows(str(tmp_path / "data"), 1)
    assert _said(str(caught.value), path, 7), caught.value


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tfxs_own_csv_executor_failing_on_a_nul_names_the_file(tmp_path):
    from tests.components.ingest.test_fast_vs_stock import _ingest

    path = _nul_in_row(tmp_path, line=11)
    (tmp_path / "EWR" / "state").mkdir(parents=True)
    with pytest.raises(formats.SpanDataError) as caught:  # Beam: "line contains NUL [while running ...]"
        _ingest(tmp_path / "data", tmp_path, "stock", "stock")
    assert _said(str(caught.value), path, 11), caught.value
