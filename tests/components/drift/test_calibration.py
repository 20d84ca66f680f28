"""History-calibrated thresholds (``components.drift.calibration``): mean +
k std of the region's own span-to-span scores, the floor, and nothing until
the history is long enough."""

import dataclasses

import pytest

from components.drift import calibration
from components.drift.noise import Noise
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
    tier = cal.tier("temp", "ks", drift.thresholds.ks)
    assert tier.warning == pytest.approx(mean + drift.calibration.k * std)
    assert tier.critical == pytest.approx(mean + drift.calibration.critical_k * std)
    assert cal.spans == [2, 3, 4] and cal.ready


def test_training_scores_never_calibrate(drift):
    cal = calibration.calibrate(_history([0.2, 0.3, 0.4]), drift)
    assert (
        cal.tier("temp", "ks", drift.thresholds.ks).warning < 1
    )  # the 9s of the training comparisons are ignored


def test_short_history_gives_no_tiers(drift):
    cal = calibration.calibrate(_history([0.2, 0.3]), drift)  # 2 < min_history 3
    assert not cal.ready and cal.tier("temp", "ks", drift.thresholds.ks) is None


def test_a_region_that_never_moves_keeps_the_floor(drift):
    cal = calibration.calibrate(_history([0.0, 0.0, 0.0, 0.0]), drift)
    fixed = drift.thresholds.ks
    tier = cal.tier("temp", "ks", fixed)
    assert tier.warning == pytest.approx(drift.calibration.floor * fixed.warning)
    assert tier.warning > 0


def test_disabled_calibration_gives_no_tiers(drift):
    off = dataclasses.replace(drift, calibration=dataclasses.replace(drift.calibration, enabled=False))
    assert not calibration.calibrate(_history([0.2, 0.3, 0.4, 0.5]), off).ready


def _noisy_history(values, noise, test="psi", feature="dest"):
    out = _history(values, test, feature)
    for h in out[1:]:
        h["noise"] = {"previous": {feature: {test: list(noise)}}}
    return out


def test_a_history_without_recorded_noise_is_taken_at_the_current_size(drift):
    cal = calibration.calibrate(_history([0.2, 0.3, 0.4], test="psi", feature="dest"), drift)
    fixed = drift.thresholds.psi
    std = (((0.1**2) * 2) / 3) ** 0.5
    # noise known now, unknown then: mean + k * max(std, noise std), as before sizes counted
    assert cal.tier("dest", "psi", fixed, Noise(0.05, 0.01)).warning == pytest.approx(0.3 + 1.5 * std)
    assert cal.tier("dest", "psi", fixed, Noise(0.05, 0.5)).warning == pytest.approx(0.3 + 1.5 * 0.5)


def test_calibrated_tiers_follow_the_noise_at_the_judged_span_size(drift):
    # history at a month's size: scores 0.10-0.14 of which 0.02 +- 0.005 is sampling noise
    cal = calibration.calibrate(_noisy_history([0.10, 0.12, 0.14, 0.12], (0.02, 0.005)), drift)
    fixed = drift.thresholds.psi
    usual = cal.tier("dest", "psi", fixed, Noise(0.02, 0.005))
    small = cal.tier("dest", "psi", fixed, Noise(0.20, 0.03))  # a 1k-row span: 10x the noise
    large = cal.tier("dest", "psi", fixed, Noise(0.002, 0.0005))  # a 100k-row span
    assert usual == cal.tier("dest", "psi", fixed)  # no noise given: the history's own
    real_var = (0.02**2 * 2) / 4 - 0.005**2  # the history's variance less its noise's
    k = drift.calibration.k
    assert small.warning == pytest.approx(0.20 + 0.10 + k * (real_var + 0.03**2) ** 0.5)
    assert small.warning > usual.warning + 0.18  # the extra noise, in mean and in spread
    assert large.warning < usual.warning  # a break is not hidden behind the history's noise
    assert large.warning >= drift.calibration.floor * fixed.warning
    assert cal.to_json()["normal"]["dest"]["psi"][0] == pytest.approx(0.10)  # excess over noise
