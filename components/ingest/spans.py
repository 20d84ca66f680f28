"""Which span a run ingests (pure: no TFX, no file system).

Both runners ingest through the same rule, evaluated when the ingestion task
runs (a recurring Kubeflow run needs no recompile):

- a span asked for (``driftgate run --span N``, a static range) is taken as is,
  even if it was processed before (a re-run replaces that span's record);
- a region with no processed span starts at its newest span (older spans are
  history it was deployed onto, not data that arrived since a run);
- otherwise the *oldest* span newer than the newest processed one, so when two
  spans arrived between two scheduled runs none is skipped: this run takes the
  older, the next run the newer, and both report the backlog (``pending``);
- when nothing newer arrived, the newest span is ingested again and marked
  ``no_new_span``: the gate then skips without touching the region's state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Tuple

from driftgate.core.errors import DriftgateError
from driftgate.core.vocabulary import LANDING_MANIFEST, SEALED_MARKER, SPAN_NEXT

SPAN_TOKEN = "{SPAN}"

# why a span was chosen: recorded on the Examples artifact and in the gate report
REQUESTED = "requested"
FIRST = "first"
NEXT = "next"
NO_NEW_SPAN = "no_new_span"


class SpanError(DriftgateError, ValueError):
    """No span can be ingested (no data, or the span asked for is missing)."""


@dataclass(frozen=True)
class SpanChoice:
    span: int
    reason: str  # REQUESTED | FIRST | NEXT | NO_NEW_SPAN
    pending: Tuple[int, ...] = field(default=())  # newer unprocessed spans left for later runs

    @property
    def is_new(self) -> bool:
        return self.reason != NO_NEW_SPAN

    def describe(self) -> str:
        text = {
            REQUESTED: f"span {self.span} (asked for)",
            FIRST: f"span {self.span} (newest; first run of the region)",
            NEXT: f"span {self.span} (oldest span not yet processed)",
            NO_NEW_SPAN: f"span {self.span} again (no span newer than the last processed one)",
        }[self.reason]
        if self.pending:
            text += f"; waiting for later runs: {', '.join(map(str, self.pending))}"
        return text


def span_regex(pattern: str) -> "re.Pattern":
    """Regex matching paths relative to the data folder for a ``{SPAN}`` pattern
    (glob ``*`` and ``?`` within one path segment), capturing the span number."""
    if SPAN_TOKEN not in pattern:
        raise SpanError(f"span pattern '{pattern}' has no {SPAN_TOKEN}")
    out = ""
    for part in re.split(r"(\{SPAN\}|\*|\?)", pattern):
        out += {SPAN_TOKEN: r"(\d+)", "*": r"[^/]*", "?": r"[^/]"}.get(part, re.escape(part))
    return re.compile("^" + out + "$")


def span_glob(pattern: str) -> str:
    """The glob listing every span's files."""
    return pattern.replace(SPAN_TOKEN, "*")


def span_numbers(relative_paths: Iterable[str], pattern: str) -> List[int]:
    """Sorted span numbers of the paths (relative to the data folder, ``/``-separated)."""
    rx = span_regex(pattern)
    found = set()
    for path in relative_paths:
        m = rx.match(path.replace("\\", "/"))
        if m:
            found.add(int(m.group(1)))
    return sorted(found)


def _span_folder(pattern: str) -> Optional[str]:
    """The per-span folder of a pattern (``span-{SPAN}/*.csv`` -> ``span-{SPAN}``),
    None when spans share a folder."""
    folder = pattern.rsplit("/", 1)[0] if "/" in pattern else ""
    return folder if SPAN_TOKEN in folder else None


def discovery_globs(pattern: str) -> List[str]:
    """What to list to tell which spans arrived (``arrived``): the span files,
    and beside them the landing markers of ``driftgate land``: the manifest a
    span folder gets before its first file, and ``_SUCCESS``, written last
    when the span is sealed."""
    folder = _span_folder(pattern)
    markers = [span_glob(f"{folder}/{name}") for name in (LANDING_MANIFEST, SEALED_MARKER)] if folder else []
    return [span_glob(pattern)] + markers


def arrived(relative_paths: Iterable[str], pattern: str) -> List[int]:
    """Span numbers that count as arrived: those with files, except a span
    being landed from Kafka (its folder has a manifest but no ``_SUCCESS``
    yet): half a span is never ingested. Paths: what ``discovery_globs``
    lists, relative to the data folder."""
    paths = list(relative_paths)
    found = span_numbers(paths, pattern)
    folder = _span_folder(pattern)
    if folder is None:
        return found
    landing = set(span_numbers(paths, f"{folder}/{LANDING_MANIFEST}"))
    sealed = set(span_numbers(paths, f"{folder}/{SEALED_MARKER}"))
    return [s for s in found if s not in landing or s in sealed]


def parse_span_parameter(value) -> Optional[int]:
    """The span a run's ``span`` parameter asks for: None for ``"next"`` (or
    empty), else a span number. Raises SpanError in one line otherwise."""
    text = str(value).strip() if value is not None else ""
    if text in ("", SPAN_NEXT):
        return None
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise SpanError(
        f'run parameter span="{text}": expected "{SPAN_NEXT}" (the next unprocessed span) '
        f'or a span number such as "7"'
    )


def choose_span(
    available: Iterable[int], processed: Iterable[int], requested: Optional[int] = None
) -> SpanChoice:
    """The span to ingest now (see module docstring). Raises SpanError."""
    spans = sorted(set(available))
    if not spans:
        raise SpanError("no span present")
    if requested is not None:
        if requested not in spans:
            raise SpanError(f"span {requested} not found; spans present: {', '.join(map(str, spans))}")
        return SpanChoice(requested, REQUESTED)
    done = set(processed)
    if not done:
        return SpanChoice(spans[-1], FIRST)
    newer = [s for s in spans if s > max(done)]
    if not newer:
        return SpanChoice(spans[-1], NO_NEW_SPAN)
    return SpanChoice(newer[0], NEXT, tuple(newer[1:]))
