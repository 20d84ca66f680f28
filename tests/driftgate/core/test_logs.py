"""Structured logs: one JSON object per line with the run's context, stable
event names, and no secret ever written (driftgate.core.logs)."""

import io
import json
import logging
import os
import subprocess
import sys

import pytest

from driftgate.core import logs


@pytest.fixture
def json_log():
    stream = io.StringIO()
    h = logs.handler("json", stream)
    log = logging.getLogger("driftgate.test")
    log.addHandler(h)
    log.setLevel(logging.INFO)
    log.propagate = False
    yield stream, log
    log.removeHandler(h)


def _lines(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_carries_time_level_logger_message_and_the_bound_context(json_log):
    stream, log = json_log
    with logs.context(region="EWR", span=5, run_id="r-1", node="run_recorder"):
        log.info("hello %s", "world")
    log.warning("outside")
    first, second = _lines(stream)
    assert (
        first["message"] == "hello world" and first["level"] == "INFO" and first["logger"] == "driftgate.test"
    )
    assert (first["region"], first["span"], first["run_id"], first["node"]) == (
        "EWR",
        5,
        "r-1",
        "run_recorder",
    )
    assert first["ts"].endswith("Z") and "T" in first["ts"]
    assert "region" not in second and second["level"] == "WARNING"


def test_events_have_stable_names_and_unknown_ones_are_refused(json_log):
    stream, _ = json_log
    events, handler = logging.getLogger(logs.LOGGER), logging.getLogger("driftgate.test").handlers[0]
    level, events.level = events.level, logging.INFO
    events.addHandler(handler)
    try:
        with logs.context(region="JFK", span=3):
            logs.event("span_decision", "JFK span 3: retrain", decision="retrain")
    finally:
        events.removeHandler(handler)
        events.setLevel(level)
    (line,) = _lines(stream)
    assert line["event"] == "span_decision" and line["decision"] == "retrain" and line["region"] == "JFK"
    with pytest.raises(ValueError, match="unknown log event"):
        logs.event("decided", "x")


def test_secret_values_and_webhook_urls_never_reach_a_line(tmp_path, monkeypatch):
    key = tmp_path / "routing-key"
    key.write_text("pd-routing-key-from-a-file\n")
    monkeypatch.setenv("DRIFTGATE_PROMETHEUS_TOKEN", "prom-token-in-env")
    monkeypatch.setenv("DRIFTGATE_PAGERDUTY_ROUTING_KEY_FILE", str(key))
    stream = io.StringIO()
    log = logging.getLogger("driftgate.secret-test")
    log.addHandler(logs.handler("json", stream))
    log.propagate = False
    log.error(
        "posting to https://hooks.slack.com/services/T1/B2/abc failed; token prom-token-in-env; "
        "key pd-routing-key-from-a-file; sasl.password=hunter2",
        extra={"dg_fields": {"url": "https://hooks.slack.com/services/T1/B2/abc"}},
    )
    text = stream.getvalue()
    for secret in ("hooks.slack.com/services", "prom-token-in-env", "pd-routing-key-from-a-file", "hunter2"):
        assert secret not in text
    assert json.loads(text)["message"].count("[redacted]") == 4


def test_text_is_the_default_and_a_bad_format_names_the_fix(monkeypatch):
    monkeypatch.delenv(logs.ENV, raising=False)
    assert logs.chosen() == "text"
    monkeypatch.setenv(logs.ENV, "yaml")
    with pytest.raises(ValueError, match="--log-format or \\$DRIFTGATE_LOG_FORMAT"):
        logs.chosen()


def test_native_stderr_lines_are_wrapped_into_json():
    redact = logs.Redact({})
    tf = "2026-12-07 16:21:56.626533: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:479] Unable"
    wrapped = json.loads(logs.wrap_native(tf, redact))
    assert wrapped["level"] == "ERROR" and wrapped["logger"] == "native" and wrapped["message"] == tf
    already = json.dumps({"ts": "t", "level": "INFO", "logger": "x", "message": "m"})
    assert logs.wrap_native(already, redact) == already


def test_a_process_writing_natively_to_stderr_still_logs_json_only():
    """A child process's raw writes to file descriptor 2 (as TensorFlow's C++
    runtime does) come out as JSON lines once the entry point captured stderr."""
    code = (
        "import os, logging\n"
        "from driftgate.core import logs\n"
        "logs.capture_native_stderr(); logs.configure('json')\n"
        "os.write(2, b'2026-01-01 00:00:00.000001: W native warning\\nplain line\\n')\n"
        "logging.getLogger('driftgate').info('from python')\n"
        "print('a print to stderr', file=__import__('sys').stderr)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    lines = [json.loads(line) for line in out.stderr.splitlines()]
    messages = {line["message"]: line for line in lines}
    assert messages["2026-01-01 00:00:00.000001: W native warning"]["level"] == "WARNING"
    assert {"plain line", "from python", "a print to stderr"} <= set(messages)
