"""Executor of ``SpanExampleGen``: TFX's CSV ExampleGen executor, resolving its
own span.

TFX resolves ExampleGen's ``{SPAN}`` in a *driver*: under LocalDagRunner a
Python driver, under Kubeflow V2 a ``preCacheCheck`` lifecycle hook that only
Vertex AI runs (the open-source KFP backend never does, so the stock executor
gets the raw pattern and fails). Here the executor resolves the span itself,
with TFX's own ``FileBasedInputProcessor`` (the driver's code path), so both
runners ingest the same span by the same rule (``components.ingest.spans``),
and it records ``span``, ``version`` and the input fingerprint on the Examples
artifact as the driver would: both runners and every downstream task see them.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Tuple

from absl import logging
from tfx.components.example_gen import driver as example_gen_driver
from tfx.components.example_gen import input_processor
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.ingest import recorded, spans
from components.state import RegionState
from driftgate.core import lease, vocabulary
from driftgate.core.layout import RegionLayout

LAYOUT_KEY = "layout"  # the region's RegionLayout (driftgate.core.layout), as JSON
SPAN_KEY = vocabulary.PARAM_SPAN  # the run parameter: "next" or a span number
# Examples artifact custom properties besides TFX's span/version/input_fingerprint


def available_spans(input_base: str, pattern: str) -> List[int]:
    """Span numbers arrived under ``input_base`` (local path or bucket URI):
    with files, and sealed if landed from Kafka (``spans.arrived``)."""
    base = input_base.rstrip("/")
    found = [p for g in spans.discovery_globs(pattern) for p in fileio.glob(f"{base}/{g}")]
    return spans.arrived([p[len(base) + 1 :] for p in found if p.startswith(base + "/")], pattern)


def _requested_span(exec_properties: Dict[str, Any]):
    raw = exec_properties.get(standard_component_specs.RANGE_CONFIG_KEY)
    if not raw:
        return spans.parse_span_parameter(exec_properties.get(SPAN_KEY))
    rc = range_config_pb2.RangeConfig()
    proto_utils.json_to_proto(raw, rc)
    if not rc.HasField("static_range"):
        raise ValueError("SpanExampleGen supports only a static range (one span)")
    if rc.static_range.start_span_number != rc.static_range.end_span_number:
        raise ValueError("SpanExampleGen ingests one span: start and end span must be equal")
    return rc.static_range.start_span_number


def resolve(exec_properties: Dict[str, Any]) -> Tuple[Dict[str, Any], spans.SpanChoice]:
    """The executor properties with the span resolved, as TFX's driver would
    set them (patterns, span, version, fingerprint), and the choice made."""
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
    pattern = input_config.splits[0].pattern
    found = available_spans(input_base, pattern)
    if not found:
        raise spans.SpanError(f"{input_base}: no files match '{pattern}'")
    processed = RegionState(RegionLayout.from_json(exec_properties[LAYOUT_KEY]).state_dir).processed_spans()
    try:
        choice = spans.choose_span(found, processed, _requested_span(exec_properties))
    except spans.SpanError as exc:
        raise spans.SpanError(f"{input_base}: {exc}") from None
    processor = input_processor.FileBasedInputProcessor(
        input_base,
        input_config.splits,
        range_config_pb2.RangeConfig(
            static_range=range_config_pb2.StaticRange(
                start_span_number=choice.span, end_span_number=choice.span
            )
        ),
    )
    span, version = processor.resolve_span_and_version()
    for split in input_config.splits:
        split.pattern = processor.get_pattern_for_span_version(split.pattern, span, version)
    props = dict(exec_properties)
    props[standard_component_specs.INPUT_CONFIG_KEY] = proto_utils.proto_to_json(input_config)
    props[example_gen_utils.SPAN_PROPERTY_NAME] = span
    props[example_gen_utils.VERSION_PROPERTY_NAME] = version
    props[example_gen_utils.FINGERPRINT_PROPERTY_NAME] = processor.get_input_fingerprint(span, version)
    return props, choice


class Executor(csv_executor.Executor):
    """CSV -> tf.Examples for the span chosen when the task runs."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        self._take_region_lease(output_dict, exec_properties)
        props, choice = resolve(exec_properties)
        logging.info("ingesting %s", choice.describe())
        super().Do(input_dict, output_dict, props)
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        example_gen_driver.update_output_artifact(props, examples.mlmd_artifact)
        examples.span = props[example_gen_utils.SPAN_PROPERTY_NAME]
        if props[example_gen_utils.VERSION_PROPERTY_NAME] is not None:
            examples.version = props[example_gen_utils.VERSION_PROPERTY_NAME]
        recorded.record_choice(examples, choice)

    def _take_region_lease(self, output_dict, exec_properties) -> None:
        """One run of the region at a time, whatever started it: the first
        task takes the region's lease under its pipeline run's id (the run
        recorder, the last, gives it back). Under ``driftgate run`` the
        runner holds it already for the same run; on Kubeflow a second run
        of the region fails here with one line naming the run in the way."""
        layout = RegionLayout.from_json(exec_properties[LAYOUT_KEY])
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        run = getattr(self._context, "pipeline_run_id", None) or lease.run_id_from_uri(
            examples.uri, layout.pipeline_root
        )
        if not run:
            logging.warning("no pipeline run id for %s: the region's lease is not taken", examples.uri)
            return
        # held across pods (no pid to check): renewed by every task, given back by the last or the exit task
        lease.Lease(layout.lease_file, run, lease.pipeline_ttl(os.environ), lease.NO_PID).acquire()
