"""The serving model's fairness across the region's slices on a labelled span.

For each slice value of ``evaluation.slices`` (``carrier=EV``,
``sched_dep_hour=6``): its rows, AUC, false positive rate, recall and
positive rate (the share predicted positive, at 0.5), and each rate as a
ratio to the whole span's. A ratio outside ``evaluation.parity_band`` on a
slice with at least ``min_slice_rows`` rows is a finding: the four-fifths
rule as Arize's bias tracing applies it, [0.8, 1.25], to false positive rate
parity, recall parity and disparate impact (positive rate parity). Smaller
slices are listed, not judged: on a few dozen rows a rate moves by chance.

For metrics, each slice spec keeps its ``max_exported`` largest slice values
by rows; the rest are folded into one ``__other__`` value (their rows
together), so a feature with hundreds of values keeps the number of series
bounded.

Pure numpy; the slices' rows come from ``components.evaluator.slicing``.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from components.quality.metrics import auc

RATES = {"fpr": "false positive rate", "recall": "recall", "positive_rate": "positive rate"}
OTHER = "__other__"


def rates(labels: np.ndarray, predictions: np.ndarray) -> dict:
    """rows, positives, AUC, false positive rate, recall and positive rate at
    0.5 (None where undefined: no negatives, no positives)."""
    y = np.asarray(labels, dtype=float) > 0.5
    hit = np.asarray(predictions, dtype=float) >= 0.5
    pos, neg = int(y.sum()), int((~y).sum())
    value = lambda x: None if x is None or not math.isfinite(x) else round(float(x), 6)  # noqa: E731
    return {
        "rows": int(len(y)),
        "positives": pos,
        "auc": value(auc(y, predictions)) if pos and neg else None,
        "fpr": value((hit & ~y).sum() / neg) if neg else None,
        "recall": value((hit & y).sum() / pos) if pos else None,
        "positive_rate": value(hit.mean()) if len(y) else None,
    }


def _ratio(part: Optional[float], whole: Optional[float]) -> Optional[float]:
    if part is None or whole is None or whole == 0:
        return None
    return round(part / whole, 6)


def _bounded(keyed: Dict[tuple, np.ndarray], max_exported: int) -> List[Tuple[str, str, str, np.ndarray]]:
    """(spec name, value, slice name, rows) per slice: per spec the
    ``max_exported`` largest values, the rest folded into ``__other__``. The
    slice name is ``components.evaluator.slicing.label``'s (``carrier=EV``,
    ``carrier=EV,hour=6``): what a push's ``slice_aucs`` are keyed by."""
    from components.evaluator.slicing import label

    by_spec: Dict[str, List[Tuple[str, np.ndarray]]] = {}
    for key, rows in keyed.items():
        if not key:
            continue
        spec = ",".join(c for c, _ in key)
        value = label(key).split("=", 1)[1] if len(key) == 1 else label(key)
        by_spec.setdefault(spec, []).append((value, label(key), rows))
    out = []
    for spec, values in sorted(by_spec.items()):
        values.sort(key=lambda v: (-len(v[2]), v[0]))
        out += [(spec, value, name, rows) for value, name, rows in values[:max_exported]]
        rest = values[max_exported:]
        if rest:
            folded = np.unique(np.concatenate([rows for _, _, rows in rest]))
            out.append((spec, OTHER, f"{spec}={OTHER}", folded))
    return out


def judge(
    labels,
    predictions,
    slices: Dict[tuple, np.ndarray],
    *,
    band: Sequence[float] = (0.8, 1.25),
    min_rows: int = 200,
    max_exported: int = 10,
) -> dict:
    """Per-slice quality and parity of one model on labelled rows, and the
    findings (JSON-ready). ``slices``: slice key -> row indices
    (``components.evaluator.slicing.slice_rows``)."""
    labels = np.asarray(labels, dtype=float)
    predictions = np.asarray(predictions, dtype=float)
    overall = rates(labels, predictions)
    low, high = band
    rows_out, findings = [], []
    for spec, value, name, rows in _bounded(slices, max_exported):
        r = rates(labels[rows], predictions[rows])
        parity = {m: _ratio(r[m], overall[m]) for m in RATES}
        judged = len(rows) >= min_rows and value != OTHER
        rows_out.append(
            {"slice": spec, "value": value, "name": name, **r, "parity": parity, "judged": judged}
        )
        if not judged:
            continue
        for metric, ratio in parity.items():
            if ratio is not None and not low <= ratio <= high:
                findings.append(
                    {
                        "slice": spec,
                        "value": value,
                        "metric": metric,
                        "ratio": ratio,
                        "rows": int(len(rows)),
                        "sentence": f"{name}: {RATES[metric]} {ratio:.2f}x the region's "
                        f"({r[metric]:.3f} vs {overall[metric]:.3f}, {len(rows)} rows)",
                    }
                )
    findings.sort(key=lambda f: -abs(math.log(f["ratio"])) if f["ratio"] > 0 else -math.inf)
    return {
        "overall": overall,
        "slices": rows_out,
        "findings": findings,
        "band": [low, high],
        "min_rows": min_rows,
    }


def describe(fairness: dict, limit: int = 3) -> str:
    """One line: the findings, worst first, or that none was found."""
    found = fairness.get("findings") or []
    judged = sum(1 for s in fairness.get("slices", []) if s.get("judged"))
    if not found:
        return f"no parity finding on {judged} slices (band {fairness.get('band')})"
    more = f" (+{len(found) - limit} more)" if len(found) > limit else ""
    return "; ".join(f["sentence"] for f in found[:limit]) + more


def slice_aucs(labels, predictions, slices: Dict[tuple, np.ndarray], min_rows: int) -> Dict[str, float]:
    """``{"carrier=EV": AUC}`` of the slices with at least ``min_rows`` rows
    and both classes: what a push records and a later span is compared with."""
    from components.evaluator.slicing import label

    labels, predictions = np.asarray(labels, dtype=float), np.asarray(predictions, dtype=float)
    out = {}
    for key, rows in slices.items():
        if key and len(rows) >= min_rows:
            value = auc(labels[rows], predictions[rows])
            if math.isfinite(value):
                out[label(key)] = round(float(value), 6)
    return out


def degraded(reference: Dict[str, float], current: Dict[str, float], margin: float) -> List[dict]:
    """The slices whose AUC fell more than ``margin`` below their AUC at
    push (both measured on enough rows), worst first, each with a sentence."""
    out = []
    for name, now in current.items():
        then = reference.get(name)
        if then is not None and now < then - margin:
            out.append(
                {
                    "slice": name,
                    "auc": now,
                    "reference_auc": then,
                    "sentence": f"{name}: AUC {now:.3f}, below its {then:.3f} at push by more than {margin}",
                }
            )
    return sorted(out, key=lambda d: d["auc"] - d["reference_auc"])
