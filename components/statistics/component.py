"""``StatisticsGen``: the stock component (inputs, outputs, options) with the
in-process executor (``executor.py``)."""

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components.statistics.executor import Executor


class StatisticsGen(tfx.components.StatisticsGen):
    """TFX StatisticsGen computing TFDV statistics in process."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
