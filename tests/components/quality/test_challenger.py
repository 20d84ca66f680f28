"""The same-span challenger (``components.quality.challenger``) on generated
spans with known answers: a harder span lowers the serving model and the
challenger alike (no staleness), a concept change lets the challenger overtake
the stale model (staleness above the margin), and the verdict and the gate's
decision say what was compared."""

import numpy as np
import pytest

from components.gate import decision
from components.quality import challenger
from components.quality import serving as quality
from driftgate.core.config import QualityConfig

FEATURES = challenger.Features(("x1", "x2"), ("c",))


def _span(n, seed, concept="a", noise=1.0):
    """Columns, labels and the score of the concept the labels follow.
    Concept "a": the label follows x1 and c; "b": it follows x2 instead.
    ``noise`` < 1 flattens the relation (a harder span, same ranking)."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(0, 1, n), rng.normal(0, 1, n)
    c = rng.choice(["a", "b", "c"], n)
    old = 2.0 * x1 + 1.0 * (c == "a")
    new = 2.0 * x2 - 1.0 * (c == "b")
    logit = noise * (old if concept == "a" else new)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    x1 = x1.astype(object)
    x1[:5] = None  # a missing value is a row like any other
    cols = {"x1": x1, "x2": x2, "c": c}
    return cols, y, 1 / (1 + np.exp(-old))  # the serving model knows concept "a"


def _split(n):
    is_eval = np.zeros(n, bool)
    is_eval[::4] = True  # one row in four is eval, like train_buckets 3 : eval_buckets 1
    return is_eval


def _judge(cols, y, serving, reference_advantage, seed=0):
    return challenger.judge_span(
        7,
        FEATURES,
        cols,
        y,
        _split(len(y)),
        serving,
        reference_advantage,
        confidence=0.95,
        samples=200,
        seed=seed,
    )


def _reference_advantage(seed=1):
    """Serving's advantage on its own span (concept "a"), as the push records it."""
    cols, y, serving = _span(8000, seed)
    st = _judge(cols, y, serving, None)
    assert st.lost is None  # nothing to lose against yet
    return st.advantage


def test_the_challenger_learns_a_span_close_to_the_true_model():
    cols, y, serving = _span(8000, 3)
    ev = _split(len(y))
    pick = lambda mask: {k: np.asarray(v, dtype=object)[mask] for k, v in cols.items()}  # noqa: E731
    _, p, value = challenger.challenger_auc(FEATURES, pick(~ev), y[~ev], pick(ev), y[ev])
    from components.quality.metrics import auc

    truth = auc(y[ev], serving[ev])
    assert truth - 0.02 < value <= truth + 0.01
    assert np.all((p > 0) & (p < 1))


def test_unseen_categories_and_missing_values_are_scored():
    cols, y, _ = _span(2000, 4)
    model = challenger.fit(FEATURES, cols, y)
    new = {
        "x1": np.array([None, 0.5], dtype=object),
        "x2": np.array([0.0, np.nan]),
        "c": np.array(["z", "a"]),
    }
    p = model.predict(new)
    assert p.shape == (2,) and np.all(np.isfinite(p))


def test_a_harder_span_is_not_staleness():
    ref = _reference_advantage()
    cols, y, serving = _span(8000, 5, noise=0.5)  # same concept, flatter: every model scores lower
    st = _judge(cols, y, serving, ref)
    fresh = _judge(*_span(8000, 6), ref)
    assert st.serving_auc < fresh.serving_auc - 0.05  # the serving model does look worse ...
    assert abs(st.lost) < 0.02 and st.lost_low < 0.02  # ... but lost no ground to a fresh model
    assert challenger.stale_reason(st.to_json(), 0.02, 3) is None


def test_a_concept_change_is_staleness_and_the_reason_names_what_was_compared():
    ref = _reference_advantage()
    cols, y, serving = _span(8000, 7, concept="b")
    st = _judge(cols, y, serving, ref)
    assert st.challenger_auc > st.serving_auc + 0.2 and st.lost_low > 0.2
    reason = challenger.stale_reason(st.to_json(), 0.02, 3)
    assert reason.startswith("stale model: on span 7's 2000 eval rows serving v3 scores AUC")
    assert f"challenger fitted on span 7 {st.challenger_auc:.3f}" in reason and "margin 0.02" in reason
    # the interval decides, not the point: a margin inside the interval holds
    assert challenger.stale_reason(st.to_json(), st.lost_low + 0.001, 3) is None


def test_too_few_rows_or_one_class_gives_no_judgement():
    cols, y, serving = _span(40, 8)
    assert _judge(cols, y, serving, 0.0) is not None
    assert (
        challenger.judge_span(
            7, FEATURES, cols, y, _split(40), serving, 0.0, confidence=0.95, samples=50, min_rows=200
        )
        is None
    )
    assert _judge(cols, np.ones(40), serving, 0.0) is None


def _verdict(cfg, st):
    cols, y, serving = _span(4000, 9, concept="b")
    ref = quality.Reference(3, 2, 1000, 0.80, 0.75, quality.histogram(serving), challenger_auc=0.79)
    return quality.judge(3, 7, y, serving, ref, cfg, seed=7, staleness=st)


@pytest.mark.parametrize("enabled,retrain", [(True, True), (True, False), (False, True)])
def test_staleness_is_reported_when_enabled_and_retrains_only_with_retrain(enabled, retrain):
    import dataclasses

    cols, y, serving = _span(8000, 7, concept="b")
    st = _judge(cols, y, serving, 0.01).to_json()
    cfg = QualityConfig()
    ch = dataclasses.replace(cfg.challenger, enabled=enabled, retrain=retrain)
    q = _verdict(dataclasses.replace(cfg, challenger=ch), st)
    assert bool(q.stale) is enabled and q.stale_retrains is (enabled and retrain)
    assert ("challenger fitted on span 7" in q.sentence) is enabled
    report = decision.decide(
        7,
        {"train": 6000, "eval": 2000},
        [],
        policy=decision.Policy(serving_version=3, training_span=5, quality={**q.to_json(), "verdict": "ok"}),
    )
    assert (report.decision == decision.RETRAIN) is (enabled and retrain)
    if enabled and retrain:
        assert report.summary.startswith("retrain: stale model: on span 7's")
    elif enabled:  # the skip still says what was compared, and that it was not acted on
        assert "challenger fitted on span 7" in report.summary
        assert any(r.endswith("reported only (quality.challenger.retrain: false)") for r in report.reasons)


def test_a_reference_without_a_challenger_never_judges_staleness():
    ref = quality.Reference.from_json(
        {"version": 1, "span": 1, "rows": 10, "auc": 0.7, "accuracy": 0.7, "histogram": [1] * 20}
    )
    assert ref.challenger_auc is None and ref.advantage is None
    cols, y, serving = _span(8000, 7, concept="b")
    st = _judge(cols, y, serving, ref.advantage)
    assert st.lost is None and challenger.stale_reason(st.to_json(), 0.0, 1) is None
