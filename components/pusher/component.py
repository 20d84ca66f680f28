"""``Pusher``: the stock component with driftgate's executor."""

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components.pusher.executor import Executor


class Pusher(tfx.components.Pusher):
    """TFX Pusher writing consecutive integer versions atomically."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
