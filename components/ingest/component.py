"""``SpanExampleGen``: CsvExampleGen's interface and output, with the span
resolved by the executor when the task runs (see ``executor.py`` for why).

It is deliberately *not* a ``FileBasedExampleGen`` subclass: the Kubeflow V2
compiler would attach TFX's span-resolving driver as a ``preCacheCheck``
lifecycle hook, which the open-source KFP backend never runs. With the base
driver, what the compiled spec says is exactly what runs, on every runner.
"""

from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter

from components.ingest.executor import (
    EXECUTOR_KEY,
    FAST,
    FORMAT_KEY,
    LAYOUT_KEY,
    SPAN_KEY,
    Executor,
)
from driftgate.core.vocabulary import SPAN_NEXT


class SpanExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
    """FileBasedExampleGen's spec plus the region's layout (its state folder:
    processed spans; its lease) and the ``span`` run parameter ("next" or a number; a RuntimeParameter on Kubeflow)."""

    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        LAYOUT_KEY: ExecutionParameter(type=str),
        SPAN_KEY: ExecutionParameter(type=str, optional=True),
        FORMAT_KEY: ExecutionParameter(type=str, optional=True),
        EXECUTOR_KEY: ExecutionParameter(type=str, optional=True),
    }


class SpanExampleGen(base_component.BaseComponent):
    """Ingests one span of CSV, Parquet or TFRecord files into train/eval tf.Examples."""

    SPEC_CLASS = SpanExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(
        self,
        *,
        input_base: str,
        layout: str,
        input_config: example_gen_pb2.Input,
        output_config: example_gen_pb2.Output,
        range_config: Optional[range_config_pb2.RangeConfig] = None,
        span=SPAN_NEXT,
        data_format: str = "csv",
        executor: str = FAST,
    ):
        """``span`` ("next", a span number as text, or a RuntimeParameter that
        gives one when the run starts) or ``range_config`` (a static range of
        one span, TFX's way) pins the span; "next" takes the span
        ``components.ingest.spans.choose_span`` picks. ``data_format``: csv,
        parquet or tfrecord; ``executor``: fast (in process) or stock (TFX's
        Beam executor)."""
        spec = SpanExampleGenSpec(
            input_base=input_base,
            input_config=input_config,
            output_config=output_config,
            range_config=range_config,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            layout=layout,
            span=span,
            data_format=data_format,
            executor=executor,
            examples=types.Channel(type=standard_artifacts.Examples),
        )
        super().__init__(spec=spec)
