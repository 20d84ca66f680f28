"""``Evaluator``: the stock component with driftgate's executor."""

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components.evaluator.executor import Executor, FastExecutor


class Evaluator(tfx.components.Evaluator):
    """TFX Evaluator whose baseline may be an empty ``ServingBaseline`` output."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)


class FastEvaluator(Evaluator):
    """The Evaluator scoring in process (``components.evaluator.fast``)."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(FastExecutor)
