"""The gate rule ``importance_drift``: drift against the training baseline
weighted by the serving model's push-time permutation importance."""

import dataclasses
from types import SimpleNamespace

import pytest

from components.drift.results import Comparison, FeatureDrift
from components.drift.results import TestResult as Result
from components.gate import decision
from components.gate.rules import Evidence, importance_drift, normalised_drift


def _test(score, warning):
    return Result(score=score, verdict="none", warning=warning, critical=2 * warning)


def _training(**tests):
    """A comparison vs the training baseline (span 5): feature -> {test: (score, warning)}."""
    feats = {
        name: FeatureDrift("numeric", "warning", 1000.0, 1000.0, {t: _test(*v) for t, v in per.items()})
        for name, per in tests.items()
    }
    return Comparison("training", 5, "warning", tuple(sorted(feats)), feats)


# pressure: worst test 3x its warning (ks); temp: 1x; dest: no drift
DRIFT = _training(
    pressure={"ks": (0.3, 0.1), "psi": (0.05, 0.1)},
    temp={"ks": (0.1, 0.1)},
    dest={"psi": (0.0, 0.2)},
)
# weights 0.6 / 0.3 / 0.1 (distance's negative importance clips to 0): score 0.6 * 3 + 0.3 * 1 = 2.1
REFERENCE = {"pressure": 0.06, "temp": 0.03, "dest": 0.01, "distance": -0.002}


def _quality(retrain_above, reference=REFERENCE):
    block = {"method": "permutation_auc", "rows": 2000, "reference": reference, "ndcg": None}
    return {"importance": dict(block, retrain_above=retrain_above)}


def _policy(quality, calibration="calibrated"):
    return decision.Policy(serving_version=2, training_span=5, calibration=calibration, quality=quality)


def _said(quality, drift=DRIFT, calibration="calibrated"):
    drifts = {"training": drift} if drift is not None else {}
    return importance_drift(Evidence(7, 9000, [], drifts, [], _policy(quality, calibration), None))


def test_normalised_drift_is_the_worst_test_over_its_own_warning_threshold():
    assert normalised_drift(DRIFT) == pytest.approx({"pressure": 3.0, "temp": 1.0, "dest": 0.0})
    # the thresholds the comparison carries are used, calibrated or not
    tighter = _training(pressure={"ks": (0.3, 0.05)})
    assert normalised_drift(tighter) == pytest.approx({"pressure": 6.0})
    short = dataclasses.replace(DRIFT.features["temp"], severity="insufficient_data")
    assert "temp" not in normalised_drift(dataclasses.replace(DRIFT, features={"temp": short}))


def test_fires_above_retrain_above_and_names_the_top_features():
    said = _said(_quality(1.0))
    assert said.retrain == [
        "drift on the features the model relies on: importance-weighted score 2.10 above 1.0 "
        "(pressure 1.80, temp 0.30) vs training baseline (span 5)"
    ]
    assert not said.reported and not said.notes


def test_silent_below_reports_the_score():
    said = _said(_quality(2.5))
    assert said.retrain == [] and said.notes == []
    assert said.reported == [
        "importance-weighted drift 2.10 vs training baseline (span 5), at or below "
        "quality.importance.retrain_above 2.5 (pressure 1.80, temp 0.30)"
    ]


def test_off_at_zero_without_importance_without_reference_or_training_drift():
    for said in (
        _said(_quality(0.0)),
        _said({}),
        _said({"importance": None}),
        _said(_quality(1.0, reference={})),
        _said(_quality(1.0), drift=None),
    ):
        assert said == type(said)()


def test_before_calibration_it_notes_instead_of_retraining():
    said = _said(_quality(1.0), calibration="hold")
    assert said.retrain == []
    assert said.notes[0].startswith(
        "drift on the features the model relies on: importance-weighted score 2.10"
    )
    assert "at fixed thresholds, not retraining on it" in said.notes[0]


def test_the_gate_retrains_on_it_and_the_default_leaves_the_decision_alone():
    policy = _policy(_quality(1.0))
    report = decision.decide(7, {"all": 9000}, [], drift={"training": DRIFT}, policy=policy)
    assert report.decision == decision.RETRAIN
    assert any(r.startswith("drift on the features the model relies on") for r in report.reasons)
    off = decision.decide(
        7,
        {"all": 9000},
        [],
        drift={"training": DRIFT},
        policy=dataclasses.replace(policy, quality=_quality(0.0)),
    )
    without = decision.decide(
        7, {"all": 9000}, [], drift={"training": DRIFT}, policy=dataclasses.replace(policy, quality=None)
    )
    assert off.decision == without.decision and off.reasons == without.reasons


def test_slice_quality_retrains_only_when_configured_and_says_why_not():
    from components.gate import rules

    found = [
        {
            "slice": "carrier=EV",
            "sentence": "carrier=EV: AUC 0.550, below its 0.750 at push by more than 0.15",
        }
    ]
    quality = {"version": 3, "slices_degraded": found, "slices_retrain": False}
    e = rules.Evidence(1, 100, [], {}, [], SimpleNamespace(quality=quality), None)
    said = rules.slice_quality(e)
    assert not said.retrain and "serving v3 degraded on 1 slice(s): carrier=EV" in said.notes[0]
    assert "retrain_on_slices is false" in said.notes[0]
    e = rules.Evidence(1, 100, [], {}, [], SimpleNamespace(quality=dict(quality, slices_retrain=True)), None)
    assert rules.slice_quality(e).retrain and not rules.slice_quality(e).notes
    e = rules.Evidence(1, 100, [], {}, [], SimpleNamespace(quality={"version": 3}), None)
    assert rules.slice_quality(e) == rules.Said()
