"""The local run's progress lines: one per component that runs; the nodes of
the branch not taken are listed once as not run, never with "..." as if they ran.
The log lines are LocalDagRunner's and TFX's launcher's own messages."""

import logging

from pipelines.local_runner import _ComponentProgress


def _feed(handler, *messages):
    for m in messages:
        handler.emit(logging.LogRecord("absl", logging.INFO, __file__, 1, m, None, None))


def test_a_skipped_node_gets_no_running_line_and_is_listed_as_skipped():
    lines = []
    handler = _ComponentProgress(lines.append)
    _feed(
        handler,
        "Component span_gate is running.",
        "Going to run a new execution 7",
        "Component span_gate is finished.",
        "Component trainer is running.",
        "Skipping execution for trainer",
        "Component trainer is finished.",
        "Component run_recorder is running.",
        "Going to run a new execution 8",
        "Component run_recorder is finished.",
    )
    assert [line.split("] ")[1] for line in lines] == ["span_gate ...", "run_recorder ..."]
    assert handler.skipped == ["trainer"]
    assert set(handler.seconds) == {"span_gate", "run_recorder"}
