"""A cheap challenger: what a model fitted on the span itself achieves on the
same rows as the serving model, so "harder span" and "stale model" are told apart.

A month can simply be harder (flights months swing by 0.1 AUC for any model),
so the serving model's AUC against the AUC it had at push cannot say whether
a fresh model would do better. The challenger can: a regularised logistic
regression on binned numerics and one-hot categoricals, fitted by Newton's
method on a span's train split in well under a second, and scored beside the
serving model on the span's eval split.

The serving model's *advantage* is its AUC minus the challenger's on the same
rows. At push it is measured on the model's own span (``Reference.advantage``);
on a later span again, with a paired bootstrap interval. **Staleness** is the
advantage lost since the push: ``advantage at push - advantage now``. A harder
span lowers both models alike and leaves it near zero; a stale model loses
its advantage to a challenger that learned the new span. The gate retrains
when the whole interval of the lost advantage lies above
``quality.challenger.margin`` (``components.gate.decision``).

Pure numpy: the caller turns tf.Examples into columns
(``components.ingest.records.columns``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import List, Mapping, Optional, Sequence

import numpy as np

from components.quality.metrics import auc, paired_interval

BINS = 10  # quantile bins per numeric feature
TOP = 30  # most frequent values per categorical feature (the rest: one "other" column)
L2 = 1.0  # ridge penalty (on standardised inputs)
ITERATIONS = 25


@dataclass(frozen=True)
class Features:
    """The model's inputs, by kind (``features.numeric`` / ``features.categorical``)."""

    numeric: tuple
    categorical: tuple

    @classmethod
    def from_json(cls, d: Mapping) -> "Features":
        return cls(tuple(d.get("numeric", ())), tuple(d.get("categorical", ())))

    def to_json(self) -> dict:
        return {"numeric": list(self.numeric), "categorical": list(self.categorical)}

    @property
    def names(self) -> List[str]:
        return list(self.numeric) + list(self.categorical)


class Encoder:
    """Columns -> design matrix, learned on the train split: each numeric
    feature as its standardised value, a missing flag and one-hot quantile
    bins; each categorical as one-hot of its most frequent values plus other."""

    def __init__(self, features: Features, columns: Mapping[str, Sequence]):
        self.features = features
        self.numeric = {}
        for name in features.numeric:
            x = np.asarray(columns[name], dtype=float)
            ok = x[np.isfinite(x)]
            if len(ok) == 0:
                self.numeric[name] = (0.0, 1.0, np.array([]))
                continue
            mean, std = float(ok.mean()), float(ok.std()) or 1.0
            edges = np.unique(np.quantile(ok, np.linspace(0, 1, BINS + 1)[1:-1]))
            self.numeric[name] = (mean, std, edges)
        self.vocab = {}
        for name in features.categorical:
            values, counts = np.unique(
                np.asarray(columns[name], dtype=object).astype(str), return_counts=True
            )
            order = np.argsort(-counts, kind="stable")[:TOP]
            self.vocab[name] = {v: i for i, v in enumerate(values[order])}

    def __call__(self, columns: Mapping[str, Sequence]) -> np.ndarray:
        blocks = []
        n = None
        for name, (mean, std, edges) in self.numeric.items():
            x = np.asarray(columns[name], dtype=float)
            n = len(x)
            missing = ~np.isfinite(x)
            z = np.where(missing, 0.0, (np.where(missing, mean, x) - mean) / std)
            bins = np.zeros((n, len(edges) + 1))
            bins[np.arange(n), np.searchsorted(edges, np.where(missing, mean, x), side="right")] = 1.0
            bins[missing] = 0.0
            blocks += [np.clip(z, -5, 5)[:, None], missing[:, None].astype(float), bins]
        for name, vocab in self.vocab.items():
            v = np.asarray(columns[name], dtype=object).astype(str)
            n = len(v)
            hot = np.zeros((n, len(vocab) + 1))
            idx = np.array([vocab.get(s, len(vocab)) for s in v], dtype=int)
            hot[np.arange(n), idx] = 1.0
            blocks.append(hot)
        return np.hstack([np.ones((n or 0, 1))] + blocks)


@dataclass
class Challenger:
    encoder: Encoder
    weights: np.ndarray

    def predict(self, columns: Mapping[str, Sequence]) -> np.ndarray:
        return _sigmoid(self.encoder(columns) @ self.weights)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def fit(features: Features, columns: Mapping[str, Sequence], labels) -> Challenger:
    """Ridge logistic regression by Newton's method (IRLS) on the train split."""
    y = np.asarray(labels, dtype=float)
    enc = Encoder(features, columns)
    x = enc(columns)
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], L2)
    penalty[0] = 0.0  # the intercept is not shrunk
    for _ in range(ITERATIONS):
        p = _sigmoid(x @ w)
        grad = x.T @ (p - y) + penalty * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-6:
            break
    return Challenger(enc, w)


def challenger_auc(features: Features, train: Mapping, train_labels, evals: Mapping, eval_labels) -> tuple:
    """(challenger, its predictions on the eval rows, its AUC there)."""
    model = fit(features, train, train_labels)
    p = model.predict(evals)
    return model, p, auc(np.asarray(eval_labels, dtype=float), p)


@dataclass(frozen=True)
class Staleness:
    """The serving model against a challenger fitted on the judged span."""

    span: int
    rows: int  # eval rows both were scored on
    serving_auc: float
    challenger_auc: float
    advantage: float  # serving - challenger on this span
    advantage_low: float
    advantage_high: float
    reference_advantage: Optional[float]  # the same at push, on the model's own span
    lost: Optional[float] = None  # reference_advantage - advantage (staleness)
    lost_low: Optional[float] = None
    lost_high: Optional[float] = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping) -> "Staleness":
        return cls(**dict(d))


def staleness(
    span: int,
    labels,
    serving_predictions,
    challenger_predictions,
    reference_advantage: Optional[float],
    *,
    confidence: float,
    samples: int,
    seed: int = 0,
) -> Staleness:
    """The serving model's advantage over the challenger on the same eval rows
    (paired bootstrap), and how much of its push-time advantage it lost."""
    y = np.asarray(labels, dtype=float)
    s = np.asarray(serving_predictions, dtype=float)
    c = np.asarray(challenger_predictions, dtype=float)
    # paired_interval gives metric(second) - metric(first): serving - challenger
    iv = paired_interval(y, c, s, auc, confidence=confidence, samples=samples, seed=seed)
    lost = lost_low = lost_high = None
    if reference_advantage is not None and np.isfinite(reference_advantage):
        lost = reference_advantage - iv.diff
        lost_low, lost_high = reference_advantage - iv.high, reference_advantage - iv.low
    r6 = lambda v: None if v is None else round(float(v), 6)  # noqa: E731
    return Staleness(
        span,
        int(len(y)),
        r6(auc(y, s)),
        r6(auc(y, c)),
        r6(iv.diff),
        r6(iv.low),
        r6(iv.high),
        r6(reference_advantage),
        r6(lost),
        r6(lost_low),
        r6(lost_high),
    )


def stale_reason(st: Mapping, margin: float, version) -> Optional[str]:
    """The retrain reason when the whole interval of the lost advantage lies
    above ``margin``, else None (``st``: ``Staleness.to_json()``)."""
    if not st or st.get("lost_low") is None or not st["lost_low"] > margin:
        return None
    return (
        f"stale model: on span {st['span']}'s {st['rows']} eval rows serving v{version} scores AUC "
        f"{st['serving_auc']:.3f} and a challenger fitted on span {st['span']} {st['challenger_auc']:.3f}; "
        f"serving's advantage fell from {st['reference_advantage']:+.3f} at push to {st['advantage']:+.3f}, "
        f"a loss of {st['lost']:.3f} [{st['lost_low']:.3f}, {st['lost_high']:.3f}] above "
        f"quality.challenger.margin {margin}"
    )


def describe(st: Mapping) -> str:
    """One clause for a report: what was compared and the loss."""
    if not st:
        return ""
    if st.get("lost") is None:
        return (
            f"challenger fitted on span {st['span']}: AUC {st['challenger_auc']:.3f} vs serving "
            f"{st['serving_auc']:.3f} on its eval rows (no push-time advantage recorded)"
        )
    return (
        f"challenger fitted on span {st['span']}: AUC {st['challenger_auc']:.3f} vs serving "
        f"{st['serving_auc']:.3f}; advantage lost since push {st['lost']:.3f} "
        f"[{st['lost_low']:.3f}, {st['lost_high']:.3f}]"
    )


def judge_span(
    span: int,
    features: Features,
    columns: Mapping[str, Sequence],
    labels,
    is_eval,
    serving_predictions,
    reference_advantage: Optional[float],
    *,
    confidence: float,
    samples: int,
    min_rows: int = 1,
    seed: int = 0,
) -> Optional[Staleness]:
    """Fits the challenger on the span's train rows and judges the serving
    model beside it on the eval rows (``is_eval``); None when either split
    has fewer than ``min_rows`` rows or a single class."""
    split = _split(columns, labels, is_eval, min_rows)
    if split is None:
        return None
    train, y_train, evals, y_eval, ev = split
    _, p, _ = challenger_auc(features, train, y_train, evals, y_eval)
    s = np.asarray(serving_predictions, dtype=float)[ev]
    return staleness(
        span, y_eval, s, p, reference_advantage, confidence=confidence, samples=samples, seed=seed
    )


def own_span_auc(features: Features, columns: Mapping[str, Sequence], labels, is_eval) -> Optional[float]:
    """The challenger's AUC on a span's eval rows, fitted on its train rows:
    what a push records (``Reference.challenger_auc``); None with a single
    class in either split."""
    split = _split(columns, labels, is_eval, 1)
    if split is None:
        return None
    train, y_train, evals, y_eval, _ = split
    value = challenger_auc(features, train, y_train, evals, y_eval)[2]
    return float(value) if np.isfinite(value) else None


def _split(columns: Mapping[str, Sequence], labels, is_eval, min_rows: int):
    """(train columns, train labels, eval columns, eval labels, eval mask), or
    None when either split has fewer than ``min_rows`` rows or one class."""
    y = np.asarray(labels, dtype=float)
    ev = np.asarray(is_eval, dtype=bool)
    for mask in (~ev, ev):
        if mask.sum() < min_rows or len(np.unique(y[mask])) < 2:
            return None

    def pick(mask):
        return {k: np.asarray(v, dtype=object)[mask] for k, v in columns.items()}

    return pick(~ev), y[~ev], pick(ev), y[ev], ev
