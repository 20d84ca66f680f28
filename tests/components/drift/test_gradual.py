"""Gradual drift: a slow creep under every per-span threshold is caught by CUSUM."""

from components.drift import gradual
from driftgate.core.config import GradualConfig

CFG = GradualConfig(allowance=0.05, threshold=0.5, min_spans=3)


def _history(means, std=1.0):
    return [{"span": i + 1, "numeric": {"x": {"mean": m, "std": std}}} for i, m in enumerate(means)]


def test_slow_creep_is_caught_though_each_step_is_small():
    means = [0.12 * i for i in range(9)]  # +0.12 std a span: below a 0.15 W1 warning
    found = gradual.detect(_history(means), ["x"], CFG)
    assert len(found) == 1
    f = found[0]
    assert f["feature"] == "x" and f["direction"] == "up"
    assert f["max_step_shift_std"] < 0.15 and f["total_shift_std"] > 0.8
    assert f["alarm_span"] == 9  # CUSUM after 7 steps: 7 * 0.07 = 0.49 < 0.5; after 8: 0.56
    assert f["cusum"] >= CFG.threshold


def test_noise_around_a_level_raises_nothing():
    means = [0.0, 0.04, -0.03, 0.02, -0.04, 0.03, 0.0, -0.02]
    assert gradual.detect(_history(means), ["x"], CFG) == []


def test_downward_creep_and_too_short_history():
    assert gradual.detect(_history([0, -0.3, -0.6, -0.9]), ["x"], CFG)[0]["direction"] == "down"
    assert gradual.detect(_history([0, 5]), ["x"], CFG) == []


def test_cusum_statistics():
    res = gradual.cusum([0.1, 0.1, 0.1], allowance=0.05, threshold=0.12)
    assert abs(res["up"] - 0.15) < 1e-12
    assert res["alarm_at"] == 2 and res["direction"] == "up" and res["down"] == 0.0
