"""Small helpers the end-to-end tests share: corrupting a span, digesting a folder."""

import csv
import hashlib
from pathlib import Path


def corrupt_numeric(src: Path, dst: Path, column: str, every: int = 7) -> None:
    """Copies a CSV span with text ("n/a") in ``column`` on every ``every``-th row."""
    with open(src, newline="") as fh:
        rows = list(csv.reader(fh))
    i = rows[0].index(column)
    for n, row in enumerate(rows[1:]):
        if n % every == 0:
            row[i] = "n/a"
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)


def tree_digest(folder: Path) -> dict:
    """relative path -> sha256 of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
