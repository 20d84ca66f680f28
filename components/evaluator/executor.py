"""Evaluator executors: TFX's, with the baseline dropped when it is empty,
and the in-process one (``fast.py``) that falls back to it.

``components.baseline`` always emits a Model artifact (pipelines without
Resolver nodes cannot emit "nothing"); when no model serves yet it is marked
``has_model=0``. Dropping it lets the stock executor take its own first-run
path: the change thresholds are rubber-stamped, value thresholds still apply.
"""

from __future__ import annotations

import json
import os

from absl import logging
from tfx.components.evaluator import constants
from tfx.components.evaluator import executor as evaluator_executor
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, path_utils, proto_utils

from components.baseline.component import SERVING_SUBDIR
from driftgate.core.config import local_beam_runner


def baseline_is_empty(artifact) -> bool:
    """True when the baseline artifact carries no SavedModel."""
    if artifact.has_custom_property("has_model") and not artifact.get_int_custom_property("has_model"):
        return True
    from tfx.dsl.io import fileio

    return not fileio.exists(os.path.join(artifact.uri, SERVING_SUBDIR, "saved_model.pb"))


def _without_empty_baseline(input_dict):
    key = standard_component_specs.BASELINE_MODEL_KEY
    baselines = input_dict.get(key) or []
    if baselines and baseline_is_empty(baselines[0]):
        logging.info("No model serves in this region yet: evaluating without a baseline.")
        return {k: v for k, v in input_dict.items() if k != key}
    return input_dict


class Executor(evaluator_executor.Executor):
    """Evaluator executor tolerating an empty baseline; a slice TFMA filtered
    for ``min_slice_size`` is not judged (``components.evaluator.slicing``)."""

    def Do(self, input_dict, output_dict, exec_properties):
        input_dict = _without_empty_baseline(input_dict)
        super().Do(input_dict, output_dict, exec_properties)
        output_uri = artifact_utils.get_single_instance(output_dict[constants.EVALUATION_KEY]).uri
        if _judge_filtered_slices(output_uri):
            bless(input_dict, output_dict, exec_properties, output_uri)


def _judge_filtered_slices(output_uri: str) -> list:
    from components.evaluator import slicing

    ignored = slicing.judge_filtered_slices(output_uri)
    if ignored:
        logging.info("not judged, below min_slice_size: %s", ", ".join(ignored))
    return ignored


EVALUATED_BY = "evaluated_by"  # "in process" on the evaluation artifact when FastExecutor computed it


class FastExecutor(Executor):
    """The Evaluator in process (``components.evaluator.fast``), when it
    computes everything the eval config asks for; else TFX's."""

    def Do(self, input_dict, output_dict, exec_properties):
        import tensorflow_model_analysis as tfma

        from components.evaluator import fast
        from components.ingest import formats

        input_dict = _without_empty_baseline(input_dict)
        has_baseline = bool(input_dict.get(standard_component_specs.BASELINE_MODEL_KEY))
        eval_config = tfma.EvalConfig()
        proto_utils.json_to_proto(
            exec_properties.get(standard_component_specs.EVAL_CONFIG_KEY) or "{}", eval_config
        )
        eval_config = tfma.utils.update_eval_config_with_defaults(
            eval_config, has_baseline=has_baseline, rubber_stamp=True
        )
        why = fast.supported(eval_config) if eval_config.model_specs else "no eval config"
        if not why and not local_beam_runner(self._beam_pipeline_args):
            why = "a distributed Beam runner"
        user = ("module_file", "module_path", "fairness_indicator_thresholds", "feature_slicing_spec")
        if not why and any(exec_properties.get(k) not in (None, "", "null", "[]", "{}") for k in user):
            why = "a user module, fairness indicators or a slicing spec"
        if why:
            logging.info("evaluator: TFX's executor (%s)", why)
            return super().Do(input_dict, output_dict, exec_properties)
        examples = input_dict[standard_component_specs.EXAMPLES_KEY]
        splits = json.loads(exec_properties.get(standard_component_specs.EXAMPLE_SPLITS_KEY) or "null") or [
            "eval"
        ]
        files = [f for split in splits for f in sorted(_files(examples, split))]
        models = {}
        for spec in eval_config.model_specs:
            key = (
                standard_component_specs.BASELINE_MODEL_KEY
                if spec.is_baseline
                else standard_component_specs.MODEL_KEY
            )
            artifact = artifact_utils.get_single_instance(input_dict[key])
            models[spec.name] = path_utils.serving_model_path(
                artifact.uri, path_utils.is_old_model_artifact(artifact)
            )
        evaluation = artifact_utils.get_single_instance(output_dict[constants.EVALUATION_KEY])
        output_uri = evaluation.uri
        evaluation.set_string_custom_property(EVALUATED_BY, "in process")
        rows = fast.evaluate(
            eval_config, models, formats.tfrecord_records(files), output_uri, ",".join(files)
        )
        logging.info("Evaluation complete (in process, %d rows). Results written to %s.", rows, output_uri)
        _judge_filtered_slices(output_uri)
        bless(input_dict, output_dict, exec_properties, output_uri)


def _files(examples, split):
    import tensorflow as tf

    return tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri(examples, split), "*"))


def bless(input_dict, output_dict, exec_properties, output_uri) -> None:
    """The blessing as TFX's executor writes it from TFMA's validation result."""
    import tensorflow_model_analysis as tfma
    from tfx.dsl.io import fileio

    blessing = artifact_utils.get_single_instance(output_dict[standard_component_specs.BLESSING_KEY])
    model = input_dict[standard_component_specs.MODEL_KEY][0]
    blessing.set_string_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_URI_KEY, model.uri)
    blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY, model.id)
    if input_dict.get(standard_component_specs.BASELINE_MODEL_KEY):
        baseline = input_dict[standard_component_specs.BASELINE_MODEL_KEY][0]
        blessing.set_string_custom_property(constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY, baseline.uri)
        blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BASELINE_MODEL_ID_KEY, baseline.id)
    if "current_component_id" in exec_properties:
        blessing.set_string_custom_property("component_id", exec_properties["current_component_id"])
    ok = tfma.load_validation_result(output_uri).validation_ok
    name, other = (constants.BLESSED_FILE_NAME, constants.NOT_BLESSED_FILE_NAME)[:: 1 if ok else -1]
    io_utils.write_string_file(os.path.join(blessing.uri, name), "")
    if fileio.exists(os.path.join(blessing.uri, other)):  # TFX's own verdict, before the slice repair
        fileio.remove(os.path.join(blessing.uri, other))
    value = constants.BLESSED_VALUE if ok else constants.NOT_BLESSED_VALUE
    blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY, value)
    logging.info("Blessing result %s written to %s.", ok, blessing.uri)
