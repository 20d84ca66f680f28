"""The serving-quality judgement (``components.quality.serving``) on synthetic scores
with a known answer: an interval that covers the truth, ``degraded`` only
when the whole interval lies below the reference minus the margin, and
prediction drift that is zero on the same distribution."""

import numpy as np
import pytest

from components.quality import serving as quality
from driftgate.core.config import QualityConfig


def _scores(n, separation, seed):
    """Labels and scores whose AUC grows with ``separation``."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    scores = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + separation * (labels - 0.5))))
    return labels, scores


CFG = QualityConfig()


def test_interval_covers_the_point_and_narrows_with_more_rows():
    small = quality.measure(*_scores(500, 1.5, 1), confidence=0.95, samples=200)
    large = quality.measure(*_scores(20000, 1.5, 1), confidence=0.95, samples=200)
    for m in (small, large):
        assert m.auc_low < m.auc < m.auc_high
    assert (large.auc_high - large.auc_low) < (small.auc_high - small.auc_low) / 3


def test_a_model_as_good_as_at_its_push_is_ok():
    labels, scores = _scores(5000, 1.5, 2)
    ref = quality.reference(3, 7, *_scores(2000, 1.5, 3))
    q = quality.judge(3, 9, labels, scores, ref, CFG)
    assert q.verdict == quality.OK
    assert q.prediction_severity == "none" and q.prediction_drift["psi"] < 0.05
    assert "serving v3 scores AUC" in q.sentence and "within margin" in q.sentence


def test_a_model_that_lost_its_skill_is_degraded_with_the_evidence_in_one_sentence():
    ref = quality.reference(3, 7, *_scores(2000, 3.0, 3))  # AUC about 0.93 at push
    labels, _ = _scores(5000, 0.0, 4)
    noise = np.random.default_rng(5).uniform(0, 1, len(labels))  # AUC about 0.5 now
    q = quality.judge(3, 9, labels, noise, ref, CFG)
    assert q.verdict == quality.DEGRADED
    assert q.auc_high < ref.auc - CFG.auc_margin
    assert q.sentence.startswith(
        f"serving v3 scores AUC {q.auc:.3f} [{q.auc_low:.3f}, {q.auc_high:.3f}] (95%) on span 9"
    )
    assert f"below its reference {ref.auc:.3f} (span 7) by more than {CFG.auc_margin}" in q.sentence
    # uniform predictions vs a sharp model's: the predictions moved too
    assert q.prediction_severity in ("warning", "critical")


def test_a_drop_inside_the_margin_is_not_degraded():
    labels, scores = _scores(5000, 1.5, 6)
    m = quality.measure(labels, scores, confidence=0.95, samples=200)
    ref = quality.Reference(
        1, 1, 2000, round(m.auc + CFG.auc_margin - 0.01, 6), 0.7, quality.histogram(scores)
    )
    assert quality.verdict(1, 2, m, ref, CFG).verdict == quality.OK


@pytest.mark.parametrize("rows", [10, 63])
def test_too_few_rows_say_so(rows):
    labels, scores = _scores(rows, 1.5, 7)
    q = quality.judge(2, 4, labels, scores, None, CFG)
    assert q.verdict == quality.INSUFFICIENT
    assert q.sentence == (
        f"insufficient data: {rows} labelled rows on span 4, below quality.min_rows {CFG.min_rows}; "
        "serving version 2 not judged"
    )


def test_without_a_reference_the_model_is_measured_but_not_judged():
    q = quality.judge(2, 4, *_scores(1000, 1.5, 8), None, CFG)
    assert q.verdict == quality.NO_REFERENCE and q.auc is not None and q.reference_auc is None


def test_prediction_drift_is_zero_on_the_same_histogram_and_large_on_a_shift():
    _, scores = _scores(5000, 1.5, 9)
    h = quality.histogram(scores)
    assert quality.prediction_drift(h, h) == {"psi": 0.0, "ks": 0.0, "overlap": 1.0}
    shifted = quality.histogram(np.clip(scores + 0.3, 0, 1))
    d = quality.prediction_drift(h, shifted)
    assert d["psi"] > CFG.prediction_psi.critical and d["ks"] > 0.3
    assert 0.0 < d["overlap"] < 0.8


def test_prediction_overlap_is_the_share_of_mass_two_histograms_have_in_common():
    # half the reference's mass in bin 0, half in bin 1; the span all in bin 1
    assert quality.prediction_drift([50, 50] + [0] * 18, [0, 80] + [0] * 18)["overlap"] == 0.5
    assert quality.prediction_drift([10] + [0] * 19, [0] * 19 + [10])["overlap"] == 0.0  # disjoint
    assert quality.prediction_drift([3, 1] + [0] * 18, [6, 2] + [0] * 18)["overlap"] == 1.0  # same shape


def test_quality_round_trips_through_json():
    q = quality.judge(2, 4, *_scores(1000, 1.5, 8), quality.reference(2, 3, *_scores(800, 1.5, 1)), CFG)
    assert quality.Quality.from_json(q.to_json()) == q
