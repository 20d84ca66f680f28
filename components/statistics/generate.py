"""TFDV statistics of record batches, in process and one batch at a time.

The same generators and combine steps as TFDV's Beam ``GenerateStatistics``
(``stats_impl.get_generators``: basic statistics, top-k and uniques; each
``CombinerStatsGenerator``'s ``add_input`` per batch, then ``compact`` and
``extract_output``), without a Beam pipeline. The in-process generator set
counts top values with TFDV's sketch (Misra-Gries, 1024 counters; KMV, 16384
for uniques), exact below those sizes, where Beam counts exactly.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pyarrow as pa
from tensorflow_data_validation.statistics import stats_impl, stats_options
from tensorflow_metadata.proto.v0 import statistics_pb2


def supported(options: stats_options.StatsOptions) -> bool:
    """Whether ``statistics`` computes what Beam would for these options
    (no slicing, no sampling, no generators that need Beam)."""
    if options.slicing_config or options.experimental_slice_functions or options.experimental_slice_sqls:
        return False
    if options.sample_rate not in (None, 1.0):
        return False
    if options.schema is not None and any(  # derived features are computed in Beam only
        "validation_derived_source" in f.DESCRIPTOR.fields_by_name and f.HasField("validation_derived_source")
        for f in options.schema.feature
    ):
        return False
    try:
        stats_impl.get_generators(options, in_memory=True)
    except TypeError:  # a generator that is not a combiner
        return False
    return True


def statistics(
    batches: Iterable[pa.RecordBatch], options: stats_options.StatsOptions
) -> statistics_pb2.DatasetFeatureStatisticsList:
    """The statistics of all rows of ``batches``."""
    generators = stats_impl.get_generators(options, in_memory=True)
    accumulators = [g.create_accumulator() for g in generators]
    allow = list(options.feature_allowlist or [])
    # An inf value makes TFDV's running mean and variance NaN (inf - inf), as on
    # Beam: that is TFDV's statistic, and the gate reads the span's quantiles
    # (where inf is a value of its own); numpy would only warn about it per batch.
    with np.errstate(invalid="ignore", over="ignore"):
        for batch in batches:
            if allow:
                keep = [n for n in allow if n in batch.schema.names]
                batch = pa.RecordBatch.from_arrays([batch.column(n) for n in keep], keep)
            accumulators = [g.add_input(a, batch) for g, a in zip(generators, accumulators, strict=True)]
        return stats_impl.extract_statistics_output(accumulators, generators)
