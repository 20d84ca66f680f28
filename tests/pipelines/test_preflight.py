"""Preflight: span resolution and CSV shape checks name the file and column."""

import pytest

from pipelines import preflight

PATTERN = "span-{SPAN}/*.csv"


def _span(root, n, text):
    d = root / f"span-{n}"
    d.mkdir(parents=True)
    (d / "data.csv").write_text(text)


def test_newest_span_by_number_not_by_name(tmp_path):
    for n in (1, 2, 10):
        _span(tmp_path, n, "a,b\n1,2\n")
    assert preflight.available_spans(str(tmp_path), PATTERN) == [1, 2, 10]
    assert preflight.span_files(str(tmp_path), PATTERN, None).span == 10


def test_missing_span_lists_present_ones(tmp_path):
    _span(tmp_path, 1, "a\n1\n")
    with pytest.raises(preflight.PreflightError, match="span 7 not found.*spans present: 1"):
        preflight.span_files(str(tmp_path), PATTERN, 7)


def test_missing_data_folder(tmp_path):
    with pytest.raises(preflight.PreflightError, match="does not exist"):
        preflight.span_files(str(tmp_path / "nope"), PATTERN, None)


def test_missing_column_blocks_naming_file_and_column(tmp_path):
    _span(tmp_path, 1, "a,b\n1,2\n")
    sf = preflight.span_files(str(tmp_path), PATTERN, 1)
    with pytest.raises(preflight.DataBlocked, match=r"span-1/data.csv: missing column\(s\) c"):
        preflight.check_span(sf, ["a", "c"])


@pytest.mark.parametrize("text", ["", "a,b\n"])
def test_empty_span_blocks(tmp_path, text):
    _span(tmp_path, 1, text)
    sf = preflight.span_files(str(tmp_path), PATTERN, 1)
    with pytest.raises(preflight.DataBlocked, match="span 1"):
        preflight.check_span(sf, ["a"])


def test_rows_counted(tmp_path):
    _span(tmp_path, 1, "a,b\n1,2\n3,4\n")
    assert preflight.check_span(preflight.span_files(str(tmp_path), PATTERN, 1), ["a"]).rows == 2


def test_schema_that_does_not_parse_names_file_and_line(tmp_path):
    bad = tmp_path / "schema.pbtxt"
    bad.write_text('feature {\n  name: "a"\n  type: NUMBER\n}\n')
    with pytest.raises(preflight.PreflightError, match=r"schema.pbtxt: schema does not parse: 3:"):
        preflight.check_schema_file(str(bad), ["a"])


def test_schema_missing_feature(tmp_path):
    ok = tmp_path / "schema.pbtxt"
    ok.write_text('feature {\n  name: "a"\n  type: INT\n}\n')
    preflight.check_schema_file(str(ok), ["a"])
    with pytest.raises(preflight.PreflightError, match="lacks configured feature"):
        preflight.check_schema_file(str(ok), ["a", "b"])


def test_spans_in_a_bucket_are_found_counted_and_checked(gcs):
    from driftgate.core import storage

    data = f"{gcs}/preflight/EWR"
    for n, text in ((1, "a,b\n1,2\n3,4\n"), (2, "\ufeffa,b\n5,6\n")):
        storage.write_atomic(f"{data}/span-{n}/data.csv", text)
    assert preflight.available_spans(data, PATTERN) == [1, 2]
    sf = preflight.check_span(preflight.span_files(data, PATTERN, None), ["a", "b"])
    assert (sf.span, sf.files, sf.rows) == (2, (f"{data}/span-2/data.csv",), 1)
    assert preflight.check_span(preflight.span_files(data, PATTERN, 1), ["a"]).rows == 2
    with pytest.raises(preflight.DataBlocked, match=r"span-1/data.csv: missing column\(s\) c"):
        preflight.check_span(preflight.span_files(data, PATTERN, 1), ["a", "c"])
    with pytest.raises(preflight.PreflightError, match="does not exist"):
        preflight.span_files(f"{gcs}/preflight/JFK", PATTERN, None)
