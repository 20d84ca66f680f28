"""Data integrity rates per feature and span, read from the TFDV statistics
the pipeline already computes: what share of a span is missing, outside the
training baseline's range, or a value the baseline never had.

This is the monitoring template's "flag a feature when more than 1% of its
values are outliers" and NannyML/Evidently/Fiddler's missing / out-of-range /
unseen-value rates, per feature and span. Pure: ``DatasetFeatureStatistics``
(or ``...List``) protos in, dataclasses out; no I/O, no TFX. A rate costs
nothing extra per span: no pass over rows, only the statistics StatisticsGen
wrote (milliseconds per span).

Rates of the current span against a baseline (normally the serving model's
training span):

- ``missing``: examples without the feature / examples (``common_stats``).
  Exact. A feature absent from the current statistics is 100% missing.
- ``out_of_range`` (numeric): share of the current span's non-missing (and
  non-NaN) values below the baseline's ``min`` or above its ``max``. Exactly
  0 when the current min/max (exact in the statistics) lie within the
  baseline's. Otherwise estimated from the current span's QUANTILES histogram
  (``StatsOptions.num_quantiles_histogram_buckets``, 100 in the pipeline:
  ``drift.quantile_buckets``): the buckets wholly beyond a bound count fully
  and the one straddling it linearly. The error is at most the mass of the
  straddling bucket, 1/buckets (1% at 100 buckets) per crossed bound, plus the
  quantile sketch's own rank error (``StatsOptions.epsilon``, 0.01 of the
  values at most; exact in practice at ~10k rows). ``FeatureRates.resolution``
  carries the straddling buckets' mass: the rate is within ± resolution (+ the
  sketch error). A crossed bound counts at least one value (the current
  min/max is beyond it), so a crossing never rounds to 0.
- ``unseen`` (categorical: string statistics, which TFDV writes for BYTES
  features and for INT features the schema marks ``is_categorical``): share
  of the current span's values whose label is not among the baseline's values.
  Baseline values are its ``rank_histogram`` labels (``top_values`` if it has
  none); current counts its ``rank_histogram`` buckets. Choice for values
  beyond a histogram: a current label missing from the baseline's histogram
  counts as unseen only if the baseline's histogram was complete (as many
  buckets as ``unique`` values); otherwise it may be a baseline value beyond
  the histogram and is left out. Current values beyond the current histogram
  have no label and are left out too. Either way the left-out share goes into
  ``resolution``: the true rate is within ``[unseen, unseen + resolution]``.
  With the default 1000 rank buckets and a vocabulary below that size (the
  flights features) both histograms are complete and the rate is exact (TFDV
  counts top values exactly below ~1000 distinct values).

A ``DatasetFeatureStatisticsList`` holding several datasets (StatisticsGen's
train/eval splits of one span) counts as one sample: counts are summed, the
baseline's range is the union of its splits' ranges, its vocabulary the union
of their labels (as ``summaries.summarize`` mixes splits).

Thresholds come from the region's own history (``threshold``): a rate is a
finding above ``max(floor, mean + k * std)`` of the same rate in the region's
earlier spans, once ``min_history`` are known, else above ``floor`` (1%, the
template's figure). Like ``calibration``, the std is the population one.

Blocking: these findings never block a span by themselves; they are
warnings for the report. Blocking stays with the schema: a ``float_domain``
/ ``int_domain`` ``min``/``max``, a ``presence`` constraint or
``distribution_constraints`` (``min_domain_mass``) in the region's schema
makes TFDV's ExampleValidator raise an anomaly, which blocks the span.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from tensorflow_metadata.proto.v0 import statistics_pb2

from components.drift.summaries import feature_map, numeric_summary

MISSING = "missing"
OUT_OF_RANGE = "out_of_range"
UNSEEN = "unseen"
RATES = (MISSING, OUT_OF_RANGE, UNSEEN)
NUMERIC = "numeric"
CATEGORICAL = "categorical"

Stats = Union[statistics_pb2.DatasetFeatureStatistics, statistics_pb2.DatasetFeatureStatisticsList]


@dataclass(frozen=True)
class FeatureRates:
    """A feature's integrity rates in the current span (fractions 0..1; None
    where the rate does not apply or cannot be computed, ``note`` says why)."""

    kind: str  # numeric | categorical
    examples: float  # current span's examples: the denominator of missing
    values: float  # current span's non-missing values: the denominator of the others
    missing: Optional[float]
    out_of_range: Optional[float] = None  # numeric
    unseen: Optional[float] = None  # categorical
    baseline_range: Optional[Tuple[float, float]] = None  # numeric: baseline (min, max)
    # out_of_range: ± bound (straddling quantile buckets' mass); unseen: the
    # share left out (true rate in [unseen, unseen + resolution]); 0 = exact
    resolution: float = 0.0
    note: Optional[str] = None

    def rate(self, name: str) -> Optional[float]:
        return getattr(self, name) if name in RATES else None

    def rates(self) -> Dict[str, float]:
        """``{rate name: value}`` of the rates that apply."""
        return {n: getattr(self, n) for n in RATES if getattr(self, n) is not None}

    def to_json(self) -> dict:
        d = {"kind": self.kind, "examples": self.examples, "values": self.values}
        d.update({n: _round(getattr(self, n)) for n in RATES if getattr(self, n) is not None})
        if self.baseline_range is not None:
            d["baseline_range"] = list(self.baseline_range)
        d["resolution"] = _round(self.resolution)
        if self.note is not None:
            d["note"] = self.note
        return d

    @classmethod
    def from_json(cls, d: Mapping) -> "FeatureRates":
        rng = d.get("baseline_range")
        return cls(
            kind=d["kind"],
            examples=float(d.get("examples", 0.0)),
            values=float(d.get("values", 0.0)),
            missing=d.get(MISSING),
            out_of_range=d.get(OUT_OF_RANGE),
            unseen=d.get(UNSEEN),
            baseline_range=(float(rng[0]), float(rng[1])) if rng is not None else None,
            resolution=float(d.get("resolution", 0.0)),
            note=d.get("note"),
        )


@dataclass(frozen=True)
class Finding:
    """A rate above its threshold; never blocks a span by itself."""

    feature: str
    rate: str  # missing | out_of_range | unseen
    value: float
    threshold: float
    sentence: str

    def to_json(self) -> dict:
        return {
            "feature": self.feature,
            "rate": self.rate,
            "value": _round(self.value),
            "threshold": _round(self.threshold),
            "sentence": self.sentence,
        }

    @classmethod
    def from_json(cls, d: Mapping) -> "Finding":
        return cls(d["feature"], d["rate"], float(d["value"]), float(d["threshold"]), d["sentence"])


def rates_to_json(rates_by_feature: Mapping[str, FeatureRates]) -> dict:
    return {name: r.to_json() for name, r in rates_by_feature.items()}


def rates_from_json(d: Mapping) -> Dict[str, FeatureRates]:
    return {name: FeatureRates.from_json(r) for name, r in d.items()}


def _round(x: Optional[float]) -> Optional[float]:
    return None if x is None else round(float(x), 6)


def _datasets(stats: Stats) -> List[statistics_pb2.DatasetFeatureStatistics]:
    if isinstance(stats, statistics_pb2.DatasetFeatureStatisticsList):
        return list(stats.datasets)
    return [stats]


def _common(f: statistics_pb2.FeatureNameStatistics) -> Optional[statistics_pb2.CommonStatistics]:
    which = f.WhichOneof("stats")
    return getattr(f, which).common_stats if which else None


def _kind(declared: Optional[str], fs: Sequence[statistics_pb2.FeatureNameStatistics]) -> Optional[str]:
    if declared in (NUMERIC, CATEGORICAL):
        return declared
    for f in fs:
        if f.HasField("string_stats"):
            return CATEGORICAL
        if f.HasField("num_stats"):
            return NUMERIC
    return None


def _f32(x: float) -> float:
    # tf.Example stores float32, and so do the sketch's boundaries (summaries.numeric_summary)
    return float(np.float32(x))


def _straddle(values: np.ndarray, levels: np.ndarray, bound: float) -> float:
    """Mass of the quantile buckets with ``low < bound < high`` (the one interpolated)."""
    inside = (values[:-1] < bound) & (values[1:] > bound)
    return float(np.sum(np.diff(levels)[inside]))


def _out_of_range(base_fs, cur_fs) -> Tuple[Optional[float], float, float, Optional[tuple], Optional[str]]:
    """``(rate, resolution, values, baseline (min, max), note)``."""
    base = [
        f.num_stats for f in base_fs if f.HasField("num_stats") and f.num_stats.common_stats.num_non_missing
    ]
    base = [ns for ns in base if ns.max >= ns.min]  # only-NaN splits carry no min/max
    if not base:
        return None, 0.0, 0.0, None, "no numeric values in the baseline"
    lo, hi = min(ns.min for ns in base), max(ns.max for ns in base)
    lo32, hi32 = _f32(lo), _f32(hi)
    n = out = res = 0.0
    for f in cur_fs:
        s = numeric_summary(f)
        if s is None:
            continue
        total = _sketch_total(f.num_stats)
        if total <= 0:
            continue
        share = spread = 0.0
        if _f32(f.num_stats.min) < lo32:
            share += max(float(s.cdf(lo32, left=True)[0]), 1.0 / total)
            spread += _straddle(s.values, s.levels, lo32)
        if _f32(f.num_stats.max) > hi32:
            share += max(1.0 - float(s.cdf(hi32)[0]), 1.0 / total)
            spread += _straddle(s.values, s.levels, hi32)
        n += total
        out += total * min(share, 1.0)
        res += total * spread
    if n <= 0:
        return None, 0.0, 0.0, (lo, hi), "no numeric values in the current span"
    return out / n, res / n, n, (lo, hi), None


def _sketch_total(ns: statistics_pb2.NumericStatistics) -> float:
    for h in ns.histograms:
        if h.type == statistics_pb2.Histogram.QUANTILES and h.buckets:
            return float(sum(b.sample_count for b in h.buckets))
    return 0.0


def _labels(ss: statistics_pb2.StringStatistics) -> Tuple[Dict[str, float], bool]:
    """Value counts from the rank histogram (top values without one), and
    whether they hold every distinct value."""
    buckets = [(b.label, float(b.sample_count)) for b in ss.rank_histogram.buckets] or [
        (t.value, float(t.frequency)) for t in ss.top_values
    ]
    counts: Dict[str, float] = {}
    for label, c in buckets:
        counts[label] = counts.get(label, 0.0) + c
    return counts, len(counts) >= ss.unique


def _total_values(c: statistics_pb2.CommonStatistics) -> float:
    return float(c.tot_num_values) or float(c.num_non_missing) * max(float(c.avg_num_values), 1.0)


def _unseen(base_fs, cur_fs) -> Tuple[Optional[float], float, float, Optional[str]]:
    """``(rate, resolution, values, note)``."""
    base = [f.string_stats for f in base_fs if f.HasField("string_stats")]
    if not base or not any(_total_values(ss.common_stats) > 0 for ss in base):
        return None, 0.0, 0.0, "no value counts in the baseline (string statistics)"
    vocab: set = set()
    complete = True
    for ss in base:
        counts, full = _labels(ss)
        vocab.update(counts)
        complete = complete and full
    n = unseen = left_out = 0.0
    for f in cur_fs:
        if not f.HasField("string_stats"):
            continue
        ss = f.string_stats
        total = _total_values(ss.common_stats)
        if total <= 0:
            continue
        counts, _ = _labels(ss)
        new = sum(c for label, c in counts.items() if label not in vocab)
        if complete:
            unseen += new
        else:
            left_out += new
        left_out += max(total - sum(counts.values()), 0.0)
        n += total
    if n <= 0:
        return None, 0.0, 0.0, "no value counts in the current span (string statistics)"
    note = None if complete else "baseline histogram incomplete: labels beyond it are not counted"
    return unseen / n, left_out / n, n, note


def rates(
    baseline_stats: Stats,
    current_stats: Stats,
    features: Union[Iterable[str], Mapping[str, str]],
) -> Dict[str, FeatureRates]:
    """Each feature's integrity rates in the current span against the baseline.

    ``features``: names, or ``{name: "numeric" | "categorical"}`` to fix a
    feature's kind (else the baseline's statistics decide: string statistics
    are categorical). A categorical feature needs string statistics on both
    sides (an INT feature's come from the schema's ``is_categorical``, given to
    ``StatsOptions``); without them ``unseen`` is None with a note.
    """
    declared = dict(features) if isinstance(features, Mapping) else {f: None for f in features}
    base_maps = [feature_map(d) for d in _datasets(baseline_stats)]
    cur_sets = _datasets(current_stats)
    cur_maps = [feature_map(d) for d in cur_sets]
    out: Dict[str, FeatureRates] = {}
    for name, kind in declared.items():
        base_fs = [m[name] for m in base_maps if name in m]
        cur_fs = [m[name] for m in cur_maps if name in m]
        kind = _kind(kind, base_fs) or _kind(None, cur_fs) or NUMERIC
        examples = float(sum(d.num_examples for d in cur_sets))
        missing_n = 0.0
        for d, m in zip(cur_sets, cur_maps, strict=True):
            c = _common(m[name]) if name in m else None
            missing_n += float(c.num_missing) if c is not None else float(d.num_examples)
        missing = missing_n / examples if examples > 0 else None
        if not cur_fs:
            out[name] = FeatureRates(kind, examples, 0.0, missing, note="absent from the current statistics")
            continue
        if kind == NUMERIC:
            value, res, n, rng, note = _out_of_range(base_fs, cur_fs)
            out[name] = FeatureRates(
                kind, examples, n, missing, out_of_range=value, baseline_range=rng, resolution=res, note=note
            )
        else:
            value, res, n, note = _unseen(base_fs, cur_fs)
            out[name] = FeatureRates(kind, examples, n, missing, unseen=value, resolution=res, note=note)
    return out


def threshold(history: Sequence[float], floor: float = 0.01, k: float = 3.0, min_history: int = 3) -> float:
    """``max(floor, mean + k * std)`` of a rate's past values in the region
    (population std, as ``calibration``) once ``min_history`` are known,
    else ``floor``. Non-finite past values are left out."""
    xs = [float(x) for x in history if x is not None and math.isfinite(x)]
    if len(xs) < max(min_history, 1):
        return floor
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))
    return max(floor, m + k * sd)


def history_of(past: Iterable[Mapping[str, Union[FeatureRates, Mapping]]]) -> Dict[str, Dict[str, list]]:
    """``{feature: {rate: [values]}}`` of earlier spans' rates, oldest first (``judge``'s
    ``history``); a span's rates as ``FeatureRates`` or as the gate keeps them: ``{rate: value}``."""
    out: Dict[str, Dict[str, List[float]]] = {}
    for span_rates in past:
        for feature, r in span_rates.items():
            for name, v in (r.rates() if isinstance(r, FeatureRates) else r).items():
                if v is not None:
                    out.setdefault(feature, {}).setdefault(name, []).append(float(v))
    return out


def _pct(x: float) -> str:
    return f"{100.0 * x:.1f}%"


def sentence(feature: str, r: FeatureRates, rate: str, value: float, limit: float) -> str:
    if rate == OUT_OF_RANGE and r.baseline_range is not None:
        lo, hi = r.baseline_range
        what = f"of values outside the training range [{lo:g}, {hi:g}]"
    elif rate == UNSEEN:
        what = "of values not seen in training"
    else:
        what = "of examples missing"
    return f"{feature}: {_pct(value)} {what} (threshold {_pct(limit)})"


def judge(
    rates_by_feature: Mapping[str, FeatureRates],
    history: Optional[Mapping[str, Mapping[str, Sequence[float]]]] = None,
    floor: float = 0.01,
    k: float = 3.0,
    min_history: int = 3,
    baseline: Optional[Mapping[str, FeatureRates]] = None,
) -> List[Finding]:
    """The rates above their threshold (``threshold`` of the same feature and
    rate in ``history``: the region's earlier spans only, oldest first), by
    feature then rate. With ``baseline`` (the baseline's rates against
    itself), the floor of a feature's missing rate starts from the
    baseline's own: a feature 60% missing in training is not a finding at
    60%. Findings warn; they never block a span by themselves."""
    history = history or {}
    baseline = baseline or {}
    found = []
    for feature in sorted(rates_by_feature):
        r = rates_by_feature[feature]
        for name, value in r.rates().items():
            own = baseline.get(feature)
            start = floor + ((own.missing or 0.0) if own is not None and name == MISSING else 0.0)
            limit = threshold((history.get(feature) or {}).get(name, ()), start, k, min_history)
            if value > limit:
                found.append(
                    Finding(feature, name, float(value), limit, sentence(feature, r, name, value, limit))
                )
    return found
