"""Rows to a span file's bytes (Kafka Connect's ``RecordWriter`` /
``Format``): CSV, the region's columns as its header, one line per record,
cells as ``streaming.records`` made them. What TFX's CsvExampleGen and the
fast ingest read back."""

from __future__ import annotations

import csv
import io
from typing import Iterable, List, Sequence, Tuple


class CsvFormat:
    extension = ".csv"

    def __init__(self, columns: Sequence[str]):
        self.columns = tuple(columns)

    def encode(self, rows: Iterable[Sequence[str]]) -> bytes:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        w.writerows(rows)
        return buf.getvalue().encode("utf-8")

    @staticmethod
    def decode(data: bytes) -> Tuple[Tuple[str, ...], List[Tuple[str, ...]]]:
        """(header, rows) of a file's bytes."""
        rows = [tuple(r) for r in csv.reader(io.StringIO(data.decode("utf-8"), newline=""))]
        return rows[0], rows[1:]
