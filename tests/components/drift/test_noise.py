"""Sampling noise of each drift test (``components.drift.noise``): the
parametric bootstrap from a baseline's summary gives the mean and spread of
the score two real samples of that size would get, with nothing shifted."""

import numpy as np
import pytest

from components.drift import noise
from components.drift.stat_tests import run_tests
from components.drift.summaries import CategoricalSummary, NumericSummary
from driftgate.core.config import Tier


def sketch(x, buckets=100):
    """A quantile sketch as StatisticsGen's (equi-depth boundaries)."""
    levels = np.linspace(0, 1, buckets + 1)
    return NumericSummary(len(x), float(x.mean()), float(x.std()), np.quantile(x, levels), levels)


def counts(x):
    u, c = np.unique(x, return_counts=True)
    return CategoricalSummary(len(x), {str(a): float(b) for a, b in zip(u, c, strict=True)})


PROBS = np.arange(1, 101) / 5050  # 100 categories, the most frequent 100x the rarest

CASES = {
    "numeric": (lambda rng, n: rng.normal(size=n), sketch),
    "categorical": (lambda rng, n: rng.choice(100, size=n, p=PROBS), counts),
}


@pytest.mark.parametrize("kind", sorted(CASES))
@pytest.mark.parametrize("n", [1000, 10000])
def test_noise_matches_the_scores_of_real_sample_pairs(kind, n):
    gen, summarise = CASES[kind]
    rng = np.random.default_rng(11)
    base = summarise(gen(rng, 200_000))
    got = noise.of("f", base, n, n, draws=200)
    real = {}
    for _ in range(120):
        for test, s in run_tests(summarise(gen(rng, n)), summarise(gen(rng, n))).items():
            real.setdefault(test, []).append(s.value)
    for test, values in real.items():
        assert got[test].mean == pytest.approx(np.mean(values), rel=0.2, abs=0.002), test
        assert got[test].std == pytest.approx(np.std(values), rel=0.35, abs=0.002), test


def test_noise_falls_with_the_sample_size_as_the_tests_predict():
    rng = np.random.default_rng(12)
    num, cat = sketch(rng.normal(size=100_000)), counts(rng.choice(100, size=100_000, p=PROBS))
    small, large = noise.of("x", num, 1000, 1000, 200), noise.of("x", num, 100_000, 100_000, 200)
    # KS: mean ~ 0.87 / sqrt(n/2) (Kolmogorov); PSI ~ (bins - 1) * 2 / n
    assert small["ks"].mean == pytest.approx(0.8687 / np.sqrt(500), rel=0.15)
    assert small["psi"].mean / large["psi"].mean == pytest.approx(100, rel=0.3)
    assert (
        noise.of("c", cat, 1000, 1000, 200)["psi"].mean
        > 10 * noise.of("c", cat, 100_000, 100_000, 200)["psi"].mean
    )


def test_noise_is_deterministic_and_depends_on_both_sizes():
    base = sketch(np.random.default_rng(13).normal(size=50_000))
    assert noise.of("x", base, 2000, 3000, 100) == noise.of("x", base, 2000, 3000, 100)
    assert noise.of("x", base, 2000, 300, 100)["ks"].mean > noise.of("x", base, 2000, 3000, 100)["ks"].mean


def test_lift_moves_a_tier_out_of_the_noise_and_keeps_its_gap():
    n = noise.Noise(0.2, 0.03)
    assert n.lift(Tier(0.1, 0.25), z=3) == Tier(pytest.approx(0.29), pytest.approx(0.44))
    assert n.lift(Tier(0.5, 0.8), z=3) == Tier(0.5, 0.8)  # already above: unchanged
