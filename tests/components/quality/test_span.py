"""What the serving model records at push and is measured by on later spans
(components.quality.span): the calibration and importance at push, the
importance ranking against the push's, and the label-free estimate beside
the realised AUC when a span's labels arrive late."""

import numpy as np
import pytest

from components.quality import span as measures
from driftgate.core.config import load_region_config


def _records(n, seed, shift=0.0):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    x, z = rng.normal(shift, 1, n), rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(float)
    out = []
    for xi, zi in zip(x, z, strict=True):
        f = {k: tf.train.Feature(float_list=tf.train.FloatList(value=[v])) for k, v in (("x", xi), ("z", zi))}
        out.append(tf.train.Example(features=tf.train.Features(feature=f)).SerializeToString())
    return out, y


def _predict(records):
    from components.ingest.records import columns

    x = np.asarray(columns(records, ["x"])["x"], dtype=float)
    return 1 / (1 + np.exp(-2 * x))


def test_push_measures_then_importance_drift_and_estimate_on_a_later_span(tmp_path):
    from components.state import RegionState

    qcfg = load_region_config("EWR").quality
    records, y = _records(1500, 0)
    pushed = measures.push_measures(_predict, records, y, _predict(records), qcfg, ["x", "z"])
    ref = pushed["importance"]["values"]
    assert ref["x"] > 0.1 and abs(ref["z"]) < 0.01 and len(pushed["calibration"]["scores"]) >= 2

    later, y2 = _records(1500, 1, shift=0.5)  # covariate shift, same P(y | x)
    found = measures.importance_drift(pushed["importance"], _predict, later, y2, qcfg.importance, seed=2)
    assert found["ndcg"] == pytest.approx(1.0) and found["current"]["x"] > 0.1
    assert found["retrain_above"] == qcfg.importance.retrain_above and "nDCG 1.00" in found["sentence"]

    state = RegionState(str(tmp_path))
    cfg = {"current": (5, lambda: later)}  # judged span 5 is the newest: its estimate is set beside it
    out = measures.label_free(pushed["calibration"], cfg, 5, _predict(later), _predict, state, 100)
    assert out["estimate"]["span"] == 5 and out["estimate_then"] is out["estimate"]
    from components.quality.metrics import auc

    # covariate shift only: CBPE holds, within the sampling noise of 1,500 rows
    assert abs(out["estimate"]["auc"] - auc(y2, _predict(later))) < 0.05

    state.record_span({"span": 4, "decision": "skip", "estimate": {"span": 4, "auc": 0.7}})
    cfg = {"current": (6, lambda: later)}  # labels one span late: span 4 judged while span 6 is newest
    out = measures.label_free(pushed["calibration"], cfg, 4, _predict(records), _predict, state, 0)
    assert out["estimate"]["span"] == 6 and out["estimate_then"] == {"span": 4, "auc": 0.7}
