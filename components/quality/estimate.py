"""The serving model's AUC and accuracy on a span before its labels arrive:
confidence-based performance estimation (CBPE, NannyML's method,
implemented here in numpy; no dependency on the package).

Method. On a labelled reference (the model's own span's eval split at push)
``fit`` an isotonic calibrator from the model's scores to the observed
outcomes (pool-adjacent-violators), kept as at most ``max_points`` increasing
score breakpoints and their calibrated probabilities (linear between them,
``np.interp``), small enough for a JSON reference record. On a new span
without labels, each row's calibrated probability p is the chance its label
is positive, so ``estimate`` gives the expected confusion matrix at the
decision threshold 0.5 (score >= 0.5 is positive, as ``metrics.accuracy``):
expected accuracy = mean of p where score >= 0.5 and 1 - p elsewhere; and the
expected ROC AUC in closed form, as NannyML does: rows sorted by score, each
counted as p of a positive and 1 - p of a negative, the expected TPR/FPR
curve integrated with ties counted half. (Unlike NannyML, a row's pairing
with itself is left out of the pair counts: an O(1/n) difference, so that
numerator and denominator are the exact expected pair counts; their ratio
is the estimate.)

Assumption. P(y | x) is the reference's: the estimate follows covariate
shift (rows move to scores where the model is better or worse) and cannot
see concept drift (the same scores now mean other outcomes). When the
labels' relation to the inputs changes, the estimate is wrong, silently.

Interval. A percentile interval over ``samples`` label draws, each row's label
Bernoulli(p), of the realised AUC (rank-sum, as ``metrics.auc``) and accuracy
(``metrics.accuracy``) of each draw. It covers the label noise of a span of
this size only: not the calibrator's own error (a reference of a few thousand
rows), not concept drift.

Cost. ``fit``: one sort and a linear pool-adjacent-violators pass over the
reference rows (a Python loop over distinct scores, once per push).
``estimate``: one sort of the span's scores for the closed form, one ranking
for the interval, then O(rows) per label draw: O(n log n + samples * n).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Tuple

import numpy as np

from components.quality.metrics import accuracy

METHOD = "cbpe"
THRESHOLD = 0.5  # the decision threshold (score >= 0.5 is positive), as metrics.accuracy


@dataclass(frozen=True)
class Calibration:
    """An isotonic map from a model's score to P(label = 1), fitted on ``rows``
    labelled reference rows: ``values[i]`` at ``scores[i]`` (both increasing),
    linear in between, constant beyond the ends."""

    scores: Tuple[float, ...]
    values: Tuple[float, ...]
    rows: int

    def apply(self, scores) -> np.ndarray:
        """The calibrated probability of each score."""
        s = np.asarray(scores, dtype=float).ravel()
        return np.interp(s, np.asarray(self.scores), np.asarray(self.values))

    def to_json(self) -> dict:
        return {"scores": list(self.scores), "values": list(self.values), "rows": self.rows}

    @classmethod
    def from_json(cls, d) -> "Calibration":
        return cls(tuple(float(x) for x in d["scores"]), tuple(float(x) for x in d["values"]), int(d["rows"]))


@dataclass(frozen=True)
class Estimate:
    """The expected AUC and accuracy of a model on unlabelled rows, with the
    interval of the label noise (rounded to 6 places)."""

    rows: int
    auc: float
    auc_low: float
    auc_high: float
    accuracy: float
    accuracy_low: float
    accuracy_high: float
    method: str = METHOD

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d) -> "Estimate":
        return cls(**d)


def _check_scores(scores: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{what}: every score must be a finite number (found NaN or infinity)")


def _pav(y: np.ndarray, w: np.ndarray) -> tuple:
    """Pool adjacent violators on values ``y`` with weights ``w`` (in score
    order): (block values, strictly increasing; block weights; block sizes).
    Equal neighbours are pooled too: fewer blocks, the same fit."""
    vals, wts, sizes = [], [], []
    for yi, wi in zip(y.tolist(), w.tolist(), strict=True):
        v, wt, n = yi, wi, 1
        while vals and vals[-1] >= v:
            pv, pw, pn = vals.pop(), wts.pop(), sizes.pop()
            v, wt, n = (pv * pw + v * wt) / (pw + wt), pw + wt, pn + n
        vals.append(v)
        wts.append(wt)
        sizes.append(n)
    return np.array(vals), np.array(wts), np.array(sizes)


def _coarsen(vals, wts, lo, hi, groups: int) -> tuple:
    """At most ``groups`` blocks: neighbouring blocks pooled into groups of
    about equal weight (a pooled mean of increasing neighbours: still increasing)."""
    if len(vals) <= groups:
        return vals, lo, hi
    before = np.cumsum(wts) - wts
    gid = np.minimum((before * groups / wts.sum()).astype(int), groups - 1)
    starts = np.r_[0, np.flatnonzero(np.diff(gid)) + 1]
    ends = np.r_[starts[1:], len(vals)] - 1
    pooled = np.add.reduceat(vals * wts, starts) / np.add.reduceat(wts, starts)
    return pooled, lo[starts], hi[ends]


def fit(labels, scores, max_points: int = 200) -> Calibration:
    """The isotonic calibration of ``scores`` to ``labels`` (0/1): the
    non-decreasing map closest to the labels in squared error (rows with equal
    scores share a value). Kept as each constant run's first and last score;
    with more than ``max_points // 2`` runs, neighbouring runs are pooled."""
    y = np.asarray(labels, dtype=float).ravel()
    s = np.asarray(scores, dtype=float).ravel()
    if len(y) != len(s):
        raise ValueError(f"calibration: {len(y)} labels for {len(s)} scores")
    if len(y) < 2:
        raise ValueError(f"calibration needs at least 2 labelled rows, got {len(y)}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("calibration: labels must be 0 or 1")
    _check_scores(s, "calibration")
    if y.min() == y.max():
        raise ValueError(
            f"calibration needs both classes in the reference; all {len(y)} labels are {int(y[0])}"
        )
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    order = np.argsort(s, kind="mergesort")
    s, y = s[order], y[order]
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]  # one entry per distinct score
    counts = np.diff(np.r_[starts, len(s)])
    means = np.add.reduceat(y, starts) / counts
    distinct = s[starts]
    vals, wts, sizes = _pav(means, counts.astype(float))
    last = np.cumsum(sizes) - 1
    lo, hi = distinct[last - sizes + 1], distinct[last]
    vals, lo, hi = _coarsen(vals, wts, lo, hi, max_points // 2)
    xs = np.column_stack([lo, hi]).ravel()
    ys = np.repeat(vals, 2)
    keep = np.r_[True, np.diff(xs) > 0]  # a run of one distinct score: one point
    return Calibration(tuple(xs[keep].tolist()), tuple(ys[keep].tolist()), int(len(y)))


def expected_auc(scores, probabilities) -> float:
    """The ROC AUC expected when each row's label is Bernoulli(its
    probability), in closed form: rows sorted by score (ties grouped), each
    p of a positive and 1 - p of a negative; expected pairs ranked right plus
    half the tied ones, over the expected number of pairs. NaN when the
    probabilities leave no expected pair (all 0 or all 1)."""
    s = np.asarray(scores, dtype=float).ravel()
    p = np.asarray(probabilities, dtype=float).ravel()
    order = np.argsort(-s, kind="mergesort")
    s, p = s[order], p[order]
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]
    pos = np.add.reduceat(p, starts)  # expected positives per distinct score, highest first
    neg = np.add.reduceat(1.0 - p, starts)
    above = np.cumsum(pos) - pos  # expected positives scored above each group
    own = float(np.sum(p * (1.0 - p)))  # a row paired with itself: not a pair
    pairs = float(pos.sum() * neg.sum()) - own
    if pairs <= 0:
        return float("nan")
    return float((np.sum(neg * (above + pos / 2)) - own / 2) / pairs)


def expected_accuracy(scores, probabilities) -> float:
    """Mean over rows of p where the model says positive (score >= 0.5), else 1 - p."""
    s = np.asarray(scores, dtype=float).ravel()
    p = np.asarray(probabilities, dtype=float).ravel()
    return float(np.mean(np.where(s >= THRESHOLD, p, 1.0 - p)))


def rank_auc(ranks: np.ndarray, labels: np.ndarray) -> float:
    """``metrics.auc`` with the scores' ranks given (scipy's rankdata, ties
    averaged): the same number, without ranking again for every label draw."""
    labels = np.asarray(labels).astype(bool)
    pos = int(labels.sum())
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _interval(draws: np.ndarray, confidence: float) -> tuple:
    draws = draws[np.isfinite(draws)]
    if len(draws) == 0:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def label_draws(scores, probabilities, *, samples: int, seed: int) -> tuple:
    """(AUCs, accuracies) realised by ``samples`` draws of the labels, each
    row's Bernoulli(p); deterministic for a seed."""
    from scipy.stats import rankdata

    s = np.asarray(scores, dtype=float).ravel()
    p = np.asarray(probabilities, dtype=float).ravel()
    aucs, accs = np.empty(samples), np.empty(samples)
    if samples == 0:
        return aucs, accs
    ranks = rankdata(s)
    rng = np.random.default_rng(seed)
    for i in range(samples):
        y = rng.random(len(p)) < p
        aucs[i] = rank_auc(ranks, y)
        accs[i] = accuracy(y, s)
    return aucs, accs


def estimate(calibration: Calibration, scores, *, confidence=0.95, samples=200, seed=0) -> Estimate:
    """The model's expected AUC and accuracy on rows it scored ``scores``,
    without their labels, and the ``confidence`` interval of the label noise
    (``samples`` label draws; 0: no interval, NaN bounds). Assumes P(y | x)
    unchanged since the reference."""
    s = np.asarray(scores, dtype=float).ravel()
    if len(s) == 0:
        raise ValueError("estimate needs at least one score")
    _check_scores(s, "estimate")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if samples < 0:
        raise ValueError(f"samples must be 0 or more, got {samples}")
    p = calibration.apply(s)
    aucs, accs = label_draws(s, p, samples=samples, seed=seed)
    a_low, a_high = _interval(aucs, confidence)
    c_low, c_high = _interval(accs, confidence)
    return Estimate(
        int(len(s)),
        round(expected_auc(s, p), 6),
        round(a_low, 6),
        round(a_high, 6),
        round(expected_accuracy(s, p), 6),
        round(c_low, 6),
        round(c_high, 6),
    )


def describe(e: Estimate) -> str:
    """One line, e.g. 'estimated AUC 0.712 [0.701, 0.723], accuracy 0.804 [0.795, 0.812] (cbpe, no labels)'."""
    return (
        f"estimated AUC {e.auc:.3f} [{e.auc_low:.3f}, {e.auc_high:.3f}], accuracy {e.accuracy:.3f} "
        f"[{e.accuracy_low:.3f}, {e.accuracy_high:.3f}] on {e.rows:,} rows ({e.method}, no labels)"
    )
