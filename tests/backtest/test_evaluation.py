"""The backtest blesses as the Evaluator does: TFMA's validator over the
region's EvalConfig, against the hand-written reading of the same thresholds."""

import itertools

import pytest

from backtest.evaluation import tfma_rule
from driftgate.core.config import load_region_config


def test_tfma_rule_matches_the_configured_thresholds():
    cfg = load_region_config("EWR")
    ev = cfg.evaluation
    bless = tfma_rule(cfg)
    for cand_auc, base_auc, cand_acc in itertools.product(
        (0.55, 0.65, 0.70, 0.72), (0.60, 0.70), (0.45, 0.75)
    ):
        expected = (
            cand_auc >= ev.min_auc
            and cand_acc >= ev.min_accuracy
            and cand_auc - base_auc >= ev.min_auc_improvement
        )
        assert bless(cand_auc, cand_acc, base_auc, 0.7) == expected, (cand_auc, base_auc, cand_acc)


def test_a_stricter_improvement_threshold_is_applied():
    import dataclasses

    cfg = load_region_config("EWR")
    cfg = dataclasses.replace(cfg, evaluation=dataclasses.replace(cfg.evaluation, min_auc_improvement=0.05))
    bless = tfma_rule(cfg)
    assert not bless(0.74, 0.8, 0.70, 0.8)
    assert bless(0.76, 0.8, 0.70, 0.8)
    with pytest.raises(TypeError):
        bless(0.7)
