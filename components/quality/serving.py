"""The serving model judged on a labelled span: how good is it now, against
the quality it promised when it was pushed, and have its predictions moved?

Pure numpy. ``reference`` is measured once, at push (the model's AUC,
accuracy and prediction histogram on its own span's eval split); ``judge``
measures the same on a later span's labelled rows, with a percentile
bootstrap interval of the AUC, and says ``degraded`` only when the whole
interval lies more than ``auc_margin`` below the reference: a drop the span's
sampling noise cannot explain. Prediction drift compares the histogram of
its predictions on the span with the one on its training span (all rows;
PSI and KS on fixed bins over [0, 1]): the label-free signal.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import List, Optional

import numpy as np

from components.quality import challenger
from components.quality.metrics import accuracy, auc

BINS = 20  # prediction histogram: equal-width bins over [0, 1]
DEGRADED, OK, INSUFFICIENT, NO_REFERENCE = "degraded", "ok", "insufficient_data", "no_reference"


def histogram(predictions) -> List[int]:
    p = np.clip(np.asarray(predictions, dtype=float).ravel(), 0.0, 1.0)
    counts, _ = np.histogram(p, bins=BINS, range=(0.0, 1.0))
    return [int(c) for c in counts]


def prediction_drift(reference: List[int], current: List[int]) -> dict:
    """PSI and KS distance between two prediction histograms (same bins), and
    their overlap: the share of mass they have in common (sum over bins of the
    smaller fraction; 1 identical, 0 disjoint). PSI grows without bound on a
    thin tail; the overlap says how much of the span the training span's
    predictions still cover."""
    r = np.asarray(reference, dtype=float)
    c = np.asarray(current, dtype=float)
    if r.sum() == 0 or c.sum() == 0:
        return {"psi": float("nan"), "ks": float("nan"), "overlap": float("nan")}
    rp, cp = r / r.sum(), c / c.sum()
    eps = 1e-4
    rq, cq = np.maximum(rp, eps), np.maximum(cp, eps)
    psi = float(np.sum((cq - rq) * np.log(cq / rq)))
    ks = float(np.max(np.abs(np.cumsum(rp) - np.cumsum(cp))))
    overlap = float(np.minimum(rp, cp).sum())
    return {"psi": round(psi, 6), "ks": round(ks, 6), "overlap": round(overlap, 6)}


def auc_interval(labels, predictions, *, confidence: float, samples: int, seed: int = 0) -> tuple:
    """(AUC, low, high): percentile bootstrap over rows."""
    labels = np.asarray(labels, dtype=float).ravel()
    predictions = np.asarray(predictions, dtype=float).ravel()
    point = auc(labels, predictions)
    rng = np.random.default_rng(seed)
    n = len(labels)
    draws = np.empty(samples)
    for i in range(samples):
        idx = rng.integers(0, n, n)
        draws[i] = auc(labels[idx], predictions[idx])
    draws = draws[np.isfinite(draws)]
    if len(draws) == 0:
        return point, float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return point, float(low), float(high)


@dataclass(frozen=True)
class Reference:
    """What a model scored on its own span's eval split when it was pushed."""

    version: int
    span: int
    rows: int
    auc: float
    accuracy: float
    histogram: List[int]
    # a challenger fitted on the span's train split, on the same eval rows
    # (components.quality.challenger); None: not measured (an older push)
    challenger_auc: Optional[float] = None

    @property
    def advantage(self) -> Optional[float]:
        """The model's AUC minus the challenger's on its own span's eval rows."""
        return None if self.challenger_auc is None else round(self.auc - self.challenger_auc, 6)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d) -> "Reference":
        keys = ("version", "span", "rows", "auc", "accuracy", "histogram")
        return cls(**{k: d[k] for k in keys}, challenger_auc=d.get("challenger_auc"))


def reference(
    version: int, span: int, labels, predictions, span_predictions=None, challenger_auc=None
) -> Reference:
    """The reference of a model pushed from span ``span``: AUC and accuracy on
    the span's held-out eval rows (``labels``, ``predictions``), and the
    histogram of its predictions on all the span's rows (``span_predictions``;
    default the eval rows): what a later identical span reproduces."""
    labels = np.asarray(labels, dtype=float)
    return Reference(
        version,
        span,
        int(len(labels)),
        round(auc(labels, predictions), 6),
        round(accuracy(labels, predictions), 6),
        histogram(predictions if span_predictions is None else span_predictions),
        None if challenger_auc is None else round(float(challenger_auc), 6),
    )


@dataclass(frozen=True)
class Quality:
    """The serving model on one labelled span, and the verdict."""

    version: int
    span: int  # the span judged (the newest with labels)
    rows: int
    verdict: str  # degraded | ok | insufficient_data | no_reference
    auc: Optional[float] = None
    auc_low: Optional[float] = None
    auc_high: Optional[float] = None
    accuracy: Optional[float] = None
    reference_auc: Optional[float] = None
    reference_span: Optional[int] = None
    margin: Optional[float] = None
    confidence: Optional[float] = None
    prediction_drift: dict = field(default_factory=dict)  # psi, ks, overlap vs the training span
    prediction_severity: str = "none"
    sentence: str = ""
    # vs a challenger fitted on the judged span (components.quality.challenger.Staleness)
    staleness: dict = field(default_factory=dict)
    stale: str = ""  # the reason when the model lost its advantage beyond the margin (else "")
    stale_retrains: bool = False  # quality.challenger.retrain: the gate retrains on ``stale``

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d) -> "Quality":
        return cls(**d)


@dataclass(frozen=True)
class Measured:
    """What scoring a model on a labelled span gives (before any verdict)."""

    rows: int
    auc: float
    auc_low: float
    auc_high: float
    accuracy: float
    histogram: List[int]

    def to_json(self) -> dict:
        return asdict(self)


def measure(labels, predictions, *, confidence: float, samples: int, seed: int = 0) -> Measured:
    labels = np.asarray(labels, dtype=float).ravel()
    point, low, high = auc_interval(labels, predictions, confidence=confidence, samples=samples, seed=seed)
    return Measured(
        int(len(labels)),
        round(point, 6),
        round(low, 6),
        round(high, 6),
        round(accuracy(labels, predictions), 6),
        histogram(predictions),
    )


def verdict(
    version: int, span: int, m: Measured, ref: Optional[Reference], cfg, staleness: Optional[dict] = None
) -> Quality:
    """The verdict from measured numbers (``cfg``: ``QualityConfig``): what
    the pipeline and the backtest both apply. ``staleness``: the serving
    model against a challenger fitted on the span
    (``components.quality.challenger.Staleness``), judged at
    ``cfg.challenger.margin``."""

    if m.rows < cfg.min_rows:
        return Quality(
            version,
            span,
            m.rows,
            INSUFFICIENT,
            sentence=f"insufficient data: {m.rows} labelled rows on span {span}, below quality.min_rows "
            f"{cfg.min_rows}; serving version {version} not judged",
        )
    pct = f"{cfg.confidence:.0%}"
    measured = f"serving v{version} scores AUC {m.auc:.3f} [{m.auc_low:.3f}, {m.auc_high:.3f}] ({pct}) on span {span}"
    common = dict(
        auc=m.auc,
        auc_low=m.auc_low,
        auc_high=m.auc_high,
        accuracy=m.accuracy,
        margin=cfg.auc_margin,
        confidence=cfg.confidence,
    )
    if ref is None:
        return Quality(
            version,
            span,
            m.rows,
            NO_REFERENCE,
            **common,
            sentence=f"{measured}; no reference recorded at its push",
        )
    drift = prediction_drift(ref.histogram, m.histogram)
    stale, versus = "", ""
    if staleness and cfg.challenger.enabled:
        stale = challenger.stale_reason(staleness, cfg.challenger.margin, version) or ""
        versus = "; " + challenger.describe(staleness)
    if m.auc_high < ref.auc - cfg.auc_margin:
        status = DEGRADED
        sentence = (
            f"{measured}, below its reference {ref.auc:.3f} (span {ref.span}) by more than {cfg.auc_margin}"
        )
    else:
        status = OK
        sentence = f"{measured}; reference {ref.auc:.3f} (span {ref.span}), within margin {cfg.auc_margin}"
    return Quality(
        version,
        span,
        m.rows,
        status,
        **common,
        reference_auc=ref.auc,
        reference_span=ref.span,
        prediction_drift=drift,
        prediction_severity=cfg.prediction_psi.severity(drift["psi"]),
        sentence=sentence + f"; prediction PSI {drift['psi']:.3f} vs span {ref.span}" + versus,
        staleness=dict(staleness or {}),
        stale=stale,
        stale_retrains=bool(stale) and cfg.challenger.retrain,
    )


def judge(
    version: int,
    span: int,
    labels,
    predictions,
    ref: Optional[Reference],
    cfg,
    seed: int = 0,
    staleness: Optional[dict] = None,
) -> Quality:
    """The serving model's quality verdict on a labelled span (``staleness``:
    beside a challenger fitted on it, ``components.quality.challenger``)."""
    n = len(np.asarray(labels).ravel())
    if n < cfg.min_rows:  # too few rows: no interval is computed
        return verdict(version, span, Measured(n, math.nan, math.nan, math.nan, math.nan, []), ref, cfg)
    m = measure(labels, predictions, confidence=cfg.confidence, samples=cfg.bootstrap_samples, seed=seed)
    return verdict(version, span, m, ref, cfg, staleness)
