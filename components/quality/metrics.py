"""A classifier's quality on labelled rows (pure numpy and scipy): AUC,
accuracy, and a paired bootstrap of the difference between two models on
the same rows. Shared by the serving model's quality, the challenger and the
canary's judgement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties averaged; NaN when
    one class is missing (no AUC exists: the judge then cannot conclude)."""
    from scipy.stats import rankdata

    labels = np.asarray(labels).astype(bool)
    pos, neg = labels.sum(), (~labels).sum()
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def accuracy(labels: np.ndarray, scores: np.ndarray) -> float:
    return float(np.mean((np.asarray(scores) >= 0.5) == np.asarray(labels).astype(bool)))


@dataclass(frozen=True)
class Interval:
    diff: float  # canary - stable on all rows
    low: float
    high: float


def paired_interval(
    labels: np.ndarray,
    stable: np.ndarray,
    canary: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float],
    *,
    confidence: float,
    samples: int,
    seed: int,
) -> Interval:
    """Percentile bootstrap of metric(canary) - metric(stable), resampling rows
    (both models see the same resampled rows: a paired comparison)."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    diffs = np.empty(samples)
    for i in range(samples):
        idx = rng.integers(0, n, n)
        diffs[i] = metric(labels[idx], canary[idx]) - metric(labels[idx], stable[idx])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return Interval(metric(labels, canary) - metric(labels, stable), float(low), float(high))
