"""The Evaluator's blessing rule, applied by TFMA's own validator.

The pipeline's Evaluator validates the candidate's metrics against the
region's ``EvalConfig`` (``pipelines.pipeline.eval_config``: value thresholds
on AUC and accuracy, a change threshold on AUC against the serving model).
Here the same ``EvalConfig``, with the candidate and baseline model specs the
Evaluator uses, goes through ``tensorflow_model_analysis``'s
``metrics_validator.validate_metrics`` with the backtest's measured values.
"""

from __future__ import annotations

from typing import Callable


def tfma_rule(cfg) -> Callable[[float, float, float, float], bool]:
    """``bless(candidate_auc, candidate_accuracy, baseline_auc, baseline_accuracy)``."""
    from tensorflow_model_analysis.evaluators import metrics_validator
    from tensorflow_model_analysis.metrics import metric_types
    from tensorflow_model_analysis.utils import config_util

    from pipelines.pipeline import eval_config

    # as TFX's Evaluator does with a baseline model: a baseline spec, the model names
    config = config_util.update_eval_config_with_defaults(eval_config(cfg), has_baseline=True)

    def key(name: str, model: str, diff: bool = False):
        return metric_types.MetricKey(name=name, model_name=model, is_diff=diff, example_weighted=False)

    def bless(cand_auc: float, cand_acc: float, base_auc: float, base_acc: float) -> bool:
        metrics = {
            key("auc", "candidate"): cand_auc,
            key("auc", "candidate", True): cand_auc - base_auc,
            key("binary_accuracy", "candidate"): cand_acc,
            key("binary_accuracy", "candidate", True): cand_acc - base_acc,
            key("auc", "baseline"): base_auc,
            key("binary_accuracy", "baseline"): base_acc,
        }
        return metrics_validator.validate_metrics(((), metrics), config).validation_ok

    return bless
