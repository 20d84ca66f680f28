"""Stock TFX Evaluator executor, with the baseline dropped when it is empty.

``components.baseline`` always emits a Model artifact (pipelines without
Resolver nodes cannot emit "nothing"); when no model serves yet it is marked
``has_model=0``. Dropping it lets the stock executor take its own first-run
path: the change thresholds are rubber-stamped, value thresholds still apply.
"""

from __future__ import annotations

import os

from absl import logging
from tfx.components.evaluator import executor as evaluator_executor
from tfx.types import standard_component_specs

from components.baseline.component import SERVING_SUBDIR


def baseline_is_empty(artifact) -> bool:
    """True when the baseline artifact carries no SavedModel."""
    if artifact.has_custom_property("has_model") and not artifact.get_int_custom_property("has_model"):
        return True
    from tfx.dsl.io import fileio

    return not fileio.exists(os.path.join(artifact.uri, SERVING_SUBDIR, "saved_model.pb"))


class Executor(evaluator_executor.Executor):
    """Evaluator executor tolerating an empty baseline."""

    def Do(self, input_dict, output_dict, exec_properties):
        key = standard_component_specs.BASELINE_MODEL_KEY
        baselines = input_dict.get(key) or []
        if baselines and baseline_is_empty(baselines[0]):
            logging.info("No model serves in this region yet: evaluating without a baseline.")
            input_dict = {k: v for k, v in input_dict.items() if k != key}
        super().Do(input_dict, output_dict, exec_properties)
