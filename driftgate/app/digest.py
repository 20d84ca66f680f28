"""``driftgate digest``: the week or month at a glance across the regions
under a root, built only from what their runs recorded there (results,
state, ``release.json``, failed-run records); ``components.monitor.digest``
summarises and ``components.monitor.digest_view`` renders. The root is read
through ``driftgate.core.storage`` (a folder or a bucket alike) and only the
result files a period can need are read (those the history dates from the
period before on, and the newest). With the data folder, the stream
watcher's alert records and the spans that arrived are read too; with the
regions' configs, their schema drafts (versions not released). ``send``
posts the Slack Markdown through the alert channels' webhook
(``components.monitor.alerts.post_slack``). Docs: ``docs/monitoring.md``.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from datetime import date, datetime, timedelta
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from components.monitor.digest import RegionRecords, summarise
from components.monitor.periods import Period, parse_time, period_ending
from components.state import RegionState
from driftgate.core import layout, storage
from driftgate.core.config import DigestConfig
from driftgate.core.errors import DriftgateError
from driftgate.core.strict import ConfigError
from serving import release

NOT_REGIONS = {layout.SERVING, layout.REPORTS, layout.METRICS}
SPAN_FILE = re.compile(r"^span-(\d+)\.(json|html)$")


class DigestError(DriftgateError):
    """The digest cannot be made or sent (exit 1); the message says why."""


def settings(configs: Iterable) -> DigestConfig:
    """The ``digest`` section every region shares (defaults without regions);
    ConfigError when region files set it differently."""
    found = {c.region: c.digest for c in configs}
    distinct = set(found.values())
    if len(distinct) > 1:
        raise ConfigError(
            "digest: the regions set it differently ("
            + "; ".join(f"{r}: {d.timezone}, {d.cron}" for r, d in sorted(found.items()))
            + "); one digest covers every region: set digest in defaults.yaml only"
        )
    return distinct.pop() if distinct else DigestConfig()


def region_names(root: str) -> List[str]:
    """Regions with results or state under ``root``."""
    out = []
    for name in storage.listdir(root):
        if name in NOT_REGIONS or name.startswith("."):
            continue
        try:
            inside = storage.listdir(storage.join(root, name))
        except NotADirectoryError:  # a file beside the regions
            continue
        if layout.RESULTS in inside or layout.STATE in inside:
            out.append(name)
    return out


def _json(path: str, default=None):
    try:
        return json.loads(storage.read_text(path))
    except FileNotFoundError:
        return default


def read_region(
    root: str, region: str, since: datetime, *, config=None, data: Optional[str] = None, schemas_dir=None
) -> RegionRecords:
    """What ``region``'s runs recorded under ``root`` that a digest of periods
    from ``since`` on can need."""
    lay = layout.RegionLayout(root, region, config.serving.model_name if config else "model")
    rec = RegionRecords(region, history=RegionState(lay.state_dir).history())
    rec.release = _json(release.state_path(lay.serving_dir))
    rec.alerts_sent = _json(lay.alerts_file, {}) or {}
    recorded = {h["span"]: parse_time(h.get("recorded_at")) for h in rec.history if "span" in h}
    names = storage.listdir(lay.results_dir)
    spans = [int(m.group(1)) for m in map(SPAN_FILE.match, names) if m and m.group(2) == "json"]
    newest = max(spans, default=None)
    for span in sorted(spans):
        t = recorded.get(span)
        if t is None or t >= since or span == newest:  # a later run of the newest span rewrites its file
            rec.results.append(_json(lay.result_file(span)))
    rec.results = [r for r in rec.results if r]
    rec.failures = [_json(storage.join(lay.results_dir, n)) for n in names if n.startswith("failed-")]
    rec.failures = [f for f in rec.failures if f]
    for name in storage.listdir(lay.reports_dir):
        m = SPAN_FILE.match(name)
        if m and m.group(2) == "html":
            rec.reports[int(m.group(1))] = f"{region}/{layout.REPORTS}/{name}"
    if config is not None:
        rec.schema_drafts = schema_drafts(config, schemas_dir)
        if data:
            from driftgate.core.config import region_data_dir
            from pipelines.preflight import available_spans
            from streaming.streamer import SENT

            folder = region_data_dir(config, data)
            rec.data_spans = available_spans(folder, config.data.span_pattern)
            rec.stream_sent = _json(storage.join(folder, SENT), {}) or {}
    return rec


def schema_drafts(config, schemas_dir=None) -> List[int]:
    """Schema versions of the region newer than the pinned one and never
    released (what ``driftgate schema infer/propose`` drafted for review)."""
    from pipelines import schema_store

    released = schema_store.released(schemas_dir)
    return [
        v
        for v in schema_store.versions(config.region, schemas_dir)
        if v > config.schema.version and f"{config.region}/v{v}" not in released
    ]


def build(
    root: str,
    *,
    period: str = "week",
    timezone: str = "UTC",
    until: Optional[date] = None,
    regions: Optional[List[str]] = None,
    configs: Optional[Dict[str, object]] = None,
    data: Optional[str] = None,
    schemas_dir=None,
    canary_pending_days: float = 7.0,
    now: Optional[datetime] = None,
    progress: Callable[[str], None] = lambda line: None,
) -> Tuple[dict, Period]:
    """The digest of the last whole ``period`` ended by ``until`` (by ``now``)."""
    root = storage.absolute(root)
    span = period_ending(period, timezone, until=until, now=now)
    found = region_names(root)
    if not found:
        raise DigestError(f"{root}: no region has results or state here; is this the runs root (--root)?")
    if regions:
        unknown = sorted(set(regions) - set(found))
        if unknown:
            raise DigestError(f"{root}: no region {', '.join(unknown)} here; found {', '.join(found)}")
        found = [r for r in found if r in regions]
    since = span.previous.start - timedelta(days=1)
    progress(
        f"digest {span.label} ({span.start:%Y-%m-%d} to {span.end:%Y-%m-%d}, {timezone}): {', '.join(found)}"
    )
    records = [
        read_region(root, r, since, config=(configs or {}).get(r), data=data, schemas_dir=schemas_dir)
        for r in found
    ]
    return summarise(records, span, now=now, canary_pending_days=canary_pending_days), span


def default_out(root: str, period: Period) -> str:
    """``<root>/reports/digest-<week|month>-<first day>.html``."""
    return storage.join(
        storage.absolute(root), layout.REPORTS, f"digest-{period.kind}-{period.start:%Y-%m-%d}.html"
    )


def href_from(out: str, root: str) -> Callable[[str], str]:
    """Root-relative report path -> the link a page written at ``out`` uses:
    relative when the page and the root are on the same filesystem or bucket."""
    root = storage.absolute(root).rstrip("/")
    out = storage.absolute(out)
    if storage.is_remote(out) != storage.is_remote(root):
        return lambda rel: storage.join(root, rel)
    if storage.is_remote(out):
        if out.split("/")[2] != root.split("/")[2]:  # another bucket
            return lambda rel: storage.join(root, rel)
        return lambda rel: posixpath.relpath(posixpath.join(root, rel), posixpath.dirname(out))
    return lambda rel: os.path.relpath(os.path.join(root, rel), os.path.dirname(out)).replace(os.sep, "/")


def write_html(digest: dict, root: str, out: str) -> str:
    from components.monitor.digest_view import html_page

    storage.write_atomic(out, html_page(digest, href_from(out, root)))
    return out


def send(text: str, env: Mapping[str, str], retries: int = 3, backoff: float = 1.0) -> None:
    """Posts the Slack Markdown as one message through the alert channels'
    webhook; DigestError without the secret or after every retry (never naming the URL)."""
    from components.monitor.alerts import NotifyError, post_slack

    body = {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
    try:
        sent = post_slack(body, env, retries, backoff)
    except NotifyError as exc:
        raise DigestError(f"digest not sent: {exc}") from None
    if not sent:
        raise DigestError(
            "digest not sent: no Slack webhook (set DRIFTGATE_SLACK_WEBHOOK_URL, or "
            "DRIFTGATE_SLACK_WEBHOOK_URL_FILE naming a file that holds it)"
        )
