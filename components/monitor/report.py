"""Self-contained HTML reports people read in a minute (no network assets).

- one page per run: ``<root>/<REGION>/reports/span-<N>.html``: the decision
  and why, every feature's scores against thresholds, baseline-vs-current
  distributions of each drifted feature (inline SVG drawn from the same
  statistics the gate used), anomalies, evaluation metrics, serving state;
- ``driftgate report --root DIR``: one summary page across regions and spans
  (drift heat map region x feature, decision timeline).
"""

import html
import json
from typing import Dict, List, Optional

import numpy as np

from components.drift.results import Comparison
from components.gate.decision import SpanReport
from components.monitor import model_view
from components.monitor.model_view import count, text, version
from driftgate.core.vocabulary import DRIFT_TESTS, SEVERITY_RANK

COLORS = {"none": "#e8f5e9", "warning": "#fff3c4", "critical": "#ffcdd2", "insufficient_data": "#eeeeee"}
DECISION_COLORS = {"skip": "#90caf9", "retrain": "#a5d6a7", "block": "#ef9a9a"}
STYLE = """
body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f5f5f5} td.l,th.l{text-align:left} .pill{display:inline-block;padding:3px 10px;border-radius:12px;
font-weight:600} .plots{display:flex;flex-wrap:wrap;gap:14px} .plot{border:1px solid #ddd;padding:6px}
.muted{color:#777;font-size:12px}
"""


def _e(x) -> str:
    return html.escape(str(x))


def page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )


def _svg_numeric(name, base, cur, width=360, height=170) -> str:
    """CDFs of baseline and current from their quantile sketches, over the
    range of their finite values (an inf value is the CDF's jump at the end)."""
    ends = np.concatenate([base.values, cur.values])
    ends = ends[np.isfinite(ends)]
    lo, hi = (float(ends.min()), float(ends.max())) if len(ends) else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    xs = np.linspace(lo, hi, 120)
    pad = 30

    def path(summary, color):
        ys = summary.cdf(xs)
        pts = " ".join(
            f"{pad + (x - lo) / (hi - lo) * (width - 2 * pad):.1f},{height - pad - y * (height - 2 * pad):.1f}"
            for x, y in zip(xs, ys, strict=False)
        )
        return f"<polyline fill='none' stroke='{color}' stroke-width='2' points='{pts}'/>"

    return (
        f"<svg width='{width}' height='{height}' role='img' aria-label='{_e(name)} distribution'>"
        f"{_title(f'{name}: cumulative distribution', pad, width)}"
        f"<line x1='{pad}' y1='{height - pad}' x2='{width - pad}' y2='{height - pad}' stroke='#999'/>"
        f"<line x1='{pad}' y1='{pad}' x2='{pad}' y2='{height - pad}' stroke='#999'/>"
        f"{path(base, '#1565c0')}{path(cur, '#c62828')}"
        f"<text x='{pad}' y='{height - 10}' font-size='10'>{lo:.4g}</text>"
        f"<text x='{width - pad - 30}' y='{height - 10}' font-size='10'>{hi:.4g}</text>"
        f"<text x='{width - 110}' y='{height - pad - 22}' font-size='11' fill='#1565c0'>baseline</text>"
        f"<text x='{width - 110}' y='{height - pad - 8}' font-size='11' fill='#c62828'>current</text></svg>"
    )


def text_width(s: str, font_size: float, bold: bool = False) -> float:
    """A generous estimate of the width SVG text takes in a sans-serif font
    (0.6 em a character, 0.65 bold: wider than the average glyph)."""
    return len(s) * font_size * (0.65 if bold else 0.6)


def _title(s: str, x: float, width: float, font_size: int = 12) -> str:
    """A bold plot title that stays inside ``width``: when the estimate says it
    would not, the renderer squeezes it to fit (``textLength``), never cuts it."""
    room = width - x - 4
    fit = (
        f" textLength='{room:.0f}' lengthAdjust='spacingAndGlyphs'"
        if text_width(s, font_size, True) > room
        else ""
    )
    return f"<text x='{x}' y='14' font-size='{font_size}' font-weight='600'{fit}>{_e(s)}</text>"


def _legend(x: float, y: float) -> str:
    return (
        f"<text x='{x}' y='{y}' font-size='11'><tspan fill='#1565c0'>■ baseline</tspan>"
        f"<tspan fill='#c62828' dx='10'>■ current</tspan></text>"
    )


def _svg_categorical(name, base, cur, width=360, top=8) -> str:
    """Frequencies of the most common categories, baseline vs current."""
    fb = {k: v / base.count for k, v in base.counts.items()}
    fc = {k: v / cur.count for k, v in cur.counts.items()}
    keys = sorted(set(fb) | set(fc), key=lambda k: -(fb.get(k, 0) + fc.get(k, 0)))[:top]
    vmax = max([fb.get(k, 0) for k in keys] + [fc.get(k, 0) for k in keys] + [1e-9])
    row, left = 18, 90
    height = 44 + row * len(keys)
    bars = []
    for i, k in enumerate(keys):
        y = 38 + i * row
        for j, (f, color) in enumerate(((fb, "#1565c0"), (fc, "#c62828"))):
            w = f.get(k, 0) / vmax * (width - left - 20)
            bars.append(f"<rect x='{left}' y='{y + j * 7}' width='{w:.1f}' height='6' fill='{color}'/>")
        label = str(k) if len(str(k)) <= 12 else str(k)[:11] + "…"
        bars.append(f"<text x='4' y='{y + 10}' font-size='11'><title>{_e(k)}</title>{_e(label)}</text>")
    return (
        f"<svg width='{width}' height='{height}' role='img' aria-label='{_e(name)} categories'>"
        f"{_title(f'{name}: share per category', 4, width)}{_legend(4, 30)}{''.join(bars)}</svg>"
    )


def comparisons(result: dict) -> Dict[str, Comparison]:
    """baseline -> Comparison of a run's JSON result ({} when the gate did not report)."""
    report = result.get("drift") or {}
    return SpanReport.from_json_dict(report).drift if report else {}


def _feature_table(comp: Comparison) -> str:
    tests = list(DRIFT_TESTS)
    head = "".join(f"<th>{t}</th>" for t in tests)
    rows = []
    for name, f in sorted(
        comp.features.items(), key=lambda kv: (-SEVERITY_RANK.get(kv[1].severity, 0), kv[0])
    ):
        cells = []
        for t in tests:
            r = f.tests.get(t)
            if r is None:
                cells.append("<td class='muted'>-</td>")
            else:
                cells.append(
                    f"<td style='background:{COLORS.get(r.verdict, '#fff')}' "
                    f"title='warning {r.warning}, critical {r.critical}'>{r.score:.3f}</td>"
                )
        rows.append(
            f"<tr><td class='l'>{_e(name)}</td><td class='l' style='background:{COLORS.get(f.severity)}'>"
            f"{_e(f.severity)}</td>{''.join(cells)}</tr>"
        )
    return (
        f"<table><tr><th class='l'>feature</th><th class='l'>severity</th>{head}</tr>{''.join(rows)}</table>"
        "<p class='muted'>cell colour = that test's verdict against its thresholds (hover for them); "
        "ks = KS distance, wasserstein = W1/std, chi2 = bias-corrected Cramér's V</p>"
    )


def _quality_section(q: dict) -> str:
    """The serving model judged on the newest labelled span (``components.quality.serving``)."""
    if not q:
        return ""
    rows = [("verdict", q.get("verdict"))]
    if q.get("auc") is not None:
        rows += [
            ("serving version", version(q.get("version"))),
            ("span judged", q.get("span")),
            ("labelled rows", count(q.get("rows"))),
            (
                "AUC",
                f"{q['auc']:.3f} [{q['auc_low']:.3f}, {q['auc_high']:.3f}] ({q.get('confidence', 0):.0%})",
            ),
            ("accuracy", f"{q['accuracy']:.3f}"),
        ]
    if q.get("reference_auc") is not None:
        rows += [
            ("reference AUC (at push)", f"{q['reference_auc']:.3f} (span {text(q.get('reference_span'))})"),
            ("retrains below", f"{q['reference_auc'] - q['margin']:.3f} (margin {q['margin']})"),
            (
                "prediction drift vs training span",
                f"PSI {q['prediction_drift'].get('psi', float('nan')):.3f}, "
                f"KS {q['prediction_drift'].get('ks', float('nan')):.3f}, "
                f"{q['prediction_drift'].get('overlap', float('nan')):.0%} in common ({q.get('prediction_severity')})",
            ),
        ]
    st = q.get("staleness") or {}
    if st:
        from components.quality.challenger import describe

        rows.append(
            ("vs a challenger fitted on the span", describe(st) + (" — stale" if q.get("stale") else ""))
        )
    return (
        "<h2 id='quality'>Serving model on the newest labelled span</h2><table>"
        + "".join(f"<tr><th class='l'>{_e(k)}</th><td class='l'>{_e(text(v))}</td></tr>" for k, v in rows)
        + "</table>"
    )


def _outcome(result: dict) -> str:
    """``blessed: yes; pushed version: 3 (canary); baseline version 2``."""
    label = result.get("release_label")
    pushed = text(result.get("pushed_version")) + (f" ({label})" if label else "")
    baseline = result.get("baseline_version")
    return f"blessed: {text(result.get('blessed'), 'not judged')}; pushed version: {pushed}; " + (
        "no baseline (first model)" if baseline is None else f"baseline version {baseline}"
    )


def serving_line(serving: dict) -> str:
    """``stable v2, canary v3, earlier stables v1, rejected -`` from ``release.json``."""
    stable, canary = serving.get("stable"), serving.get("canary")
    return (
        ("no stable model" if stable is None else f"stable {version(stable)}")
        + ", "
        + ("no canary" if canary is None else f"canary {version(canary)}")
        + f", earlier stables {text([version(v) for v in serving.get('previous_stables') or []])}"
        + f", rejected {text([version(v) for v in serving.get('rejected') or []])}"
    )


def run_report(
    result: dict, summaries: Optional[Dict[str, tuple]] = None, serving: Optional[dict] = None
) -> str:
    """HTML for one run. ``summaries``: {feature: (baseline summary, current summary)}
    for the features to plot."""
    from components.drift.summaries import NumericSummary

    gate = result.get("drift") or {}
    decision = result.get("decision") or "-"
    parts = [
        f"<h1>driftgate: region {_e(result['region'])}, span {_e(result['span'])}</h1>",
        f"<p><span class='pill' id='decision' style='background:{DECISION_COLORS.get(decision, '#eee')}'>"
        f"{_e(decision.upper())}</span> &nbsp; {result['rows']:,} rows, schema {_e(result.get('schema_version') or '-')}"
        f", run {_e(result.get('run_id') or '-')}</p>",
        f"<p id='summary'><b>{_e(result.get('summary') or '')}</b></p>",
        (f"<p id='note'>Note: {_e(result['note'])}</p>" if result.get("note") else ""),
        _quality_section((result.get("canary") or {}).get("quality") or {}),
        model_view.html_section(result),
        "<h2 id='why'>Why</h2><ul>"
        + "".join(f"<li>{_e(r)}</li>" for r in result.get("reasons", []))
        + "</ul>",
    ]
    for baseline, comp in comparisons(result).items():
        parts.append(
            f"<h2 id='drift-{_e(baseline)}'>Drift vs {_e(baseline)} baseline (span {_e(text(comp.span))}): "
            f"{_e(comp.severity)}</h2>"
        )
        parts.append(_feature_table(comp))
    if gate.get("gradual"):
        parts.append(
            "<h2>Gradual drift</h2><ul>"
            + "".join(
                f"<li>{_e(g['feature'])} crept {_e(g['direction'])} by {abs(g['total_shift_std']):.2f} std over spans "
                f"{_e(g['spans'][0])}-{_e(g['spans'][-1])} (CUSUM {g['cusum']:.2f})</li>"
                for g in gate["gradual"]
            )
            + "</ul>"
        )
    if summaries:
        plots = []
        for name, (b, c) in sorted(summaries.items()):
            if type(b) is not type(c):
                continue  # the type changed (text in a numeric column): nothing comparable to draw
            svg = _svg_numeric(name, b, c) if isinstance(b, NumericSummary) else _svg_categorical(name, b, c)
            plots.append(f"<div class='plot'>{svg}</div>")
        parts.append(
            "<h2 id='plots'>Drifted features: baseline vs current</h2><div class='plots'>"
            + "".join(plots)
            + "</div>"
        )
    anomalies = result.get("anomalies") or []
    parts.append(f"<h2 id='anomalies'>Anomalies ({len(anomalies)})</h2>")
    if anomalies:
        parts.append(
            "<table><tr><th class='l'>feature</th><th class='l'>split</th><th class='l'>blocks</th>"
            "<th class='l'>what</th></tr>"
            + "".join(
                f"<tr><td class='l'>{_e(a['feature'])}</td><td class='l'>{_e(text(a.get('split')))}</td>"
                f"<td class='l'>{'yes' if a.get('blocking', True) else 'no'}</td><td class='l'>{_e(a['description'])}</td></tr>"
                for a in anomalies
            )
            + "</table>"
        )
    else:
        parts.append("<p>none</p>")
    m = result.get("metrics") or {}
    parts.append("<h2 id='evaluation'>Evaluation</h2>")
    if m:
        parts.append(
            "<table><tr>"
            + "".join(f"<th>{_e(k)}</th>" for k in sorted(m))
            + "</tr><tr>"
            + "".join(f"<td>{_e(text(v))}</td>" for _, v in sorted(m.items()))
            + "</tr></table>"
            f"<p id='model-outcome'>{_e(_outcome(result))}</p>"
        )
    else:
        parts.append("<p>no model trained for this span</p>")
    parts.append("<h2 id='serving'>Serving</h2>")
    parts.append(f"<p id='live-health'>Live health: {_e(model_view.live_health_line(result))}</p>")
    if serving:
        parts.append(f"<p id='serving-state'>{_e(serving_line(serving))}</p>")
    else:
        parts.append(f"<p>{_e(result.get('serving_dir') or 'no serving state yet')}</p>")
    return page(f"driftgate {result['region']} span {result['span']}", "".join(parts))


def summary_report(results: List[dict]) -> str:
    """One page across regions and spans: drift heat map and decision timeline."""
    regions = sorted({r["region"] for r in results})
    spans = sorted({r["span"] for r in results if r.get("span") is not None})
    latest = {}
    for r in results:
        latest[(r["region"], r["span"])] = r
    parts = [
        f"<h1>driftgate: {len(regions)} regions, {len(results)} runs</h1>",
        "<h2 id='timeline'>Decisions per span</h2><table><tr><th class='l'>region</th>"
        + "".join(f"<th>span {s}</th>" for s in spans)
        + "</tr>",
    ]
    for region in regions:
        cells = []
        for s in spans:
            r = latest.get((region, s))
            d = (r.get("decision") or "-") if r else ""
            cells.append(f"<td style='background:{DECISION_COLORS.get(d, '#fff')}'>{_e(d)}</td>")
        parts.append(f"<tr><td class='l'>{_e(region)}</td>{''.join(cells)}</tr>")
    parts.append("</table>")
    features = sorted({f for r in results for c in comparisons(r).values() for f in c.features})
    parts.append(
        "<h2 id='heatmap'>Drift vs training baseline (latest span of each region)</h2>"
        "<table><tr><th class='l'>region</th>" + "".join(f"<th>{_e(f)}</th>" for f in features) + "</tr>"
    )
    for region in regions:
        runs = [r for (reg, _), r in sorted(latest.items()) if reg == region]
        comp = None
        for r in runs:
            comp = comparisons(r).get("training") or comp
        cells = []
        for f in features:
            entry = comp.features.get(f) if comp is not None else None
            sev = entry.severity if entry is not None else ""
            cells.append(f"<td style='background:{COLORS.get(sev, '#fff')}'>{_e(sev)}</td>")
        parts.append(f"<tr><td class='l'>{_e(region)}</td>{''.join(cells)}</tr>")
    parts.append("</table>")
    return page("driftgate summary", "".join(parts))


def write_run_report(layout, result: dict, features: List[str]) -> str:
    """Writes ``layout.report_file(span)`` with plots of drifted features."""
    from components.drift.summaries import summarize
    from components.state import RegionState
    from driftgate.core import storage
    from serving import release

    span = result["span"]
    state = RegionState(layout.state_dir)
    summaries = {}
    for baseline in ("training", "previous"):
        comp = comparisons(result).get(baseline)
        if comp is None or not comp.drifted:
            continue
        base, cur = state.load_statistics(comp.span), state.load_statistics(span)
        if base is None or cur is None:
            continue
        sb, sc = summarize(base.datasets, features), summarize(cur.datasets, features)
        summaries = {
            f: (sb[f], sc[f]) for f in comp.drifted if sb.get(f) is not None and sc.get(f) is not None
        }
        break
    release_file = storage.join(layout.serving_dir, release.STATE_FILE)
    serving = json.loads(storage.read_text(release_file)) if storage.exists(release_file) else None
    path = layout.report_file(span)
    storage.write_atomic(path, run_report(result, summaries, serving))
    return path


def write_summary(root: str) -> str:
    """``<root>/reports/index.html`` from every region's run results."""
    from driftgate.core import layout, storage

    results = []
    for region in storage.listdir(root):
        folder = storage.join(root, region, layout.RESULTS)
        for name in storage.listdir(folder):
            if name.startswith("span-") and name.endswith(".json"):
                results.append(json.loads(storage.read_text(storage.join(folder, name))))
    results.sort(key=lambda r: (r.get("region", ""), r.get("span", 0)))
    path = layout.reports_index(root)
    storage.write_atomic(path, summary_report(results))
    return path
