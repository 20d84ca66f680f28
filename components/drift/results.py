"""The drift report as typed data: a test's result, a feature's drift, a
comparison of a span with one baseline. Frozen dataclasses with
``to_json``/``from_json``; the JSON is what ``driftgate run -o json``,
``results/span-<N>.json`` and the gate report artifact carry. No TFX here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, Mapping, Optional, Tuple


@dataclass(frozen=True)
class TestResult:
    score: float
    verdict: str  # none | warning | critical
    warning: float
    critical: float
    p_value: Optional[float] = None
    p_adjusted: Optional[float] = None  # Benjamini-Hochberg across the comparison's features
    noise: Optional[Tuple[float, float]] = None  # the score's mean and std with nothing shifted

    def to_json(self) -> dict:
        d = {
            "score": self.score,
            "p_value": self.p_value,
            "warning": self.warning,
            "critical": self.critical,
            "verdict": self.verdict,
        }
        if self.p_adjusted is not None:
            d["p_adjusted"] = self.p_adjusted
        if self.noise is not None:
            d["noise"] = list(self.noise)
        return d

    @classmethod
    def from_json(cls, d: Mapping) -> "TestResult":
        return cls(
            score=float(d["score"]),
            verdict=d["verdict"],
            warning=float(d["warning"]),
            critical=float(d["critical"]),
            p_value=d.get("p_value"),
            p_adjusted=d.get("p_adjusted"),
            noise=tuple(d["noise"]) if d.get("noise") is not None else None,
        )


@dataclass(frozen=True)
class FeatureDrift:
    kind: str  # numeric | categorical
    severity: str  # worst verdict of its tests, or insufficient_data
    count_baseline: float
    count_current: float
    tests: Dict[str, TestResult] = field(default_factory=dict)
    note: Optional[str] = None

    def scores(self) -> Dict[str, float]:
        return {name: t.score for name, t in self.tests.items()}

    def noise(self) -> Dict[str, list]:
        """``{test: [mean, std]}`` of the tests whose sampling noise was measured."""
        return {name: list(t.noise) for name, t in self.tests.items() if t.noise is not None}

    def to_json(self) -> dict:
        d = {
            "kind": self.kind,
            "count_baseline": self.count_baseline,
            "count_current": self.count_current,
            "tests": {name: t.to_json() for name, t in self.tests.items()},
            "severity": self.severity,
        }
        if self.note is not None:
            d["note"] = self.note
        return d

    @classmethod
    def from_json(cls, d: Mapping) -> "FeatureDrift":
        return cls(
            kind=d["kind"],
            severity=d["severity"],
            count_baseline=float(d.get("count_baseline", 0.0)),
            count_current=float(d.get("count_current", 0.0)),
            tests={name: TestResult.from_json(t) for name, t in d.get("tests", {}).items()},
            note=d.get("note"),
        )


@dataclass(frozen=True)
class Comparison:
    """A span against one baseline (previous span, training span or serving logs)."""

    baseline: str
    span: Optional[int]  # the baseline's span
    severity: str
    drifted: Tuple[str, ...]
    features: Dict[str, FeatureDrift]
    model_version: Optional[int] = None  # training baseline: the serving model's version

    def with_model_version(self, version: Optional[int]) -> "Comparison":
        return replace(self, model_version=version)

    def to_json(self) -> dict:
        d = {
            "baseline": self.baseline,
            "span": self.span,
            "severity": self.severity,
            "drifted": list(self.drifted),
            "features": {name: f.to_json() for name, f in self.features.items()},
        }
        if self.model_version is not None:
            d["model_version"] = self.model_version
        return d

    @classmethod
    def from_json(cls, d: Mapping) -> "Comparison":
        return cls(
            baseline=d["baseline"],
            span=d.get("span"),
            severity=d["severity"],
            drifted=tuple(d.get("drifted", ())),
            features={name: FeatureDrift.from_json(f) for name, f in d.get("features", {}).items()},
            model_version=d.get("model_version"),
        )
