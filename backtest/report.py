"""The backtest as people read it: a table per region and overall, JSON, and a
self-contained HTML page with inline SVG (served AUC per span per policy;
retrains against gain, the calendar policies as a frontier, driftgate as a
point)."""

from __future__ import annotations

import math
from html import escape
from typing import List, Sequence

from backtest import policies as p

HEAD = ["policy", "retrains", "changes", "mean auc", "worst auc", "gain", "regret"]
LINES = {
    "never": "#9e9e9e",
    "always": "#1e88e5",
    "every-3": "#8e24aa",
    "driftgate": "#e53935",
    "oracle": "#43a047",
}


def _f(x, spec=".3f") -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def table_rows(rows: Sequence[p.Score]) -> List[list]:
    return [
        [
            r.policy,
            r.retrains,
            r.changes,
            _f(r.mean_auc, ".4f"),
            _f(r.worst_auc),
            _f(r.gain, ".2f"),
            _f(r.regret, ".4f"),
        ]
        for r in rows
    ]


def _auc_chart(res, width=560, height=220) -> str:
    walks = {n: w for n, w in res.walks.items() if n in LINES}
    driftgate = res.walks.get("driftgate")
    if driftgate is not None and len(driftgate.changes) in res.oracles:
        walks["oracle"] = res.oracles[len(driftgate.changes)]
    values = [a for w in walks.values() for a in w.auc]
    lo, hi = min(values) - 0.01, max(values) + 0.01
    n = len(res.spans) - 1
    x = lambda i: 40 + i * (width - 60) / max(1, n - 1)  # noqa: E731
    y = lambda v: height - 25 - (v - lo) / (hi - lo) * (height - 45)  # noqa: E731
    parts = [f"<svg width='{width}' height='{height}' role='img' aria-label='served AUC per span'>"]
    for k, span in enumerate(res.spans[1:]):
        parts.append(
            f"<text x='{x(k):.0f}' y='{height - 8}' font-size='10' text-anchor='middle'>{span}</text>"
        )
    for v in (lo + 0.01, (lo + hi) / 2, hi - 0.01):
        parts.append(f"<text x='2' y='{y(v) + 3:.0f}' font-size='10'>{v:.3f}</text>")
    for name, w in walks.items():
        pts = " ".join(f"{x(i):.1f},{y(a):.1f}" for i, a in enumerate(w.auc))
        parts.append(f"<polyline fill='none' stroke='{LINES[name]}' stroke-width='2' points='{pts}'/>")
    legend = " ".join(f"<span style='color:{LINES[n]}'>&#9632; {escape(n)}</span>" for n in walks)
    return "".join(parts) + "</svg><div class='muted'>" + legend + " (AUC served on each span)</div>"


def _frontier(rows: Sequence[p.Score], width=360, height=220) -> str:
    pts = [r for r in rows if not math.isnan(r.gain)]
    if not pts:
        return ""
    gmin, gmax = min(0.0, *(r.gain for r in pts)), max(1.0, *(r.gain for r in pts))
    rmax = max(1, *(r.retrains for r in pts))
    x = lambda r: 40 + r / rmax * (width - 60)  # noqa: E731
    y = lambda g: height - 25 - (g - gmin) / (gmax - gmin) * (height - 45)  # noqa: E731
    parts = [f"<svg width='{width}' height='{height}' role='img' aria-label='retrains against gain'>"]
    calendar = sorted(
        (r for r in pts if r.policy.startswith("every-") or r.policy in ("never", "always")),
        key=lambda r: r.retrains,
    )
    line = " ".join(f"{x(r.retrains):.1f},{y(r.gain):.1f}" for r in calendar)
    parts.append(f"<polyline fill='none' stroke='#8e24aa' stroke-dasharray='4 3' points='{line}'/>")
    for r in pts:
        color = "#e53935" if r.policy == "driftgate" else "#8e24aa" if r in calendar else "#757575"
        size = 6 if r.policy == "driftgate" else 3.5
        parts.append(
            f"<circle cx='{x(r.retrains):.1f}' cy='{y(r.gain):.1f}' r='{size}' fill='{color}'>"
            f"<title>{escape(r.policy)}: {r.retrains} retrains, gain {r.gain:.2f}</title></circle>"
        )
    parts.append(
        f"<text x='{width / 2:.0f}' y='{height - 6}' font-size='10' text-anchor='middle'>retrains</text>"
    )
    parts.append("<text x='2' y='12' font-size='10'>gain</text></svg>")
    return "".join(parts) + "<div class='muted'>dashed: calendar policies; red: driftgate</div>"


def _table(rows: Sequence[p.Score]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in HEAD)
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=l' if i == 0 else ''}>{escape(str(c))}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in table_rows(rows)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def html_page(results, total: Sequence[p.Score]) -> str:
    from components.monitor.report import page

    body = [
        "<h1>driftgate backtest</h1>",
        "<p class='muted'>Each policy decides at each span from what is known then; the model it leaves "
        "serving is scored on the next span. gain = (AUC - never) / (always - never); regret: the "
        "hindsight-best walk with as many serving-model changes, minus this policy.</p>",
        "<h2>All regions</h2>",
        _table(total),
    ]
    for res in results:
        stale = " ".join(f"{age}: {auc:.3f}" for age, auc in res.staleness.items())
        body += [
            f"<h2>{escape(res.region)} (spans {res.spans[0]}-{res.spans[-1]})</h2>",
            "<div class='plots'><div class='plot'>",
            _auc_chart(res),
            "</div><div class='plot'>",
            _frontier(res.rows),
            "</div></div>",
            _table(res.rows),
            f"<p class='muted'>Mean AUC by model age (spans): {escape(stale)}</p>",
        ]
        if res.window:
            w = res.window
            body.append(
                f"<p class='muted'>Training on the newest {w['k']} spans: AUC {w['window_mean_auc']:.4f} on the "
                f"next span, against {w['one_span_mean_auc']:.4f} for one span.</p>"
            )
    return page("driftgate backtest", "".join(body))
