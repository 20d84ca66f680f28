"""The one consume loop of ``driftgate land`` and ``driftgate stream`` (a
runner around a task, as river's detectors are fed by whichever loop holds
them): consume a batch, hand it to the task, tick the task with the
partitions that have records waiting on the broker (a silent partition with
records waiting is not idle: ``Watermark.silent``), read the consumer lag for
the metrics, and stop on a signal, after ``max_seconds``, or once quiet for
``exit_when_idle_s`` with nothing waiting on the broker and nothing the task
still holds (``task.busy()``).

A task has ``handle_batch(msgs, now)``, ``tick(now, behind)``, ``busy()``,
``consumed`` and ``next`` (offsets per partition), ``watermark`` and ``lag``.
"""

from __future__ import annotations

import threading
import time
from typing import Iterable, Optional

from streaming import kafka


def run(
    consumer,
    topic: str,
    task,
    partitions: Iterable[int],
    *,
    stop: threading.Event,
    batch: int,
    poll_s: float,
    exit_when_idle_s: Optional[float] = None,
    max_seconds: Optional[float] = None,
    lag_every_s: Optional[float] = None,
) -> None:
    partitions = list(partitions)
    began = last = lag_at = time.time()
    while not stop.is_set():
        msgs = consumer.consume(batch, timeout=poll_s)
        now = time.time()
        good = [m for m in msgs if m.error() is None]
        if good:
            task.handle_batch(good, now)
            last = now
        task.tick(now, kafka.behind(consumer, topic, task.consumed, task.watermark.silent(now)))
        if lag_every_s is not None and now - lag_at >= lag_every_s:
            task.lag = kafka.consumer_lag(consumer, topic, task.next, partitions)
            lag_at = now
        if max_seconds is not None and now - began >= max_seconds:
            return
        if exit_when_idle_s is not None and now - last >= exit_when_idle_s and not task.busy():
            if not kafka.behind(consumer, topic, task.consumed, partitions):
                return  # quiet, nothing waiting, and tick() did what the watermark allowed
            last = now  # records are waiting (a slow or moving leader): not idle
