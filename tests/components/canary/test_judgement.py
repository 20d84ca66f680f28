"""The statistical canary judge: paired bootstrap intervals of canary minus
stable against a non-inferiority margin, a minimum sample size, and a
fault-injection run over real SavedModels."""

import numpy as np
import pytest

from components.canary import judgement as cj

KW = dict(auc_margin=0.01, accuracy_margin=0.01, min_rows=200)


def _scores(n, seed, signal=1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, 1 / (1 + np.exp(-(signal * (y - 0.5) * 2 + rng.normal(0, 1, n))))


def test_identical_models_are_promoted_with_a_zero_interval():
    y, s = _scores(1000, 0)
    j = cj.judge(y, s, s.copy(), **KW)
    assert j.verdict == cj.PROMOTE and (j.auc.low, j.auc.high) == (0.0, 0.0)
    assert all(r.startswith("ok: ") for r in j.reasons)


def test_a_clearly_worse_canary_is_rolled_back():
    y, s = _scores(1000, 1)
    noise = np.random.default_rng(2).random(1000)
    j = cj.judge(y, s, noise, **KW)
    assert j.verdict == cj.ROLLBACK and j.auc.high < -0.01
    assert any(r.startswith("FAILED: AUC") for r in j.reasons)


def test_too_few_rows_keep_the_canary_pending():
    y, s = _scores(150, 3)
    j = cj.judge(y, s, s, **KW)
    assert j.verdict == cj.PENDING and "fewer than the 200 needed" in j.reasons[0]


def test_a_close_call_is_pending_not_promoted():
    y, s = _scores(400, 4)
    worse = s + np.random.default_rng(5).normal(0, 0.08, 400)  # slightly noisier: interval straddles -margin
    j = cj.judge(y, s, worse, **KW)
    assert j.auc.low < -0.01 < j.auc.high
    assert j.verdict == cj.PENDING and any("inconclusive" in r for r in j.reasons)


def test_the_bootstrap_is_paired():
    # the same rows for both models: a shared hard subset cancels out, so the
    # interval of the difference is far narrower than either model's own spread
    y, s = _scores(800, 6)
    iv = cj.paired_interval(y, s, s + 1e-9, cj.auc, confidence=0.95, samples=200, seed=0)
    assert iv.high - iv.low < 1e-6


@pytest.fixture(scope="module")
def predictions(saved_models, flights_frame):
    """Both real models' predictions on 3,000 February EWR rows they never saw."""
    import tensorflow as tf

    from tests.trainer.test_task import _example

    rows = flights_frame[(flights_frame.origin == "EWR") & (flights_frame.month == 2)].sample(
        3000, random_state=11
    )
    labels = rows["late"].to_numpy()
    batch = tf.constant(
        [
            _example({k: v for k, v in r.items() if k != "late"})
            for r in rows.drop(columns=["origin", "month"]).to_dict("records")
        ]
    )
    out = {}
    for name in ("good", "worse"):
        fn = tf.saved_model.load(str(saved_models[name])).signatures["serving_default"]
        out[name] = fn(examples=batch)["probabilities"].numpy().ravel()
    return labels, out


def test_fault_injection_over_20_trials(predictions):
    labels, p = predictions
    assert cj.auc(labels, p["good"]) - cj.auc(labels, p["worse"]) > 0.05  # the injected fault is real
    verdicts = {"worse": [], "equal": []}
    for trial in range(20):
        idx = np.random.default_rng(100 + trial).choice(len(labels), 1500, replace=False)
        y = labels[idx]
        verdicts["worse"].append(cj.judge(y, p["good"][idx], p["worse"][idx], seed=trial, **KW).verdict)
        verdicts["equal"].append(cj.judge(y, p["good"][idx], p["good"][idx].copy(), seed=trial, **KW).verdict)
    assert verdicts["worse"] == [cj.ROLLBACK] * 20  # shuffled-label canary: rolled back every time
    assert verdicts["equal"].count(cj.PROMOTE) >= 19  # canary equal to stable: promoted in >= 95%


def test_a_span_with_one_class_cannot_be_judged():
    y = np.zeros(500)
    s = np.random.default_rng(7).random(500)
    j = cj.judge(y, s, s * 0.9, **KW)
    assert np.isnan(cj.auc(y, s)) and j.verdict == cj.PENDING


def test_a_large_prediction_shift_fails_unless_the_canary_is_shown_better():
    from components.canary.analysis import prediction_shift_check

    assert prediction_shift_check(0.1, 0.25, -0.02) == (True, "prediction shift KS 0.100 (max 0.25)")
    assert prediction_shift_check(0.46, 0.25, -0.01) == (False, "prediction shift KS 0.460 (max 0.25)")
    ok, text = prediction_shift_check(0.46, 0.25, 0.07)
    assert ok and text.endswith("allowed: the canary's AUC interval is above stable's)")
