"""Helpers: TFDV statistics of small frames, summarised as the gate sees them."""

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def stats_of():
    import tensorflow_data_validation as tfdv

    def make(frame: pd.DataFrame, schema=None, buckets: int = 100):
        opts = tfdv.StatsOptions(num_quantiles_histogram_buckets=buckets, schema=schema)
        return tfdv.generate_statistics_from_dataframe(frame, stats_options=opts)

    return make


@pytest.fixture(scope="session")
def summary_of(stats_of):
    from components.drift.summaries import summarize

    def make(frame: pd.DataFrame, **kw):
        return summarize(stats_of(frame, **kw).datasets, list(frame.columns))

    return make
