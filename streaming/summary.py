"""A span as the stream saw it (pure): per feature its rows, missing, mean and
standard deviation or value counts, and its scores against the training
baseline, with the Kafka offsets it covered. Written by ``driftgate stream``
as ``_stream/span-<N>.json`` when the span has ended; the batch pipeline's
StatisticsGen on the landed span gives the same counts, and the same scores
within the quantile sketch's error (``tests/streaming/test_stream.py``)."""

from __future__ import annotations

from streaming import scores
from streaming.baseline import Baseline, categorical_vectors
from streaming.panes import ABOVE, BELOW, MISSING, Counts


def span_summary(cfg, span: int, counts: Counts, baseline: Baseline, offsets: dict) -> dict:
    stats = counts.feature_stats()
    out = {}
    for i, g in enumerate(baseline.numeric):
        m = counts.moments[i]
        entry = dict(stats[g.name])
        if counts.num[i].sum() > 0:
            entry["scores"] = {
                t: round(float(v), 6)
                for t, v in scores.numeric(g, counts.num[i], m[BELOW], m[ABOVE], counts.sums[i]).items()
            }
        entry["scores"] = {
            **entry.get("scores", {}),
            "missing": float(scores.missing(g.missing_rate, m[MISSING], m[0])),
        }
        out[g.name] = entry
    for i, g in enumerate(baseline.categorical):
        entry = dict(stats[g.name])
        if counts.cat[i]:
            b, c = categorical_vectors(g, counts.cat[i])
            entry["scores"] = {t: round(float(v), 6) for t, v in scores.categorical(b, c).items()}
        out[g.name] = entry
    return {
        "region": cfg.region,
        "span": span,
        "grain": cfg.land.span,
        "records": counts.rows,
        "baseline_span": baseline.span,
        "baseline": baseline.fingerprint,
        "offsets": offsets,
        "features": out,
    }
