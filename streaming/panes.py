"""Counts of records in the baseline's cells: one pane, one window, one span (pure).

A ``Counts`` holds, per numeric feature, the records and their values' sum
per cell of its ``NumericGrid`` plus present, missing, sum, sum of squares, the summed
distances beyond the baseline's range, min and max;
per categorical feature, its values' counts (as CSV cells: ``5``, ``UA``)
and missing. Counts add (a window is the sum of its panes, a span the sum
of its records), and serialise to small JSON (non-zero cells only).
"""

from __future__ import annotations

import operator
from collections import Counter
from typing import Dict, List, Mapping, Sequence

import numpy as np

from components.drift.summaries import OTHER
from streaming.baseline import Baseline
from streaming.records import cell

# numeric per-feature moments: present, missing, sum, sum of squares, the
# summed distance below the baseline's smallest boundary and above its largest
# (Wasserstein's tails, exactly), min, max; all but min and max add up
PRESENT, MISSING, SUM, SQ, BELOW, ABOVE, LOW, HIGH = range(8)
ADDITIVE = slice(0, 6)


def _moments() -> np.ndarray:
    return np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, np.inf, -np.inf])


def floats(values: Sequence) -> np.ndarray:
    """JSON values as floats; missing or unreadable ones NaN."""
    try:
        out = np.array(values, dtype=np.float64)  # numbers and None (NaN): the common case
        if out.ndim == 1:
            return out
    except (TypeError, ValueError):
        pass
    out = np.empty(len(values))
    for i, v in enumerate(values):
        if v.__class__ is float or v.__class__ is int:
            out[i] = v
        elif v is None or v == "" or isinstance(v, bool):
            out[i] = np.nan
        else:
            try:
                out[i] = float(v)
            except (TypeError, ValueError):
                out[i] = np.nan
    return out


class Counts:
    def __init__(self, baseline: Baseline):
        self.baseline = baseline
        self.rows = 0
        self.num = [np.zeros(g.cells, dtype=np.int64) for g in baseline.numeric]
        self.sums = [np.zeros(g.cells) for g in baseline.numeric]  # values summed per cell
        self.moments = [_moments() for _ in baseline.numeric]
        self.cat: List[Counter] = [Counter() for _ in baseline.categorical]
        self.cat_missing = [0] * len(baseline.categorical)

    def columns(self, docs: Sequence[Mapping]) -> Dict[str, tuple]:
        """Each feature's values over the records (None where a record lacks it)."""
        names = [g.name for g in self.baseline.numeric] + [g.name for g in self.baseline.categorical]
        try:
            get = operator.itemgetter(*names)
            cols = zip(*map(get, docs), strict=True) if len(names) > 1 else [[get(d) for d in docs]]
        except KeyError:
            cols = [[d.get(n) for d in docs] for n in names]
        return dict(zip(names, cols, strict=True))

    def add(self, docs: Sequence[Mapping]) -> None:
        """Adds records (JSON objects keyed by column name)."""
        self.rows += len(docs)
        columns = self.columns(docs)
        for i, g in enumerate(self.baseline.numeric):
            x = floats(columns[g.name])
            ok = np.isfinite(x)
            v = x[ok]
            m = self.moments[i]
            m[PRESENT] += len(v)
            m[MISSING] += len(x) - len(v)
            if len(v):
                cells = g.cell_of(v)
                self.num[i] += np.bincount(cells, minlength=g.cells)
                self.sums[i] += np.bincount(cells, weights=v, minlength=g.cells)
                m[SUM] += v.sum()
                m[SQ] += (v * v).sum()
                m[BELOW] += np.maximum(g.knots[0] - v, 0.0).sum()
                m[ABOVE] += np.maximum(v - g.knots[-1], 0.0).sum()
                m[LOW] = min(m[LOW], v.min())
                m[HIGH] = max(m[HIGH], v.max())
        for i, g in enumerate(self.baseline.categorical):
            col = columns[g.name]
            cells = [v if v.__class__ is str else cell(v) for v in col if v is not None and v != ""]
            self.cat_missing[i] += len(col) - len(cells)
            self.cat[i].update(cells)

    def bound(self, max_new: int) -> None:
        """Keeps at most ``max_new`` values unseen in the baseline per feature
        (the most frequent); the others are counted as __other__."""
        for i, g in enumerate(self.baseline.categorical):
            c = self.cat[i]
            new = [k for k in c if k not in g.base.counts]
            if len(new) > max_new:
                new.sort(key=lambda k: (-c[k], k))
                for k in new[max_new:]:
                    c[OTHER] += c.pop(k)

    def merge(self, other: "Counts") -> "Counts":
        self.rows += other.rows
        for i in range(len(self.num)):
            self.num[i] += other.num[i]
            self.sums[i] += other.sums[i]
            a, b = self.moments[i], other.moments[i]
            a[ADDITIVE] += b[ADDITIVE]
            a[LOW], a[HIGH] = min(a[LOW], b[LOW]), max(a[HIGH], b[HIGH])
        for i in range(len(self.cat)):
            self.cat[i].update(other.cat[i])
            self.cat_missing[i] += other.cat_missing[i]
        return self

    def subtract(self, other: "Counts") -> "Counts":
        """Removes ``other`` (a pane leaving a window); min and max then only
        bound the window's (the scores do not use them)."""
        self.rows -= other.rows
        for i in range(len(self.num)):
            self.num[i] -= other.num[i]
            self.sums[i] -= other.sums[i]
            self.moments[i][ADDITIVE] -= other.moments[i][ADDITIVE]
        for i in range(len(self.cat)):
            c = self.cat[i]
            c.subtract(other.cat[i])
            for k in [k for k, v in c.items() if v <= 0]:
                del c[k]
            self.cat_missing[i] -= other.cat_missing[i]
        return self

    @classmethod
    def total(cls, baseline: Baseline, parts) -> "Counts":
        out = cls(baseline)
        for p in parts:
            out.merge(p)
        return out

    def to_json(self) -> dict:
        num = []
        for counts, sums, m in zip(self.num, self.sums, self.moments, strict=True):
            nz = np.flatnonzero(counts)
            num.append([nz.tolist(), counts[nz].tolist(), [float(x) for x in m], sums[nz].tolist()])
        return {
            "rows": self.rows,
            "num": num,
            "cat": [dict(c) for c in self.cat],
            "cat_missing": list(self.cat_missing),
        }

    @classmethod
    def from_json(cls, baseline: Baseline, d: dict) -> "Counts":
        out = cls(baseline)
        out.rows = int(d["rows"])
        for i, (idx, vals, m, sums) in enumerate(d["num"]):
            out.num[i][np.array(idx, dtype=np.int64)] = vals
            out.sums[i][np.array(idx, dtype=np.int64)] = sums
            out.moments[i] = np.array(m, dtype=float)
        out.cat = [Counter(c) for c in d["cat"]]
        out.cat_missing = [int(x) for x in d["cat_missing"]]
        return out

    def integrity(self) -> Dict[str, Dict[str, float]]:
        """Per feature, the window's integrity rates against the baseline (the
        stream's side of ``components.drift.integrity``): ``missing`` (of its
        rows), ``out_of_range`` (numeric: values in the cells below the
        baseline's first sketch boundary and above its last; a value equal to
        the baseline's minimum counts unless the baseline has a point mass
        there) and ``unseen`` (categorical: values the baseline never had).
        A feature without rows in the window is left out."""
        out: Dict[str, Dict[str, float]] = {}
        for g, counts, m in zip(self.baseline.numeric, self.num, self.moments, strict=True):
            present, rows = float(m[PRESENT]), float(m[PRESENT] + m[MISSING])
            if rows > 0:
                r = {"missing": float(m[MISSING]) / rows}
                if present > 0:
                    r["out_of_range"] = float(counts[0] + counts[-1]) / present
                out[g.name] = r
        for g, c, miss in zip(self.baseline.categorical, self.cat, self.cat_missing, strict=True):
            present = float(sum(c.values()))
            rows = present + miss
            if rows > 0:
                r = {"missing": miss / rows}
                if present > 0:
                    r["unseen"] = sum(v for k, v in c.items() if k not in g.base.counts) / present
                out[g.name] = r
        return out

    def feature_stats(self) -> Dict[str, dict]:
        """Per feature: present, missing, and mean / std (numeric) or value counts."""
        out = {}
        for g, m in zip(self.baseline.numeric, self.moments, strict=False):
            n = m[PRESENT]
            mean = m[SUM] / n if n else None
            std = float(np.sqrt(max(m[SQ] / n - mean**2, 0.0))) if n else None
            out[g.name] = {"present": int(n), "missing": int(m[MISSING]), "mean": mean, "std": std}
        for g, c, miss in zip(self.baseline.categorical, self.cat, self.cat_missing, strict=False):
            out[g.name] = {"present": int(sum(c.values())), "missing": int(miss), "values": dict(c)}
        return out
