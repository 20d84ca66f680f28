"""Executor of ``SpanExampleGen``: a span's CSV, Parquet or TFRecord files
into the Examples artifact, resolving its own span; in process by default
(``components.ingest.fast``), or TFX's Beam ExampleGen executor for the format
(``executor: stock``, or a distributed Beam runner).

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

import csv
import os
from typing import Any, Dict, List, Tuple
from unittest import mock

import apache_beam as beam
from absl import logging
from tfx.components.example_gen import base_example_gen_executor, input_processor, write_split
from tfx.components.example_gen import driver as example_gen_driver
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.components.example_gen.import_example_gen import executor as import_executor
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.ingest import encode, errors, fast, formats, recorded, spans
from components.state import RegionState
from driftgate.core import lease, vocabulary
from driftgate.core.config import local_beam_runner
from driftgate.core.layout import RegionLayout

LAYOUT_KEY = "layout"  # the region's RegionLayout (driftgate.core.layout), as JSON
SPAN_KEY = vocabulary.PARAM_SPAN  # the run parameter: "next" or a span number
FORMAT_KEY = "data_format"  # csv | parquet | tfrecord (components.ingest.formats)
EXECUTOR_KEY = "executor"  # fast | stock
FAST, STOCK_EXECUTORS = "fast", "stock"
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


def _strip_bom(names: List[str]) -> List[str]:
    return [names[0].lstrip("\ufeff")] + names[1:] if names else names


class _CsvToExample(csv_executor._CsvToExample):  # noqa: SLF001 - TFX's transform, with one fix
    """TFX's CSV transform reading a header that starts with a UTF-8
    byte-order mark as its names say (TFX would name the first column
    "\ufeffcarrier")."""

    def expand(self, pipeline):
        load = csv_executor.io_utils.load_csv_column_names
        with mock.patch.object(csv_executor.io_utils, "load_csv_column_names", lambda f: _strip_bom(load(f))):
            return super().expand(pipeline)


class _StockCsv(csv_executor.Executor):
    def GetInputSourceToExamplePTransform(self):
        return _CsvToExample


class _ParquetToExample(beam.PTransform):
    """Parquet files -> serialized tf.Examples in Beam, the rows as the fast
    ingest encodes them (``components.ingest.formats``). Not TFX's
    ``parquet_executor``: its ``dict_to_example`` turns every 0, 0.0 and ""
    into a missing feature (``if not pyval``), so a label of 0 would vanish."""

    def __init__(self, exec_properties, split_pattern):
        super().__init__()
        self._files = fileio.glob(
            os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
        )
        self._kinds = formats.parquet_layout(self._files)

    def expand(self, pipeline):
        kinds = self._kinds

        def to_records(table):
            return encode.encode(formats.parquet_batch_columns(table, kinds)).to_pylist()

        return (
            pipeline
            | "ReadParquet"
            >> beam.io.ReadFromParquetBatched(self._files[0] if len(self._files) == 1 else self._files)
            | "Encode" >> beam.FlatMap(to_records)
        )


class _StockParquet(base_example_gen_executor.BaseExampleGenExecutor):
    def GetInputSourceToExamplePTransform(self):
        return _ParquetToExample


STOCK = {formats.CSV: _StockCsv, formats.PARQUET: _StockParquet, formats.TFRECORD: import_executor.Executor}


class Executor(base_beam_executor.BaseBeamExecutor):
    """A span's files -> tf.Examples, for the span chosen when the task runs:
    in process (``components.ingest.fast``), or with TFX's Beam executor for
    the format when ``executor`` is "stock" or the Beam flags name a runner
    other than the local one."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        self._take_region_lease(output_dict, exec_properties)
        props, choice = resolve(exec_properties)
        logging.info("ingesting %s", choice.describe())
        fmt = props.get(FORMAT_KEY) or formats.CSV
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(props[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        files = sorted(
            fileio.glob(
                os.path.join(props[standard_component_specs.INPUT_BASE_KEY], input_config.splits[0].pattern)
            )
        )
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        if props.get(EXECUTOR_KEY, FAST) == FAST and local_beam_runner(self._beam_pipeline_args):
            self._fast(fmt, files, props, examples)
        else:
            logging.info("ingest: TFX's Beam executor for %s", fmt)
            try:
                STOCK[fmt](self._context).Do(input_dict, output_dict, props)
            except csv.Error as exc:  # TFX's CSV decoder: "line contains NUL", no file named
                found = errors.first_with_nul(files) if "NUL" in str(exc) else None
                if found is None:
                    raise
                raise found from None
        example_gen_driver.update_output_artifact(props, examples.mlmd_artifact)
        examples.span = props[example_gen_utils.SPAN_PROPERTY_NAME]
        if props[example_gen_utils.VERSION_PROPERTY_NAME] is not None:
            examples.version = props[example_gen_utils.VERSION_PROPERTY_NAME]
        recorded.record_choice(examples, choice)

    @staticmethod
    def _fast(fmt, files, props, examples) -> None:
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(props[standard_component_specs.OUTPUT_CONFIG_KEY], output_config)
        splits = [(s.name, s.hash_buckets) for s in output_config.split_config.splits]
        written = fast.ingest(fmt, files, splits, examples.uri)
        examples.split_names = artifact_utils.encode_split_names([name for name, _ in splits])
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(
            examples, write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP)
        )
        logging.info("ingested %s rows: %s", f"{sum(written.rows.values()):,}", written.rows)

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
