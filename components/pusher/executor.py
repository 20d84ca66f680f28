"""Stock TFX Pusher executor with driftgate's version layout.

Reuses the stock blessing checks (``CheckBlessing``) and model path lookup;
replaces the copy: versions are consecutive integers (1, 2, 3 ... per region
model, readable in reports and stable labels) and each is written under a
temporary name then renamed, so TF Serving never loads half a model.
"""

from __future__ import annotations

from absl import logging
from tfx.components.pusher import executor as pusher_executor
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from driftgate.core import faults
from serving import layout


class Executor(pusher_executor.Executor):
    """Pusher executor: blessed model -> ``<base_directory>/<next integer>/``."""

    def Do(self, input_dict, output_dict, exec_properties):
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY]
        )
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_path = self.GetModelPath(input_dict)
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        if destination.WhichOneof("destination") != "filesystem":
            raise ValueError("driftgate's Pusher pushes to a filesystem destination only")
        base = destination.filesystem.base_directory
        version = layout.publish_version(model_path, base)
        faults.point("pusher.published")  # in the serving folder, not labelled yet
        logging.info("Model pushed to %s/%d", base, version)
        io_utils.copy_dir(model_path, model_push.uri)  # archive, as the stock Pusher does
        self._MarkPushed(model_push, pushed_destination=f"{base}/{version}", pushed_version=str(version))
        model_push.set_int_custom_property("serving_version", version)
