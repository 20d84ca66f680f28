"""Reading span files: TFX's CSV type rules, Parquet types, and errors that
name the file and the column."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from components.ingest import check, fast, formats
from components.ingest.encode import BYTES, FLOAT, INT, NONE


@pytest.mark.parametrize(
    "cell",
    ["5", " 5", "+5", "1_000", "1.5", "1e3", "inf", "nan", "9223372036854775808", "abc", "", "1.5.2", "0x10"],
)
def test_cell_kind_is_tfx_bsls(cell):
    from tfx_bsl.coders import csv_decoder

    tfx = csv_decoder._InferValueType(cell.encode())  # noqa: SLF001 - the rule we follow
    names = {
        csv_decoder.ColumnType.INT: INT,
        csv_decoder.ColumnType.FLOAT: FLOAT,
        csv_decoder.ColumnType.STRING: BYTES,
        csv_decoder.ColumnType.UNKNOWN: NONE,
    }
    assert formats.cell_kind(cell) == names[tfx]


def test_a_column_typed_from_the_first_block_widens_when_a_later_value_does_not_fit(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "BLOCK_BYTES", 64)  # many small blocks: the first holds ints only
    lines = ["a,b"] + [f"{i},x" for i in range(50)] + ["1.5,y", "2,z"]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    layout = formats.csv_layout([str(tmp_path / "d.csv")])
    assert layout.kinds == {"a": FLOAT, "b": BYTES}
    values = [
        v for cols in formats.csv_columns([str(tmp_path / "d.csv")], layout) for v in cols["a"][1].to_pylist()
    ]
    assert len(values) == 52 and values[50] == 1.5


def test_files_of_a_span_with_different_headers_are_refused(tmp_path):
    (tmp_path / "1.csv").write_text("a,b\n1,2\n")
    (tmp_path / "2.csv").write_text("a,c\n1,2\n")
    with pytest.raises(formats.SpanDataError, match="2.csv: header differs"):
        formats.csv_layout([str(tmp_path / "1.csv"), str(tmp_path / "2.csv")])


def test_parquet_missing_column_wrong_type_and_bad_bytes_name_the_file(tmp_path):
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"temp": ["warm", "cold"], "late": [0, 1]}), good)
    with pytest.raises(formats.SpanDataError, match=r"good.parquet: missing column\(s\) carrier .*span 4"):
        check.required_columns(formats.PARQUET, [str(good)], ["carrier", "late"], 4)
    written = fast.ingest(formats.PARQUET, [str(good)], [("train", 3), ("eval", 1)], str(tmp_path / "out"))
    assert written.kinds["temp"] == BYTES  # text in a numeric column: the gate blocks it on the schema
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(formats.SpanDataError, match="bad.parquet: cannot read as Parquet"):
        check.required_columns(formats.PARQUET, [str(bad)], ["late"], 4)
    nested = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"xs": [[1, 2]], "late": [0]}), nested)
    with pytest.raises(formats.SpanDataError, match="nested.parquet: column xs is list"):
        formats.parquet_layout([str(nested)])


def test_parquet_zero_is_a_value_and_null_an_empty_cell(tmp_path):
    path = tmp_path / "z.parquet"
    pq.write_table(
        pa.table({"n": pa.array([0, None, 2]), "f": [0.0, 1.5, None], "b": [True, False, None]}), path
    )
    cols = next(formats.parquet_columns([str(path)], formats.parquet_layout([str(path)])))
    assert cols["n"][1].to_pylist() == [0, None, 2]
    assert cols["b"] == (INT, cols["b"][1]) and cols["b"][1].to_pylist() == [1, 0, None]
    assert np.allclose(cols["f"][1].to_pylist()[:2], [0.0, 1.5]) and cols["f"][1].to_pylist()[2] is None


def test_a_truncated_tfrecord_is_refused(tmp_path):
    path = tmp_path / "x.tfrecord"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00abcd" + b"short")
    with pytest.raises(formats.SpanDataError, match="x.tfrecord: truncated TFRecord"):
        list(formats.tfrecord_records([str(path)]))
