"""The digest (``components.monitor.digest``) as people read it: one
self-contained HTML page (inline CSS and SVG, no network assets, like the run
reports), Markdown sized for one Slack message (under 3,000 characters,
"needs a person" first, the rest cut to "+N more" lines), and the rows of
``driftgate digest``'s table. Times are shown in the digest's time zone.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Callable, List, Optional, Tuple

from components.monitor.periods import parse_time
from components.monitor.report import COLORS, DECISION_COLORS, page

SLACK_LIMIT = 3000  # characters of one Slack section's text
ICONS = {
    "failed": "🔴",
    "blocked": "🔴",
    "rejected": "🔴",
    "rollback": "🟠",
    "degraded": "🟠",
    "canary_pending": "🟠",
    "fairness": "🟡",
    "integrity": "🟡",
}
KIND_COLORS = {"🔴": "#ffcdd2", "🟠": "#ffe0b2", "🟡": "#fff3c4"}
STYLE = (
    "<style>.spark{vertical-align:middle}.needs li{margin:4px 0}.kind{display:inline-block;min-width:110px;"
    "padding:1px 8px;border-radius:10px;font-size:12px;margin-right:6px}</style>"
)


def _e(x) -> str:
    return html.escape(str(x))


def _f(x, fmt=".3f") -> str:
    return "-" if x is None else format(x, fmt)


def local(at: Optional[str], tz: str, fmt: str = "%a %d %b %H:%M") -> str:
    """A recorded UTC time shown in the digest's zone."""
    from zoneinfo import ZoneInfo

    t = parse_time(at)
    return t.astimezone(ZoneInfo(tz)).strftime(fmt) if t is not None else "-"


def _span_text(digest: dict) -> str:
    p = digest["period"]
    start, end = datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"])
    return f"{start:%a} {start.day} {start:%b} to {end:%a} {end.day} {end:%b %Y}, 00:00 {p['timezone']}"


def _versions(events: List[dict]) -> str:
    words = {"stable": "pushed", "canary": "pushed", "promote": "promoted", "rollback": "rolled back"}
    words.update(rejected="rejected", superseded="superseded")
    return ", ".join(f"{words.get(e.get('action'), e.get('action'))} v{e.get('version')}" for e in events)


def _age(days: float) -> str:
    return f"{days:.0f} d" if days >= 1 else (f"{days * 24:.0f} h" if days * 24 >= 1 else "under 1 h")


def _pending_text(p: dict) -> str:
    out = []
    if p.get("spans"):
        out.append(f"span{'s' if len(p['spans']) > 1 else ''} {', '.join(map(str, p['spans']))} waiting")
    c = p.get("canary")
    if c:
        out.append(
            f"canary v{c['version']}" + (f" undecided {_age(c['days'])}" if c.get("days") is not None else "")
        )
    if p.get("schema_drafts"):
        out.append("schema draft " + ", ".join(f"v{v}" for v in p["schema_drafts"]))
    return "; ".join(out)


def region_line(r: dict) -> str:
    """One region's period in one line (Markdown, Slack and the table's last column)."""
    d = {k: v for k, v in r["decisions"].items() if v}
    n = sum(d.values())
    parts = [
        f"{n} run{'s' if n != 1 else ''}" + (f" ({', '.join(f'{v} {k}' for k, v in d.items())})" if n else "")
    ]
    if r["releases"]:
        parts.append(_versions(r["releases"]))
    q = r["quality"]
    if q["mean_auc"] is not None:
        before = (
            f" ({q['previous_mean_auc']:.3f} before, {q['change']:+.3f})" if q["change"] is not None else ""
        )
        parts.append(f"AUC {q['mean_auc']:.3f}{before}")
    if r["drift"]:
        parts.append("drift: " + ", ".join(f"{e['feature']} {e['count']}×" for e in r["drift"][:3]))
    if r["alerts"]:
        parts.append(f"{len(r['alerts'])} alert{'s' if len(r['alerts']) > 1 else ''}")
    if r["stream"]:
        parts.append(f"{sum(e['episodes'] for e in r['stream'])} stream episodes")
    if _pending_text(r["pending"]):
        parts.append("pending: " + _pending_text(r["pending"]))
    return " · ".join(parts)


class _Flavour:
    """Standard Markdown, or Slack's mrkdwn (``*bold*``, ``<url|text>``)."""

    def __init__(self, slack: bool, link_base: Optional[str]):
        self.slack, self.base = slack, (link_base.rstrip("/") + "/") if link_base else ""

    def bold(self, s: str) -> str:
        return f"*{s}*" if self.slack else f"**{s}**"

    def link(self, rel: Optional[str], text: str = "report") -> str:
        if not rel:
            return ""
        url = self.base + rel if self.base and "://" not in rel else rel
        if self.slack:
            return f" <{url}|{text}>" if "://" in url else ""  # a relative path opens nothing in Slack
        return f" [{text}]({url})"

    def bullet(self) -> str:
        return "• " if self.slack else "- "


def _cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def markdown(
    digest: dict,
    *,
    slack: bool = False,
    link_base: Optional[str] = None,
    html_link: Optional[str] = None,
    limit: int = SLACK_LIMIT,
) -> str:
    """The digest in under ``limit`` characters: the headline, "needs a person"
    (as many as fit, then "+N more"), a line per region, the HTML digest's
    link. Report links are relative to the root unless ``link_base`` (the URL
    the root is served at) makes them absolute; Slack shows absolute ones only."""
    fl, t = _Flavour(slack, link_base), digest["totals"]
    decided = ", ".join(f"{t[k]} {k}" for k in ("retrain", "skip", "block", "failed") if t.get(k))
    head = [
        fl.bold(f"driftgate digest: {digest['period']['label']}")
        + f" ({_span_text(digest)}{'; in progress' if digest.get('in_progress') else ''})",
        f"{len(digest['regions'])} regions, {t['runs']} runs"
        + (f" ({decided})" if decided else "")
        + f"; {t['pushed']} pushed, {t['promoted']} promoted, {t['rolled_back']} rolled back; {t['alerts']} alerts",
        "",
    ]
    needs = digest["needs_person"]
    items = [
        fl.bullet() + ICONS.get(i["kind"], "") + " " + _cut(i["text"], 220) + fl.link(i.get("report"))
        for i in needs
    ]
    regions = [
        _cut(fl.bullet() + fl.bold(r["region"]) + ": " + region_line(r), 330) for r in digest["regions"]
    ]
    foot = [""] + ([f"Full digest:{fl.link(html_link, 'HTML')}"] if fl.link(html_link, "HTML") else [])
    size = lambda lines: len("\n".join(lines))  # noqa: E731
    reserve = min(size(regions), 1000) + size(foot) + 40  # the regions' lines, the footer, a "+N more" line
    out = head + [fl.bold(f"Needs a person ({len(needs)})") if needs else "Nothing needs a person."]
    shown = 0
    for line in items:
        if size(out + [line]) + reserve > limit - 60:
            break
        out.append(line)
        shown += 1
    if shown < len(items):
        out.append(f"+{len(items) - shown} more in the HTML digest")
    out += ["", fl.bold("Regions")]
    for k, line in enumerate(regions):
        if size(out + [line]) + size(foot) + 40 > limit - 1:
            out.append(f"+{len(regions) - k} more regions in the HTML digest")
            break
        out.append(line)
    text = "\n".join(out + foot).rstrip() + "\n"
    return text if len(text) < limit else text[: limit - 2] + "\n"


def sparkline(points: List[dict], width: int = 140, height: int = 30) -> str:
    """The serving model's AUC per labelled span as an inline SVG: the period
    before in grey, this period in blue, a degraded verdict as a red dot."""
    if not points:
        return "<span class='muted'>no labelled span</span>"
    aucs = [p["auc"] for p in points]
    lo, hi = min(aucs), max(aucs)
    if hi - lo < 0.02:
        lo, hi = (lo + hi) / 2 - 0.01, (lo + hi) / 2 + 0.01
    pad = 4
    step = (width - 2 * pad) / max(len(points) - 1, 1)
    xy = [
        (
            pad + i * step if len(points) > 1 else width / 2,
            height - pad - (p["auc"] - lo) / (hi - lo) * (height - 2 * pad),
        )
        for i, p in enumerate(points)
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    dots, boundary = [], ""
    for i, ((x, y), p) in enumerate(zip(xy, points, strict=True)):
        color = "#c62828" if p.get("verdict") == "degraded" else ("#1565c0" if p["current"] else "#9e9e9e")
        dots.append(
            f"<circle cx='{x:.1f}' cy='{y:.1f}' r='2.5' fill='{color}'><title>span {_e(p['span'])}: AUC {p['auc']:.3f}</title></circle>"
        )
        if i and p["current"] and not points[i - 1]["current"]:
            bx = (x + xy[i - 1][0]) / 2
            boundary = f"<line x1='{bx:.1f}' y1='0' x2='{bx:.1f}' y2='{height}' stroke='#bbb' stroke-dasharray='2,2'/>"
    label = ", ".join(f"{p['auc']:.3f}" for p in points)
    return (
        f"<svg class='spark' width='{width}' height='{height}' role='img' aria-label='AUC per span: {_e(label)}'>"
        f"{boundary}<polyline fill='none' stroke='#90a4ae' stroke-width='1.5' points='{line}'/>{''.join(dots)}</svg>"
    )


def table_rows(digest: dict) -> Tuple[List[list], List[str]]:
    """Rows per region for ``driftgate digest``'s table."""
    rows = []
    for r in digest["regions"]:
        d, c, q = r["decisions"], r["release_counts"], r["quality"]
        top = ", ".join(f"{e['feature']} {e['count']}" for e in r["drift"][:2]) or "-"
        rows.append(
            [r["region"], len(r["runs"]) + len(r["failed"]), d.get("retrain", 0), d.get("skip", 0), d.get("block", 0),
             d.get("failed", 0), c["pushed"], c["promoted"], c["rolled_back"], _f(q["mean_auc"]),
             _f(q["previous_mean_auc"]), top, len(r["alerts"]), _pending_text(r["pending"]) or "-"]
        )  # fmt: skip
    head = ["region", "runs", "retrain", "skip", "block", "failed", "pushed", "promoted", "rolled back"]
    return rows, head + ["auc", "auc before", "top drift", "alerts", "pending"]


def _link(href: Callable[[str], str], rel: Optional[str], text: str = "report") -> str:
    return f"<a href='{_e(href(rel))}'>{_e(text)}</a>" if rel else ""


def _needs_html(digest: dict, href) -> str:
    needs = digest["needs_person"]
    if not needs:
        return "<h2 id='needs-person'>Needs a person</h2><p>Nothing needs a person this period.</p>"
    items = "".join(
        f"<li><span class='kind' style='background:{KIND_COLORS.get(ICONS.get(i['kind']), '#eee')}'>"
        f"{_e(i['kind'].replace('_', ' '))}</span>{_e(i['text'])} {_link(href, i.get('report'))}</li>"
        for i in needs
    )
    return f"<h2 id='needs-person'>Needs a person ({len(needs)})</h2><ul class='needs'>{items}</ul>"


def _overview(digest: dict) -> str:
    rows, head = table_rows(digest)
    cells = "".join(
        "<tr>"
        + f"<td class='l'><a href='#region-{_e(row[0])}'>{_e(row[0])}</a></td>"
        + "".join(f"<td>{_e(v)}</td>" for v in row[1:9])
        + f"<td>{_e(row[9])} {sparkline(r['quality']['points'])}</td>"
        + "".join(f"<td class='l'>{_e(v)}</td>" for v in row[10:])
        + "</tr>"
        for row, r in zip(rows, digest["regions"], strict=True)
    )
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f"<h2 id='overview'>Regions</h2><table id='overview-table'><tr>{th}</tr>{cells}</table>"


def _region(r: dict, tz: str, href) -> str:
    rid = _e(r["region"])
    parts = [f"<h2 id='region-{rid}'>{rid}</h2>", f"<p>{_e(region_line(r))}</p>"]
    if r["runs"]:
        body = "".join(
            f"<tr><td class='l'>{_e(local(x['at'], tz))}</td><td>{_e(x['span'])}</td>"
            f"<td style='background:{DECISION_COLORS.get(x['decision'], '#eee')}'>{_e(x['decision'])}</td>"
            f"<td>{_e(x['canary'] if x['canary'] not in (None, 'none') else '-')}</td><td>{_e(_f(x['pushed_version'], ''))} {_e(x['release_label'] or '')}</td>"
            f"<td class='l'>{_e(x['summary'])}</td><td>{_link(href, x['report'])}</td></tr>"
            for x in r["runs"]
        )
        head = "<tr><th class='l'>when</th><th>span</th><th>decision</th><th>canary</th><th>pushed</th>"
        parts.append(f"<table>{head}<th class='l'>why</th><th></th></tr>{body}</table>")
    else:
        parts.append("<p class='muted'>no run recorded in this period</p>")
    q = r["quality"]
    parts.append(
        f"<h3>Serving model quality</h3><p>{sparkline(q['points'], 360, 70)} AUC this period {_f(q['mean_auc'])}, "
        f"the period before {_f(q['previous_mean_auc'])}"
        + (f" (change {q['change']:+.3f})" if q["change"] is not None else "")
        + f"; stable v{_e(r['serving']['stable'])}, canary v{_e(r['serving']['canary'])}</p>"
    )
    plural = lambda n, w: f"{n} {w}{'s' if n != 1 else ''}"  # noqa: E731
    lists = [
        ("Releases", [(f"{local(e['at'], tz)}: {e.get('action')} v{e.get('version')} {e.get('reason') or ''}", "") for e in r["releases"]]),
        ("Drifted most against the training baseline", [(f"{e['feature']}: {plural(e['count'], 'span')} ({', '.join(map(str, e['spans']))}), worst {e['worst']}", COLORS.get(e["worst"], "")) for e in r["drift"]]),
        ("Parity findings", [(f"span {f['span']}: {f['sentence']}", "") for f in r["findings"]["fairness"]]),
        ("Data integrity findings", [(f"span {f['span']}: {f['sentence']}", "") for f in r["findings"]["integrity"]]),
        ("Alerts sent", [(f"{local(a['at'], tz)}: {a['key']} ({a['severity']}, {a['channel']})", "") for a in r["alerts"]]),
        ("Stream episodes", [(f"{e['feature']}: {plural(e['episodes'], 'episode')}, worst {e['worst']}", COLORS.get(e["worst"], "")) for e in r["stream"]]),
        ("Failed runs", [(f"{local(f['at'], tz)}: {f['run_id']}: {f['summary']}", "") for f in r["failed"]]),
        ("Pending", [(_pending_text(r["pending"]), "")] if _pending_text(r["pending"]) else []),
    ]  # fmt: skip
    for title, items in lists:
        if items:
            bg = lambda c: f" style='background:{c}'" if c else ""  # noqa: E731
            parts.append(
                f"<h3>{_e(title)}</h3><ul>" + "".join(f"<li{bg(c)}>{_e(i)}</li>" for i, c in items) + "</ul>"
            )
    return "".join(parts)


def html_page(digest: dict, href: Callable[[str], str] = lambda rel: rel) -> str:
    """The digest as one self-contained page; ``href`` turns a root-relative
    report path into the link the page uses."""
    tz, t = digest["period"]["timezone"], digest["totals"]
    head = (
        f"<h1>driftgate digest: {_e(digest['period']['label'])}</h1>"
        f"<p class='muted'>{_e(_span_text(digest))}; generated {_e(local(digest['generated_at'], tz))}"
        + (" (period still in progress)" if digest.get("in_progress") else "")
        + f"</p><p id='totals'>{t['runs']} runs: {t['retrain']} retrain, {t['skip']} skip, {t['block']} block, "
        f"{t['failed']} failed; {t['pushed']} pushed, {t['promoted']} promoted, {t['rolled_back']} rolled back; "
        f"{t['alerts']} alerts</p>"
    )
    body = head + _needs_html(digest, href) + _overview(digest)
    body += "".join(_region(r, tz, href) for r in digest["regions"])
    return page(f"driftgate digest {digest['period']['label']}", STYLE + body)
