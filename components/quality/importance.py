"""Which features the serving model relies on, whether that has changed, and
drift weighted by it.

**Importance** is permutation importance on AUC: on a labelled span, a
deterministic sample of at most ``max_rows`` rows is scored once (the base
AUC); then, one feature at a time, that feature's ``tf.train.Feature`` entry
is shuffled across the sampled rows (absence included: a row that lacked the
feature passes its absence to the row it is permuted to; spliced in the
serialized bytes, see ``permuted``) and the rows are scored again. A
feature's importance is the base AUC minus the permuted AUC: how much
ranking quality the model loses when that column carries no information
about the label. A feature the model does not read scores exactly 0; a small
negative value is noise. The cost is ``(features + 1) x min(rows, max_rows)``
rows scored through the model's ``serving_default`` signature in one predict
call, whatever the span's size: on EWR (15 features, 2,000 rows) about 0.23 s
warm, six times one scoring of a 10,000-row span
(``benchmarks/bench_importance.py``).

**Importance drift** compares two rankings with the nDCG score SageMaker
Clarify's model monitor uses for feature attribution drift (the Clarify page
"Feature attribution drift for models in production",
docs.aws.amazon.com/sagemaker/latest/dg/clarify-model-monitor-feature-attribution-drift.html,
and its violations page): with ``a(f)`` the reference's attribution of feature
``f`` (its baseline, here the push-time importance), ``F`` the features sorted
by the reference's attributions and ``F'`` the same features sorted by the
current window's,

    DCG  = sum_i a(F'_i) / log2(i + 1)      (i = 1..m, the current order)
    iDCG = sum_i a(F_i)  / log2(i + 1)      (the reference's own order)
    nDCG = DCG / iDCG

so 1.0 means the current ranking is the reference's, and a feature that falls
costs in proportion to how much it mattered at the reference. Clarify logs a
violation when the score is below 0.9 (``NDCG_ALERT``). Clarify's attributions
are mean absolute SHAP values, never negative; permutation importances can be,
so the relevance ``a(f)`` is clipped at 0. The Clarify page's own example
(training 0.70 / 0.50 / 0.05, live ranking reversed) scores about 0.69.

**Importance-weighted drift** (``weighted_drift``) turns per-feature drift
scores into one number that counts drift on the features the model uses:
``sum_f w_f * s_f`` with ``w`` the importances clipped at 0 and normalised to
sum 1.
"""

from __future__ import annotations

import functools
import math
import zlib
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from components.quality.metrics import auc

METHOD = "permutation_auc"
MAX_ROWS = 2000  # rows sampled from a span: the cost is (features + 1) x this many rows scored
NDCG_ALERT = 0.9  # a drop below 0.9 is reported (SageMaker Clarify's feature attribution drift threshold)
TOP = 5  # features listed by weighted_drift

Predict = Callable[[List[bytes]], np.ndarray]


@dataclass(frozen=True)
class Importance:
    """Permutation importance of each feature on ``rows`` sampled labelled rows."""

    method: str
    rows: int
    base_auc: float
    values: Dict[str, float] = field(default_factory=dict)  # feature -> base AUC - permuted AUC

    def ranking(self) -> List[str]:
        """The features, most important first (ties by name)."""
        return _order(self.values)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping) -> "Importance":
        return cls(d["method"], int(d["rows"]), float(d["base_auc"]), dict(d["values"]))


def predictor(serving_signature) -> Predict:
    """``predict(records)`` of a loaded ``serving_default`` signature
    (``serving.signature.load``), as every other judge scores a model."""
    from serving import signature

    return lambda records: signature.predict(serving_signature, records)


def sample(n: int, max_rows: int, seed: int = 0) -> np.ndarray:
    """Indices of at most ``max_rows`` of ``n`` rows: a seeded uniform sample
    without replacement, in row order (all rows when ``n <= max_rows``)."""
    if n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))


def _feature_seed(feature: str, seed: int) -> List[int]:
    """A permutation's seed: stable across processes (crc32, not ``hash()``)."""
    return [int(seed), zlib.crc32(feature.encode("utf-8"))]


def permutation(feature: str, n: int, seed: int = 0) -> np.ndarray:
    """The deterministic permutation of ``n`` rows used for ``feature``: row
    ``i`` receives the entry of row ``permutation[i]``."""
    return np.random.default_rng(_feature_seed(feature, seed)).permutation(n)


def _varint(buf: bytes, pos: int) -> tuple:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


@functools.lru_cache(maxsize=4096)
def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _fields(buf: bytes, pos: int = 0, stop: Optional[int] = None):
    """(field number, wire type, value start, value end, field start) of each
    field of a serialized message in ``buf[pos:stop]``."""
    stop = len(buf) if stop is None else stop
    while pos < stop:
        start = pos
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 2:
            size, pos = _varint(buf, pos)
            end = pos + size
        elif wire == 0:
            end = _varint(buf, pos)[1]
        elif wire in (1, 5):
            end = pos + (8 if wire == 1 else 4)
        else:
            raise ValueError(f"not a tf.Example: wire type {wire} of field {number}")
        if end > stop:
            raise ValueError("not a tf.Example: truncated field")
        yield number, wire, pos, end, start
        pos = end


class _Row:
    """A serialized tf.Example cut at its feature map's entries, so a
    feature's entry can move to another row without a proto round trip.

    ``Example.features`` is field 1 and ``Features.feature`` (a map) field 1
    of it; each map entry is a message whose field 1 is the key. ``payload``
    holds the ``Features`` bytes (several ``features`` fields, which a parser
    merges, concatenated), ``spans`` each entry's [start, end) in it by
    (UTF-8) name, ``rest`` any other field of the Example."""

    __slots__ = ("payload", "spans", "rest")

    def __init__(self, record: bytes):
        if record[:1] == b"\x0a" and _first_field_end(record) == len(record):
            lo = _varint(record, 1)[1]
            payload, rest = record[lo:], b""
        else:
            parts, other = [], []
            for number, wire, lo, hi, start in _fields(record):
                if number == 1 and wire == 2:
                    parts.append(record[lo:hi])
                else:
                    other.append(record[start:hi])
            payload, rest = b"".join(parts), b"".join(other)
        spans: Dict[bytes, list] = {}
        pos, stop = 0, len(payload)
        while pos < stop:
            start = pos
            if payload[pos] != 0x0A:  # not a map entry: step over it, it stays in the payload
                pos = next(_fields(payload, start, stop))[3]
                continue
            size = payload[pos + 1]
            pos += 2
            if size >= 0x80:
                size, pos = _varint(payload, pos - 1)
            end = pos + size
            if end > stop:
                raise ValueError("not a tf.Example: truncated feature entry")
            if end - pos >= 2 and payload[pos] == 0x0A and payload[pos + 1] < 0x80:  # the key first
                name = payload[pos + 2 : pos + 2 + payload[pos + 1]]
            else:
                name = None
                for number, wire, lo, hi, _ in _fields(payload, pos, end):
                    if number == 1 and wire == 2:
                        name = payload[lo:hi]
            found = spans.get(name)
            if found is None:
                spans[name] = [(start, end)]
            else:
                found.append((start, end))
            pos = end
        self.payload, self.spans, self.rest = payload, spans, rest

    def entry(self, key: bytes) -> Optional[bytes]:
        """The tagged bytes of the entry named ``key`` (the last, as a parser
        keeps), None when the example lacks it."""
        spans = self.spans.get(key)
        return None if spans is None else self.payload[spans[-1][0] : spans[-1][1]]

    def without(self, key: bytes) -> bytes:
        """The payload without the entries named ``key``."""
        spans = self.spans.get(key)
        p = self.payload
        if spans is None:
            return p
        if len(spans) == 1:
            s, e = spans[0]
            return p[:s] + p[e:]
        kept, last = [], 0
        for s, e in spans:
            kept.append(p[last:s])
            last = e
        kept.append(p[last:])
        return b"".join(kept)


def _first_field_end(record: bytes) -> int:
    """Where the first field of ``record`` ends, read as length-delimited
    (the caller checked its tag: field 1, wire type 2); -1 when truncated."""
    try:
        size, pos = _varint(record, 1)
    except IndexError:
        return -1
    return pos + size


def permuted(records: Sequence[bytes], feature: str, order: Sequence[int], _rows=None) -> List[bytes]:
    """The serialized examples with ``feature``'s entry of row ``order[i]``
    at row ``i`` (absence moves too: a row receiving from a row without the
    feature loses it); every other feature stays on its row. Spliced at the
    wire level: the same tf.Examples as moving the ``tf.train.Feature``
    between parsed protos, without a proto round trip per row."""
    rows = _rows if _rows is not None else [_Row(r) for r in records]
    key = feature.encode("utf-8")
    donors = [r.entry(key) for r in rows]
    out = []
    for row, j in zip(rows, order, strict=True):
        body = row.without(key)
        donor = donors[j]
        if donor is not None:
            body += donor
        out.append(b"\x0a" + _encode_varint(len(body)) + body + row.rest)
    return out


def importance(
    predict: Predict,
    records: Sequence[bytes],
    labels,
    features: Sequence[str],
    *,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
) -> Importance:
    """Permutation importance on AUC of each of ``features`` for the model
    behind ``predict`` (serialized tf.Examples -> one score a row;
    ``predictor(signature)``), on labelled ``records``: a seeded sample of at
    most ``max_rows`` rows (rows without a finite label are left out first),
    every permuted copy scored in one ``predict`` call. Raises ValueError
    when the sample holds a single class (no AUC exists)."""
    y = np.asarray(labels, dtype=float).ravel()
    if len(y) != len(records):
        raise ValueError(f"{len(records)} records but {len(y)} labels")
    keep = np.flatnonzero(np.isfinite(y))
    idx = keep[sample(len(keep), max_rows, seed)]
    rows = [records[i] for i in idx]
    y = y[idx]
    if len(np.unique(y)) < 2:
        raise ValueError(f"permutation importance needs both classes: {len(rows)} sampled rows of one class")
    cut = [_Row(r) for r in rows]
    batch = list(rows)
    for f in features:
        batch.extend(permuted(rows, f, permutation(f, len(rows), seed), _rows=cut))
    scores = np.asarray(predict(batch), dtype=float).ravel()
    n = len(rows)
    base = auc(y, scores[:n])
    values = {}
    for k, f in enumerate(features, start=1):
        values[f] = round(float(base - auc(y, scores[k * n : (k + 1) * n])), 6)
    return Importance(METHOD, n, round(float(base), 6), values)


Values = Union[Importance, Mapping[str, float]]


def _values(x: Values) -> Dict[str, float]:
    return dict(x.values) if isinstance(x, Importance) else {k: float(v) for k, v in x.items()}


def _order(values: Mapping[str, float]) -> List[str]:
    """Features by value, descending; ties (and NaN, last) by name."""

    def key(f):
        v = values[f]
        return (1, 0.0, f) if v is None or math.isnan(v) else (0, -v, f)

    return sorted(values, key=key)


def ndcg(reference: Values, current: Values, k: Optional[int] = None) -> float:
    """Clarify's feature attribution drift score of ``current`` against
    ``reference`` (see the module docstring): relevance is the reference's
    value of each feature (clipped at 0; 0 for a feature it lacks), the
    current ranking orders the features (a feature current lacks goes last),
    the ideal order is the reference's own; ``k``: only the first k positions
    count. 1.0 for identical rankings, and when no feature has a positive
    reference value (nothing mattered, nothing can be lost)."""
    ref, cur = _values(reference), _values(current)
    names = sorted(set(ref) | set(cur))
    rel = {f: max(ref.get(f, 0.0), 0.0) if math.isfinite(ref.get(f, 0.0)) else 0.0 for f in names}
    cur_all = {f: cur.get(f, -math.inf) for f in names}
    ideal = _order({f: ref.get(f, -math.inf) for f in names})
    order = _order(cur_all)
    if k is not None:
        ideal, order = ideal[:k], order[:k]
    discount = 1.0 / np.log2(np.arange(2, len(names) + 2))
    dcg = float(sum(rel[f] * discount[i] for i, f in enumerate(order)))
    idcg = float(sum(rel[f] * discount[i] for i, f in enumerate(ideal)))
    return 1.0 if idcg <= 0 else round(dcg / idcg, 6)


def weighted_drift(importance: Values, drift_scores: Mapping[str, float]) -> dict:
    """Drift severity weighted by importance.

    ``drift_scores``: per-feature drift scores normalised by the caller so
    that 1.0 is the feature's warning threshold (pass ``score / threshold``:
    e.g. a Jensen-Shannon distance over its threshold); a feature without a
    score counts 0. Weights: the importances clipped at 0 and normalised to
    sum 1 (uniform over the features when none is positive). Returns
    ``{"score": sum_f w_f * s_f, "weights": {f: w_f}, "top": [(feature, w_f,
    s_f, w_f * s_f), ...]}``: ``score`` 1.0 is importance-weighted drift at the
    warning level; ``top`` the at most 5 largest positive contributions."""
    imp = _values(importance)
    names = sorted(imp)
    if not names:
        return {"score": 0.0, "weights": {}, "top": []}
    clipped = {f: max(imp[f], 0.0) if math.isfinite(imp[f]) else 0.0 for f in names}
    total = sum(clipped.values())
    w = {f: (clipped[f] / total if total > 0 else 1.0 / len(names)) for f in names}
    s = {f: float(drift_scores.get(f, 0.0)) for f in names}
    s = {f: v if math.isfinite(v) else 0.0 for f, v in s.items()}
    rows = [(f, round(w[f], 6), round(s[f], 6), round(w[f] * s[f], 6)) for f in names]
    top = sorted((r for r in rows if r[3] > 0), key=lambda r: (-r[3], r[0]))[:TOP]
    return {
        "score": round(sum(w[f] * s[f] for f in names), 6),
        "weights": {f: round(w[f], 6) for f in names},
        "top": top,
    }


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def describe(
    reference: Values,
    current: Values,
    *,
    against: str = "push",
    k: Optional[int] = None,
    score: Optional[float] = None,
) -> str:
    """One sentence for a report, e.g. "importance ranking nDCG 0.84 vs push
    (below 0.9): dest rose from 4th to 1st, distance fell from 1st to 3rd"
    (``score``: an nDCG already computed)."""
    ref, cur = _values(reference), _values(current)
    value = ndcg(ref, cur, k) if score is None else score
    verdict = f"below {NDCG_ALERT}" if value < NDCG_ALERT else f"at or above {NDCG_ALERT}"
    head = f"importance ranking nDCG {value:.2f} vs {against} ({verdict})"
    names = sorted(set(ref) | set(cur))
    before = {f: i + 1 for i, f in enumerate(_order({f: ref.get(f, -math.inf) for f in names}))}
    after = {f: i + 1 for i, f in enumerate(_order({f: cur.get(f, -math.inf) for f in names}))}
    moves = {f: before[f] - after[f] for f in names}  # positions gained
    if not any(moves.values()):
        return f"{head}: ranking unchanged"
    parts = []
    rose = min(names, key=lambda f: (-moves[f], after[f]))
    if moves[rose] > 0:
        parts.append(f"{rose} rose from {_ordinal(before[rose])} to {_ordinal(after[rose])}")
    fell = min(names, key=lambda f: (moves[f], before[f]))
    if moves[fell] < 0:
        parts.append(f"{fell} fell from {_ordinal(before[fell])} to {_ordinal(after[fell])}")
    return f"{head}: " + ", ".join(parts)
