"""Executor of driftgate's ``StatisticsGen``: TFDV statistics in process.

The stock executor runs TFDV's ``GenerateStatistics`` in a Beam pipeline over
every example decoded again from the TFRecords; at 1M rows that costs about
100 s on two cores. This one computes the same statistics with the same
``StatsOptions`` and schema (``generate.statistics``) from the rows the fast
ingest left beside the splits (``components.ingest.fast``, the layout the
decoder gives), or, without them, from the TFRecords decoded a batch at a
time with tfx_bsl's decoder, which is what the stock executor's TFXIO does.
It writes the stock artifact (``Split-<name>/FeatureStats.pb``, the same
properties). The stock Beam executor runs instead when the options need Beam
(``generate.supported``) or the pipeline's Beam flags name another runner.
"""

from __future__ import annotations

import os
from typing import Iterator

import pyarrow as pa
from absl import logging
from tfx.components.statistics_gen import executor as stock
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, json_utils

from components.ingest import fast, formats
from components.statistics import generate
from driftgate.core.config import local_beam_runner

DECODE_BATCH = 10000


def _decoded(examples_uri: str, split: str) -> Iterator[pa.RecordBatch]:
    import tensorflow as tf
    from tfx_bsl.coders import example_coder

    columns = fast.columns_file(examples_uri, split)
    if tf.io.gfile.exists(columns):
        with formats.arrow_file(columns) as fh:
            yield from pa.ipc.open_stream(fh)
        return
    decoder = example_coder.ExamplesToRecordBatchDecoder()
    files = sorted(tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*")))
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(DECODE_BATCH):
        batch = record.numpy().tolist()
        yield decoder.DecodeBatch(batch)


class Executor(stock.Executor):
    """StatisticsGen's executor, computing in process."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        options = self._options(input_dict, exec_properties)
        if not (
            local_beam_runner(self._beam_pipeline_args) and generate.supported(options)
        ) or exec_properties.get(standard_component_specs.SHARDED_STATS_OUTPUT_KEY):
            logging.info("statistics: the stock Beam executor (options or runner need Beam)")
            return super().Do(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(input_dict[standard_component_specs.EXAMPLES_KEY])
        exclude = (
            json_utils.loads(exec_properties.get(standard_component_specs.EXCLUDE_SPLITS_KEY, "null")) or []
        )
        splits = [s for s in artifact_utils.decode_split_names(examples.split_names) if s not in exclude]
        out = artifact_utils.get_single_instance(output_dict[standard_component_specs.STATISTICS_KEY])
        out.split_names = artifact_utils.encode_split_names(splits)
        out.span = examples.span
        out.set_string_custom_property(stock.STATS_DASHBOARD_LINK, "")
        out.set_json_value_custom_property(
            stock.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME, json_utils.dumps({s: 1.0 for s in splits})
        )
        for split in splits:
            logging.info("Generating statistics for split %s in process.", split)
            stats = generate.statistics(_decoded(examples.uri, split), options)
            path = os.path.join(artifact_utils.get_split_uri([out], split), stock.DEFAULT_FILE_NAME)
            io_utils.write_bytes_file(path, stats.SerializeToString())

    @staticmethod
    def _options(input_dict, exec_properties):
        import tensorflow_data_validation as tfdv

        raw = exec_properties.get(standard_component_specs.STATS_OPTIONS_JSON_KEY)
        options = tfdv.StatsOptions.from_json(raw) if raw else tfdv.StatsOptions()
        schemas = input_dict.get(standard_component_specs.SCHEMA_KEY)
        if schemas and options.schema is None:
            uri = io_utils.get_only_uri_in_dir(artifact_utils.get_single_uri(schemas))
            options.schema = io_utils.SchemaReader().read(uri)
        return options
