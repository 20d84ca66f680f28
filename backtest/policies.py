"""Retraining policies as walks through a score matrix (pure: no TensorFlow).

Spans are indexed 0..T-1 in time order. Model ``i`` is trained on span ``i``.
At each decision point ``t`` = 0..T-2 a policy, knowing only span ``t`` and
the past, may retrain: the candidate (model ``t``) replaces the serving model
``m`` only if the Evaluator's rule blesses it on span ``t``'s eval split. The
model serving after the decision is scored on span ``t + 1``: what users got.
At ``t`` = 0 every policy trains the first model (not counted as a retrain).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence

Decide = Callable[[int, int], bool]  # (t, serving model m) -> retrain?


@dataclass
class Matrix:
    """What the backtest measured for one region.

    ``served[i][j]``: AUC of model i on all rows of span j (j > i).
    ``evals[i][j]``: (AUC, accuracy) of model i on span j's eval split (j >= i;
    j == i is the model's own held-out split): what the Evaluator compares.
    ``measured`` and ``references``: what the serving-quality step sees.
    """

    spans: List[int]
    served: Dict[int, Dict[int, float]]
    evals: Dict[int, Dict[int, tuple]]
    # measured[i][j]: components.quality.serving.Measured of model i on span j (j > i), as JSON
    measured: Dict[int, Dict[int, dict]] = field(default_factory=dict)
    # references[i]: components.quality.serving.Reference of model i (its push), as JSON
    references: Dict[int, dict] = field(default_factory=dict)
    # stale[i][j]: components.quality.challenger.Staleness of model i on span j (j > i), as JSON
    # (None: too few rows to fit the challenger)
    stale: Dict[int, Dict[int, Optional[dict]]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.spans)


@dataclass(frozen=True)
class Bless:
    """The Evaluator's rule (``evaluation:`` config): value thresholds, and
    the candidate's AUC at least the serving model's plus ``min_auc_improvement``
    on the same eval split."""

    min_auc: float = 0.0
    min_accuracy: float = 0.0
    min_auc_improvement: float = 0.0
    # (cand AUC, cand accuracy, serving AUC, serving accuracy) -> blessed; the
    # backtest passes TFMA's validator over the region's EvalConfig
    # (``backtest.evaluation``); None: the comparisons above
    rule: Optional[Callable[[float, float, float, float], bool]] = None

    def __call__(self, matrix: Matrix, t: int, m: int) -> bool:
        cand_auc, cand_acc = matrix.evals[t][t]
        base_auc, base_acc = matrix.evals[m][t]
        if self.rule is not None:
            return self.rule(cand_auc, cand_acc, base_auc, base_acc)
        if cand_auc < self.min_auc or cand_acc < self.min_accuracy:
            return False
        return cand_auc - base_auc >= self.min_auc_improvement


@dataclass
class Walk:
    policy: str
    retrains: List[int] = field(default_factory=list)  # decision points that trained (t > 0)
    changes: List[int] = field(default_factory=list)  # decision points where the serving model changed
    serving: List[int] = field(default_factory=list)  # model serving after each decision
    auc: List[float] = field(default_factory=list)  # served AUC on span t + 1

    @property
    def mean(self) -> float:
        return sum(self.auc) / len(self.auc) if self.auc else math.nan

    @property
    def worst(self) -> float:
        return min(self.auc) if self.auc else math.nan


def walk(name: str, matrix: Matrix, decide: Decide, bless: Bless) -> Walk:
    """Runs one policy over the history."""
    out = Walk(name)
    m = 0
    for t in range(matrix.size - 1):
        if t > 0 and decide(t, m):
            out.retrains.append(t)
            if bless(matrix, t, m):
                out.changes.append(t)
                m = t
        out.serving.append(m)
        out.auc.append(matrix.served[m][t + 1])
    return out


def never() -> Decide:
    return lambda t, m: False


def always() -> Decide:
    return lambda t, m: True


def every(k: int) -> Decide:
    """Retrain every ``k`` spans (at t = k, 2k, ...)."""
    return lambda t, m: t % k == 0


def age_cap(spans: Sequence[int], max_age: int) -> Decide:
    """The gate's model-age rule alone: retrain when the serving model was
    trained more than ``max_age`` spans ago."""
    return lambda t, m: spans[t] - spans[m] > max_age


def from_reports(report: Callable[[int, int], object], test: Optional[str], retrain_on: str) -> Decide:
    """A drift-driven policy from the span reports ``report(m, t)`` (span t
    judged with model m serving). ``test`` None: the gate's whole decision;
    else that drift test alone against the training baseline, at its
    configured thresholds (any feature reaching ``retrain_on``)."""
    from driftgate.core.vocabulary import RETRAIN, SEVERITY_RANK, TRAINING

    floor = SEVERITY_RANK[retrain_on]

    def decide(t: int, m: int) -> bool:
        r = report(m, t)
        if test is None:
            return r.decision == RETRAIN
        comp = r.drift.get(TRAINING)
        if comp is None:
            return False
        return any(
            SEVERITY_RANK.get(f.tests[test].verdict, 0) >= floor
            for f in comp.features.values()
            if test in f.tests
        )

    return decide


def from_signal(report: Callable[[int, int], object], *signals: Callable[[object], bool]) -> Decide:
    """Retrain when any of ``signals`` (a predicate on the span report) fires."""
    return lambda t, m: any(sig(report(m, t)) for sig in signals)


def calibrated_drift(r) -> bool:
    """Drift vs the training baseline beyond the region's calibrated normal
    range on at least ``min_features`` features, or critical on one (nothing
    while uncalibrated)."""
    from driftgate.core.vocabulary import SEVERITY_RANK

    comp = r.drift.get("training")
    if comp is None or r.policy.get("calibration") != "calibrated":
        return False
    floor = SEVERITY_RANK[r.policy["retrain_on"]]
    hit = [f for f in comp.features.values() if SEVERITY_RANK.get(f.severity, 0) >= floor]
    return len(hit) >= r.policy["min_features"] or comp.severity == "critical"


def degraded(r) -> bool:
    """The serving model's quality verdict on the span is ``degraded``."""
    return (r.policy.get("quality") or {}).get("verdict") == "degraded"


def stale(r) -> bool:
    """The serving model lost its advantage over a challenger fitted on the
    span beyond ``quality.challenger.margin`` (whether or not the gate
    retrains on it: ``quality.challenger.retrain``)."""
    return bool((r.policy.get("quality") or {}).get("stale"))


def prediction_drift(r) -> bool:
    """The serving model's predictions moved (PSI at warning or above)."""
    return (r.policy.get("quality") or {}).get("prediction_severity", "none") in ("warning", "critical")


def oracle(matrix: Matrix) -> Dict[int, Walk]:
    """The hindsight-best walk for each number of serving-model changes
    (dynamic programming over the matrix; blessing ignored: hindsight needs
    none). ``result[k]`` maximises the mean served AUC with exactly k changes."""
    n = matrix.size
    # best[(m, c)] = (sum of served AUC so far, path of serving models) after decision t
    best = {(0, 0): (matrix.served[0][1], [0])}
    for t in range(1, n - 1):
        nxt: Dict[tuple, tuple] = {}
        for (m, c), (total, path) in best.items():
            for m2, c2 in ((m, c), (t, c + 1)):
                value = (total + matrix.served[m2][t + 1], path + [m2])
                if (m2, c2) not in nxt or value[0] > nxt[(m2, c2)][0]:
                    nxt[(m2, c2)] = value
        best = nxt
    result: Dict[int, Walk] = {}
    for (_, c), (total, path) in best.items():
        if c in result and result[c].mean * (n - 1) >= total:
            continue
        w = Walk(f"oracle-{c}")
        w.serving = path
        w.auc = [matrix.served[s][t + 1] for t, s in enumerate(path)]
        w.changes = [t for t in range(1, len(path)) if path[t] != path[t - 1]]
        w.retrains = list(w.changes)
        result[c] = w
    return dict(sorted(result.items()))


@dataclass
class Score:
    policy: str
    retrains: int
    changes: int
    mean_auc: float
    worst_auc: float
    gain: float  # (mean - never) / (always - never)
    regret: float  # oracle's mean with the same number of changes, minus this mean

    def to_json(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in vars(self).items()}


def score(walks: Mapping[str, Walk], oracles: Mapping[int, Walk]) -> List[Score]:
    """One row per walk: retrains, served AUC, gain over never, regret vs oracle."""
    lo, hi = walks["never"].mean, walks["always"].mean
    rows = []
    for name, w in walks.items():
        gain = (w.mean - lo) / (hi - lo) if abs(hi - lo) > 1e-12 else math.nan
        best = oracles.get(len(w.changes))
        regret = best.mean - w.mean if best is not None else math.nan
        rows.append(Score(name, len(w.retrains), len(w.changes), w.mean, w.worst, gain, regret))
    return rows


def staleness(matrix: Matrix) -> Dict[int, float]:
    """Mean AUC of a model by its age in spans (1 = scored on the next span)."""
    by_age: Dict[int, List[float]] = {}
    for i, row in matrix.served.items():
        for j, auc in row.items():
            by_age.setdefault(j - i, []).append(auc)
    return {age: sum(v) / len(v) for age, v in sorted(by_age.items())}


def leave_one_out(rows: Mapping[str, Sequence[Score]], candidates: Sequence[str]) -> Dict[str, str]:
    """For each region of ``rows`` (region -> its scored policies): the
    candidate chosen on the *other* regions alone, by their mean gain (a NaN
    gain counts as the worst); ties: fewer serving-model changes there, then
    the later candidate (list them from the most eager to the most cautious).
    A region with no other region gets no choice."""
    out: Dict[str, str] = {}
    for region in rows:
        others = [r for r in rows if r != region]
        if not others:
            continue
        best, key = None, None
        for pos, name in enumerate(candidates):
            per = [next(x for x in rows[r] if x.policy == name) for r in others]
            gain = sum(x.gain for x in per) / len(per)
            gain = -math.inf if math.isnan(gain) else round(gain, 9)
            k = (gain, -sum(x.changes for x in per), pos)
            if key is None or k > key:
                best, key = name, k
        out[region] = best
    return out
