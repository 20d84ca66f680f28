"""How the models and the data did on the span, as the run's readers see
it: the candidate per slice (the Evaluator's), the serving model's fairness
across slices (``components.quality.fairness``), the data integrity rates
(``components.drift.integrity``), in the report, the Kubeflow card and the
metrics. Reads the run result's JSON only."""

from __future__ import annotations

import html
import math
from typing import List

MAX_ROWS = 30  # report rows per table


def _e(x) -> str:
    return html.escape(str(x))


def _f(x, fmt=".3f") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def text(x, none: str = "-") -> str:
    """A value as a reader reads it, never Python's spelling: None (or NaN, or
    "") as ``none``, a bool as yes/no, a whole float as an integer (``37``, not
    ``37.0``), a list or tuple joined with commas."""
    if x is None:
        return none
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        if not math.isfinite(x):
            return none
        return str(int(x)) if x.is_integer() else f"{x:.4g}"
    if isinstance(x, (list, tuple)):
        return ", ".join(text(v, none) for v in x) or none
    return str(x) if str(x) else none


def count(x, none: str = "-") -> str:
    """A number of rows: ``1,750`` (a float from TFMA too), ``none`` without one."""
    return none if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{int(x):,}"


def version(v, none: str = "none") -> str:
    """``v3``, or ``none`` when there is no such model."""
    return none if v is None else f"v{v}"


def fairness_of(result: dict) -> dict:
    return ((result.get("canary") or {}).get("quality") or {}).get("fairness") or {}


def integrity_of(result: dict) -> dict:
    return (result.get("drift") or {}).get("integrity") or {}


def quality_of(result: dict) -> dict:
    return (result.get("canary") or {}).get("quality") or {}


LIVE_NOT_CONFIGURED = "not configured (serving.prometheus_url unset): the canary is judged offline only"


def live_health_line(result: dict) -> str:
    """The canary's live health as one sentence: what Prometheus showed of both
    TF Serving tracks, or that it is not configured."""
    canary = result.get("canary") or {}
    live = canary.get("live") or {}
    text = live.get("sentence") or LIVE_NOT_CONFIGURED
    if live.get("verdict") == "not_configured":
        text = LIVE_NOT_CONFIGURED
    if canary.get("decided_by") and canary.get("verdict") not in (None, "none"):
        text += f" (verdict {canary['verdict']}, decided by {canary['decided_by']})"
    return text


def markdown_lines(result: dict) -> List[str]:
    """Card lines: the worst slices of the candidate, the parity findings,
    the data integrity findings."""
    from components.quality.fairness import describe

    lines = []
    found = integrity_of(result).get("findings")
    if found:
        more = f" (+{len(found) - 2} more)" if len(found) > 2 else ""
        lines.append("- **data integrity**: " + "; ".join(f["sentence"] for f in found[:2]) + more)
    judged = [s for s in result.get("slice_metrics") or [] if s.get("auc_diff") is not None]
    if judged:
        worst = min(judged, key=lambda s: s["auc_diff"])
        lines.append(
            f"- **candidate by slice**: {len(judged)} slices; worst {worst['slice']} "
            f"AUC {_f(worst.get('auc'))} ({worst['auc_diff']:+.3f} vs serving, {count(worst.get('rows'), '?')} rows)"
        )
    fair = fairness_of(result)
    if fair:
        lines.append(f"- **fairness** (serving model): {describe(fair)}")
    q = quality_of(result)
    if (q.get("importance") or {}).get("sentence"):
        lines.append(f"- **importance** (serving model): {q['importance']['sentence']}")
    if (q.get("estimate") or {}).get("sentence"):
        lines.append(f"- **span {q['estimate']['span']} before labels**: {q['estimate']['sentence']}")
    then = q.get("estimate_then") or {}
    if then.get("realised_auc") is not None:
        lines.append(
            f"- **estimate vs realised** (span {text(then.get('span'))}): AUC {then['auc']:.3f} estimated, "
            f"{then['realised_auc']:.3f} realised ({then['error']:+.3f})"
        )
    return lines


def html_section(result: dict) -> str:
    """The report's slices section (empty without slices)."""
    parts = []
    cand = result.get("slice_metrics") or []
    if cand:
        head = "<tr><th>slice</th><th>rows</th><th>AUC</th><th>vs serving</th><th>FPR</th><th>FNR</th></tr>"
        body = "".join(
            f"<tr><td class='l'>{_e(s['slice'])}</td><td>{count(s.get('rows'), 'below min_slice_rows')}</td>"
            f"<td>{_f(s.get('auc'))}</td><td>{_f(s.get('auc_diff'), '+.3f')}</td>"
            f"<td>{_f(s.get('fall_out'))}</td><td>{_f(s.get('miss_rate'))}</td></tr>"
            for s in cand[:MAX_ROWS]
        )
        parts.append(f"<h3>Candidate by slice (Evaluator)</h3><table id='slice-metrics'>{head}{body}</table>")
    fair = fairness_of(result)
    if fair:
        found = fair.get("findings") or []
        parts.append(
            "<h3>Serving model fairness (four-fifths rule, band "
            f"{_e(_band(fair.get('band')))}, slices of {count(fair.get('min_rows'), '?')}+ rows)</h3>"
            + (
                "<ul id='parity-findings'>"
                + "".join(f"<li>{_e(f['sentence'])}</li>" for f in found)
                + "</ul>"
                if found
                else "<p id='parity-findings'>no parity finding</p>"
            )
        )
        head = (
            "<tr><th>slice</th><th>rows</th><th>AUC</th><th>FPR</th><th>recall</th><th>positive rate</th>"
            "<th>FPR ratio</th><th>recall ratio</th><th>positive ratio</th></tr>"
        )
        body = "".join(
            f"<tr><td class='l'>{_e(s['slice'])}={_e(text(s.get('value')))}</td><td>{count(s.get('rows'))}</td>"
            f"<td>{_f(s.get('auc'))}</td><td>{_f(s.get('fpr'))}</td><td>{_f(s.get('recall'))}</td>"
            f"<td>{_f(s.get('positive_rate'))}</td>"
            + "".join(f"<td>{_f(s['parity'].get(m), '.2f')}</td>" for m in ("fpr", "recall", "positive_rate"))
            + "</tr>"
            for s in fair.get("slices", [])[:MAX_ROWS]
        )
        parts.append(f"<table id='fairness'>{head}{body}</table>")
    out = "<h2 id='slices'>Slices</h2>" + "".join(parts) if parts else ""
    return out + _model_html(quality_of(result)) + _integrity_html(integrity_of(result))


def _band(band) -> str:
    """``[0.8, 1.25]``: the parity band as an interval."""
    if not band or len(band) != 2:
        return "-"
    return f"[{band[0]:g}, {band[1]:g}]"


def _model_html(q: dict) -> str:
    """Importance (push vs span, nDCG) and the label-free estimate."""
    rows = []
    imp = q.get("importance") or {}
    if imp:
        rows.append(("importance ranking", imp.get("sentence", "")))
        ref, cur = imp.get("reference") or {}, imp.get("current") or {}
        top = sorted(ref, key=lambda f: -ref[f])[:8]
        rows.append(
            (
                f"importance ({text(imp.get('method'))}, {count(imp.get('rows'), '?')} rows): push → span",
                ", ".join(f"{f} {ref[f]:.3f} → {_f(cur.get(f))}" for f in top),
            )
        )
    if (q.get("estimate") or {}).get("sentence"):
        rows.append((f"span {q['estimate']['span']} before labels", q["estimate"]["sentence"]))
    then = q.get("estimate_then") or {}
    if then.get("realised_auc") is not None:
        rows.append(
            (
                f"estimate vs realised, span {text(then.get('span'))}",
                f"AUC {then['auc']:.3f} estimated, {then['realised_auc']:.3f} realised ({then['error']:+.3f})",
            )
        )
    if not rows:
        return ""
    body = "".join(f"<tr><th class='l'>{_e(k)}</th><td class='l'>{_e(v)}</td></tr>" for k, v in rows)
    return f"<h2 id='model'>What the serving model relies on, and its quality before labels</h2><table>{body}</table>"


def _integrity_html(integ: dict) -> str:
    """The span's integrity rates vs the training span: findings, then the
    features with any rate above zero."""
    if not integ:
        return ""
    found = integ.get("findings") or []
    lines = (
        "<ul id='integrity-findings'>" + "".join(f"<li>{_e(f['sentence'])}</li>" for f in found) + "</ul>"
        if found
        else "<p id='integrity-findings'>no rate above its threshold</p>"
    )
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    rows = [
        (name, r)
        for name, r in sorted((integ.get("rates") or {}).items())
        if any(r.get(k) for k in ("missing", "out_of_range", "unseen"))
    ]
    body = "".join(
        f"<tr><td class='l'>{_e(name)}</td><td>{pct(r.get('missing'))}</td><td>{pct(r.get('out_of_range'))}</td>"
        f"<td>{pct(r.get('unseen'))}</td></tr>"
        for name, r in rows
    )
    table = (
        "<table id='integrity'><tr><th>feature</th><th>missing</th><th>outside training range</th>"
        f"<th>unseen</th></tr>{body}</table>"
        if rows
        else ""
    )
    return (
        f"<h2 id='integrity-rates'>Data integrity vs training span {_e(text(integ.get('baseline_span')))}</h2>"
        + lines
        + table
    )


def export(reg, region: str, result: dict) -> None:
    """``driftgate_slice_auc`` and ``driftgate_slice_parity{metric}`` of the
    serving model per exported slice (at most ``max_exported_slices`` values
    per slice spec, the rest as ``__other__``), and the number of findings;
    ``driftgate_feature_integrity_rate{rate}`` per feature."""
    from prometheus_client import Gauge

    q, labels = quality_of(result), ["region", "version"]
    imp, est = q.get("importance") or {}, q.get("estimate") or {}
    if imp.get("ndcg") is not None:
        Gauge(
            "driftgate_importance_ndcg",
            "nDCG of the serving model's feature importance ranking on the span vs at push (Clarify: < 0.9 alerts)",
            labels,
            registry=reg,
        ).labels(region, str(q.get("version"))).set(imp["ndcg"])
        per = Gauge(
            "driftgate_feature_importance",
            "Permutation importance (AUC lost when shuffled) of a feature: at push or on the span",
            ["region", "feature", "when"],
            registry=reg,
        )
        for when, values in (("push", imp.get("reference") or {}), ("span", imp.get("current") or {})):
            for feature, value in values.items():
                per.labels(region, feature, when).set(value)
    if est.get("auc") is not None:
        for name, key, doc in (
            (
                "driftgate_estimated_auc",
                "auc",
                "Serving model AUC on the newest span estimated without labels",
            ),
            ("driftgate_estimated_auc_lower", "auc_low", "Lower end of that estimate's label-noise interval"),
            ("driftgate_estimated_accuracy", "accuracy", "Serving model accuracy estimated without labels"),
        ):
            Gauge(name, doc, labels, registry=reg).labels(region, str(q.get("version"))).set(est[key])
    integ = integrity_of(result)
    if integ:
        rate = Gauge(
            "driftgate_feature_integrity_rate",
            "Share of a feature's span missing, outside the training range or unseen in training",
            ["region", "feature", "rate"],
            registry=reg,
        )
        for feature, r in (integ.get("rates") or {}).items():
            for name in ("missing", "out_of_range", "unseen"):
                if r.get(name) is not None:
                    rate.labels(region, feature, name).set(r[name])
        Gauge(
            "driftgate_integrity_findings",
            "Integrity rates of the latest span above their threshold",
            ["region"],
            registry=reg,
        ).labels(region).set(len(integ.get("findings") or []))
    fair = fairness_of(result)
    if not fair:
        return
    labels = ["region", "slice", "value"]
    auc = Gauge(
        "driftgate_slice_auc",
        "Serving model AUC on a slice of the newest labelled span",
        labels,
        registry=reg,
    )
    parity = Gauge(
        "driftgate_slice_parity",
        "A slice's rate over the whole span's (four-fifths rule: outside [0.8, 1.25] is a finding)",
        labels + ["metric"],
        registry=reg,
    )
    for s in fair.get("slices", []):
        if s.get("auc") is not None:
            auc.labels(region, s["slice"], s["value"]).set(s["auc"])
        for metric, ratio in (s.get("parity") or {}).items():
            if ratio is not None:
                parity.labels(region, s["slice"], s["value"], metric).set(ratio)
    Gauge(
        "driftgate_slice_parity_findings",
        "Slices of the newest labelled span outside the parity band",
        ["region"],
        registry=reg,
    ).labels(region).set(len(fair.get("findings") or []))


def alerts(region: str, q: dict) -> List[tuple]:
    """(key, severity, summary, details) warnings about the serving model:
    parity findings (the four-fifths rule) and an importance ranking that
    moved below ``ndcg_alert``."""
    from components.quality.fairness import describe

    out = []
    fair = q.get("fairness") or {}
    if fair.get("findings"):
        out.append(
            (
                f"<fairness v{q.get('version')}>",
                "warning",
                f"{region}: serving v{q.get('version')} on span {q.get('span')}: {describe(fair)}",
                {"span": q.get("span"), "version": q.get("version"), "findings": fair["findings"][:5]},
            )
        )
    imp = q.get("importance") or {}
    if imp.get("ndcg") is not None and imp["ndcg"] < imp.get("alert_below", 0.9):
        out.append(
            (
                f"<importance v{q.get('version')}>",
                "warning",
                f"{region}: serving v{q.get('version')} on span {q.get('span')}: {imp.get('sentence', '')}",
                {"span": q.get("span"), "version": q.get("version"), "ndcg": imp["ndcg"]},
            )
        )
    return out


def integrity_alerts(region: str, span, integ: dict) -> List[tuple]:
    """A warning when integrity rates exceed their thresholds (never blocks)."""
    found = integ.get("findings") or []
    if not found:
        return []
    more = f" (+{len(found) - 3} more)" if len(found) > 3 else ""
    return [
        (
            "<integrity>",
            "warning",
            f"{region}: span {span} data integrity vs training span {integ.get('baseline_span')}: "
            + "; ".join(f["sentence"] for f in found[:3])
            + more,
            {"span": span, "findings": found[:10]},
        )
    ]
