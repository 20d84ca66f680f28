"""Drift of one span against one baseline: every test on every feature, with
thresholds, severities and an optional multiple-testing-corrected p-value gate.

Pure: takes summaries (``summaries.py``) and a ``DriftConfig``; returns plain
dicts ready for the JSON report. No TFX here.
"""

from typing import Dict, List, Mapping, Optional

import numpy as np

from components.drift import noise
from components.drift.results import Comparison
from components.drift.stat_tests import Score, run_tests
from components.drift.summaries import NumericSummary
from driftgate.core.vocabulary import CRITICAL, INSUFFICIENT, NONE, WARNING  # noqa: F401
from driftgate.core.vocabulary import SEVERITY_RANK as RANK

P_VALUE_TESTS = ("ks", "chi2")


def max_severity(severities) -> str:
    out = NONE
    for s in severities:
        if RANK.get(s, 0) > RANK[out]:
            out = s
    return out


def at_least(severity: str, floor: str) -> bool:
    """True when ``severity`` reaches ``floor`` (warning < critical; 'never' is never reached)."""
    rank = RANK.get(severity, 0)
    return floor in RANK and rank >= RANK[floor] and rank > 0


def thresholds_for(cfg, feature: str, test: str):
    """The Tier for (feature, test): a per-feature override wins over the per-test
    default (the YAML merge already applied region-over-defaults at both levels)."""
    override = cfg.feature_thresholds.get(feature)
    if override is not None and getattr(override, test) is not None:
        return getattr(override, test)
    return getattr(cfg.thresholds, test)


def benjamini_hochberg(p_values: List[float]) -> List[float]:
    """BH-adjusted p-values (step-up, monotone), same order as given."""
    p = np.asarray(p_values, dtype=float)
    n = len(p)
    if n == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] * n / (np.arange(n) + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(adjusted, 1.0)
    return out.tolist()


def compare(
    base: Mapping[str, object],
    cur: Mapping[str, object],
    cfg,
    baseline: str,
    baseline_span: Optional[int] = None,
    calibration=None,
) -> Comparison:
    """Compares per-feature summaries of the current span with a baseline's:
    per feature its kind, counts, each test's score, p-value, sampling noise,
    thresholds and verdict, and its own severity (the worst of its tests).
    ``calibration`` (``components.drift.calibration.Calibration``) replaces the
    configured thresholds where it has a tier; with ``cfg.noise`` on, every
    threshold is lifted out of the test's sampling noise at the two sides'
    row counts (``components.drift.noise``)."""
    features: Dict[str, dict] = {}
    pending_p: List[tuple] = []
    for name in sorted(set(base) | set(cur)):
        b, c = base.get(name), cur.get(name)
        kind = "numeric" if isinstance(b or c, NumericSummary) else "categorical"
        entry = {
            "kind": kind,
            "count_baseline": float(b.count) if b is not None else 0.0,
            "count_current": float(c.count) if c is not None else 0.0,
            "tests": {},
            "severity": NONE,
        }
        features[name] = entry
        if b is None or c is None or min(b.count, c.count) < cfg.min_count:
            entry["severity"] = INSUFFICIENT
            entry["note"] = f"fewer than {cfg.min_count} values on one side"
            continue
        if type(b) is not type(c):
            entry["severity"] = CRITICAL
            entry["note"] = "type changed between baseline and current span"
            continue
        scores: Dict[str, Score] = run_tests(b, c)
        sampled = noise.of(name, b, b.count, c.count, cfg.noise.draws) if cfg.noise.enabled else {}
        for test, score in scores.items():
            fixed = thresholds_for(cfg, name, test)
            now = sampled.get(test)
            tier = (calibration.tier(name, test, fixed, now) if calibration is not None else None) or fixed
            if now is not None:
                tier = now.lift(tier, cfg.noise.z)
            entry["tests"][test] = {
                "score": round(score.value, 6),
                "p_value": score.p_value,
                "warning": round(tier.warning, 6),
                "critical": round(tier.critical, 6),
                "verdict": tier.severity(score.value),
            }
            if now is not None:
                entry["tests"][test]["noise"] = now.to_json()
            if score.p_value is not None:
                pending_p.append((name, test, score.p_value))
    adjusted = benjamini_hochberg([p for _, _, p in pending_p])
    for (name, test, _), p_adj in zip(pending_p, adjusted, strict=False):
        t = features[name]["tests"][test]
        t["p_adjusted"] = p_adj
        if cfg.p_values.enabled and p_adj >= cfg.p_values.alpha:
            t["verdict"] = NONE  # effect large enough but not significant after correction
    for entry in features.values():
        if entry["tests"]:
            entry["severity"] = max_severity(t["verdict"] for t in entry["tests"].values())
    return Comparison.from_json(
        {
            "baseline": baseline,
            "span": baseline_span,
            "severity": max_severity(f["severity"] for f in features.values()),
            "drifted": sorted(n for n, f in features.items() if RANK[f["severity"]] > 0),
            "features": features,
        }
    )
