"""Finds the model serving in the region and hands it to the Evaluator.

TFX's usual way is a ``Resolver`` node with a latest-blessed-model strategy;
Kubeflow Pipelines' open-source backend refuses resolver executors. This
component reads the region's TF Serving base path instead (the same under the
local runner and Kubeflow: a path or bucket URI under the region's root), and
copies the serving SavedModel into its own ``Model`` output, so ML Metadata
records which version was the baseline. With nothing serving yet, the output
is marked ``has_model=0`` and the Evaluator judges by value thresholds alone.
"""

import os

from tfx.dsl.io import fileio
from tfx.types import standard_artifacts as std

from components.node import Out, Param, component
from driftgate.core.layout import RegionLayout
from serving import layout as versions

SERVING_SUBDIR = "Format-Serving"  # where TFX looks for a Model artifact's SavedModel


@component
def ServingBaseline(
    model: Out[std.Model],
    layout: Param[str],
):
    """Copies ``<model_base_path>/<serving version>`` into ``model`` (or marks it empty)."""
    model_base_path = RegionLayout.from_json(layout).model_base_path
    version = versions.serving_version(model_base_path)
    model.set_int_custom_property("has_model", 0 if version is None else 1)
    model.set_int_custom_property("serving_version", version or 0)
    model.set_string_custom_property("model_base_path", model_base_path)
    target = os.path.join(model.uri, SERVING_SUBDIR)
    if version is not None:
        versions.copy_tree(os.path.join(model_base_path, str(version)), target)
    else:
        fileio.makedirs(target)
