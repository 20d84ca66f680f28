"""History-calibrated thresholds (``components.drift.calibration``): mean +
k std of the region's own span-to-span scores, the floor, and nothing until
the history is long enough."""

import dataclasses

import pytest

from components.drift import calibration
from driftgate.core.config import load_region_config


@pytest.fixture(scope="module")
def drift():
    return load_region_config("EWR").drift


def _history(values, test="ks", feature="temp"):
    out = [{"span": 1, "scores": {}}]  # the first span has no previous one
    for i, v in enumerate(values, start=2):
        out.append(
            {"span": i, "scores": {"previous": {feature: {test: v}}, "training": {feature: {test: 9}}}}
        )
    return out


def test_tiers_are_mean_plus_k_std_of_the_span_to_span_scores(drift):
    cal = calibration.calibrate(_history([0.2, 0.3, 0.4]), drift)
    mean, std = 0.3, (((0.1**2) * 2) / 3) ** 0.5
    tier = cal.tiers["temp"]["ks"]
    assert tier.warning == pytest.approx(mean + drift.calibration.k * std)
    assert tier.critical == pytest.approx(mean + drift.calibration.critical_k * std)
    assert cal.spans == [2, 3, 4] and cal.ready


def test_training_scores_never_calibrate(drift):
    cal = calibration.calibrate(_history([0.2, 0.3, 0.4]), drift)
    assert cal.tiers["temp"]["ks"].warning < 1  # the 9s of the training comparisons are ignored


def test_short_history_gives_no_tiers(drift):
    cal = calibration.calibrate(_history([0.2, 0.3]), drift)  # 2 < min_history 3
    assert not cal.ready and cal.tiers == {}


def test_a_region_that_never_moves_keeps_the_floor(drift):
    cal = calibration.calibrate(_history([0.0, 0.0, 0.0, 0.0]), drift)
    fixed = drift.thresholds.ks
    assert cal.tiers["temp"]["ks"].warning == pytest.approx(drift.calibration.floor * fixed.warning)
    assert cal.tiers["temp"]["ks"].warning > 0


def test_disabled_calibration_gives_no_tiers(drift):
    off = dataclasses.replace(drift, calibration=dataclasses.replace(drift.calibration, enabled=False))
    assert not calibration.calibrate(_history([0.2, 0.3, 0.4, 0.5]), off).ready
