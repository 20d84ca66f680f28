"""What is wrong with a span file that cannot be read, said in one line that
names the file (and the line when known) and what to do (pure: no pyarrow
reading, no TensorFlow unless the file is in a bucket).

A NUL byte is the usual sign of a file that is not text: a binary export, a
spreadsheet saved in its own format, or UTF-16 text (every other byte NUL).
Python's csv module stops at it with "line contains NUL" and no file name,
TFX's CSV decoder (Beam) fails the same way, pandas silently cuts the cell at
it, and pyarrow keeps it inside the value: every reader here refuses it
instead, through :func:`not_text`.
"""

from __future__ import annotations

import csv
import io
from typing import Optional, Sequence

from driftgate.core.errors import DriftgateError, ExitCode

NUL = b"\x00"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_CHUNK = 1 << 20


class SpanDataError(DriftgateError):
    """A span file cannot be read as its format says (exit 3: the span is blocked)."""

    exit_code = ExitCode.BLOCKED


def binary_file(path: str):
    """The file opened for reading bytes: a local path, or a bucket URI through ``tf.io.gfile``."""
    if "://" not in path:
        return open(path, "rb")
    import tensorflow as tf

    return tf.io.gfile.GFile(path, "rb")


def nul_line(path: str) -> Optional[int]:
    """The line (1-based, as an editor counts them) of the file's first NUL
    byte; None without one. Reads the file once, a megabyte at a time."""
    line = 1
    with binary_file(path) as fh:
        while True:
            block = fh.read(_CHUNK)
            if not block:
                return None
            at = block.find(NUL)
            if at >= 0:
                return line + block.count(b"\n", 0, at)
            line += block.count(b"\n")


def not_text(path: str, line: Optional[int] = None, head: bytes = b"") -> SpanDataError:
    """The error for a file holding NUL bytes (``head``: its first bytes, to
    tell UTF-16 text from a binary file)."""
    where = f"{path}, line {line}" if line else path
    if head.startswith(UTF16_BOMS):
        return SpanDataError(
            f"{where}: the file is UTF-16 text, not UTF-8 (it holds NUL bytes): "
            "export it again as UTF-8 CSV"
        )
    return SpanDataError(
        f"{where}: NUL byte(s) (\\x00): the file is not plain text; check the export that "
        "wrote it (a binary or spreadsheet file saved as .csv?), or remove the NUL bytes "
        f"(tr -d '\\000' < {path.rsplit('/', 1)[-1]} > fixed.csv)"
    )


def _head(path: str) -> bytes:
    with binary_file(path) as fh:
        return fh.read(4)


def refuse_nul(path: str) -> None:
    """Raises :func:`not_text` when the file holds a NUL byte (reads it once)."""
    line = nul_line(path)
    if line is not None:
        raise not_text(path, line, _head(path))


def csv_error(path: str, exc: Exception, line: Optional[int] = None) -> SpanDataError:
    """A ``csv.Error`` (or any parse error) of ``path`` as a SpanDataError: a
    NUL byte said as such, with the line it is on."""
    if "NUL" in str(exc):
        return not_text(path, nul_line(path) or line, _head(path))
    where = f"{path}, line {line}" if line else path
    said = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return SpanDataError(f"{where}: cannot read as CSV: {said}")


def first_with_nul(paths: Sequence[str]) -> Optional[SpanDataError]:
    """The error for the first of ``paths`` holding a NUL byte, None when none
    does (after a reader failed with "line contains NUL" without a file name)."""
    for path in paths:
        line = nul_line(path)
        if line is not None:
            return not_text(path, line, _head(path))
    return None


def read_csv_frame(path: str, **kwargs):
    """``pandas.read_csv`` of ``path`` (local or bucket), refusing a file with
    NUL bytes, which pandas would silently cut short; the file is read once."""
    import pandas as pd

    with binary_file(path) as fh:
        data = fh.read()
    at = data.find(NUL)
    if at >= 0:
        raise not_text(path, data.count(b"\n", 0, at) + 1, data[:4])
    try:
        return pd.read_csv(io.BytesIO(data), **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, csv.Error) as exc:
        raise csv_error(path, exc) from None
