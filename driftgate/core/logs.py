"""Logs for people and for log stores.

Text for a person at a terminal (the default); with ``--log-format json`` or
``DRIFTGATE_LOG_FORMAT=json`` (for pods), one JSON object per line on stderr::

    {"ts": "2026-03-03T08:00:01.123Z", "level": "INFO", "logger": "driftgate",
     "message": "EWR span 5: retrain", "event": "span_decision",
     "region": "EWR", "span": 5, "run_id": "...", "node": "run_recorder", "decision": "retrain"}

The run's context (region, span, run id, node) is bound once where it is known
(:func:`context`, :func:`bind`) and added to every line logged inside it.
Every decision, release change, canary verdict, alert and failure is one
:func:`event` with a stable ``event`` name (:data:`EVENTS`). Secrets never
appear: every line passes :class:`Redact`, which replaces the values of the
secret variables (and the files they name) and webhook-like URLs.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import os
import re
import sys
from typing import Dict, Iterator, Optional

ENV = "DRIFTGATE_LOG_FORMAT"
FORMATS = ("text", "json")
LOGGER = "driftgate"
EVENTS = (
    "span_decision",  # a run decided retrain / skip / block (the run recorder)
    "run_failed",  # a run ended in a failed task (the exit handler)
    "release_changed",  # stable / canary / promote / rollback / rejected / superseded
    "canary_verdict",  # the canary judge's verdict
    "alert_sent",  # an alert reached its channel
    "alert_failed",  # an alert could not be sent
    "schema_released",  # a schema version released (driftgate schema release)
    "schema_changed",  # a region's first run under a newly pinned schema version
)
# secret variables (each also as <NAME>_FILE): their values never reach a log line
SECRET_ENV = (
    "DRIFTGATE_SLACK_WEBHOOK_URL",
    "DRIFTGATE_PAGERDUTY_ROUTING_KEY",
    "DRIFTGATE_PROMETHEUS_TOKEN",
    "DRIFTGATE_KAFKA_PASSWORD",
)
_URL_SECRETS = re.compile(
    r"https://hooks\.slack\.com/[^\s\"']+|(?i:(password|sasl\.password|token)=)[^\s,\"']+"
)
_context: contextvars.ContextVar[Optional[Dict[str, object]]] = contextvars.ContextVar(
    "driftgate_log_context", default=None
)


@contextlib.contextmanager
def context(**fields) -> Iterator[None]:
    """Adds ``fields`` (None values left out) to every line logged inside."""
    token = _context.set({**current(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields) -> None:
    """Adds ``fields`` to every later line of this context (a task's whole life)."""
    _context.set({**current(), **{k: v for k, v in fields.items() if v is not None}})


def current() -> Dict[str, object]:
    """The bound context (region, span, run_id, node where known)."""
    return dict(_context.get() or {})


def event(name: str, message: str, level: int = logging.INFO, **fields) -> None:
    """One event line: ``event`` = ``name`` (one of :data:`EVENTS`), ``fields`` beside the context."""
    if name not in EVENTS:
        raise ValueError(f"unknown log event {name!r}; known: {', '.join(EVENTS)}")
    logging.getLogger(LOGGER).log(level, message, extra={"dg_event": name, "dg_fields": fields})


def _secret_values(env=os.environ) -> list:
    values = []
    for name in SECRET_ENV:
        if env.get(name):
            values.append(env[name].strip())
        path = env.get(f"{name}_FILE")
        if path and os.path.isfile(path):
            try:
                with open(path) as fh:
                    values.append(fh.read().strip())
            except OSError:
                pass
    return [v for v in values if len(v) >= 4]


class Redact(logging.Filter):
    """Replaces secret values and webhook-like URLs in a record's message and fields."""

    def __init__(self, env=os.environ):
        super().__init__()
        self.secrets = _secret_values(env)

    def clean(self, text: str) -> str:
        for value in self.secrets:
            text = text.replace(value, "[redacted]")
        return _URL_SECRETS.sub(lambda m: (m.group(1) or "") + "[redacted]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.clean(record.getMessage()), ()
        fields = getattr(record, "dg_fields", None)
        if fields:
            record.dg_fields = json.loads(self.clean(json.dumps(fields, default=str)))
        if record.exc_info:
            record.exc_text = self.clean(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(
                timespec="milliseconds"
            )[:-6]
            + "Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "dg_event", None):
            line["event"] = record.dg_event
        line.update(getattr(record, "dg_context", None) or {})
        line.update(getattr(record, "dg_fields", None) or {})
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``LEVEL logger: message`` with the event and context after it, for a person."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.levelname} {record.name}: {record.getMessage()}"
        extra = {**(getattr(record, "dg_context", None) or {}), **(getattr(record, "dg_fields", None) or {})}
        if getattr(record, "dg_event", None):
            extra = {"event": record.dg_event, **extra}
        if extra:
            text += " [" + " ".join(f"{k}={v}" for k, v in extra.items()) + "]"
        if record.exc_text:
            text += "\n" + record.exc_text
        return text


class _Context(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.dg_context = current()
        return True


_NATIVE = re.compile(r"^\d{4}-\d\d-\d\d[ T][\d:.]+: ([IWEF]) ")
_NATIVE_LEVELS = {"I": "INFO", "W": "WARNING", "E": "ERROR", "F": "CRITICAL"}


def wrap_native(line: str, redact: "Redact") -> str:
    """A raw stderr line (TensorFlow's C++ runtime, a library's print) as one
    JSON object; a line that already is one passes unchanged."""
    if line.startswith("{") and line.endswith("}"):
        return line
    m = _NATIVE.match(line)
    ts = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"
    level = _NATIVE_LEVELS[m.group(1)] if m else ("WARNING" if "Warning" in line else "INFO")
    return json.dumps(
        {"ts": ts, "level": level, "logger": "native", "message": redact.clean(line)}, ensure_ascii=False
    )


def capture_native_stderr() -> None:
    """Makes every line on this process's stderr (file descriptor 2, inherited
    by its children) one JSON object: lines from code that bypasses Python's
    logging, such as TensorFlow's C++ runtime, are wrapped by
    :func:`wrap_native`. For a process's entry point only (the CLI, a task)."""
    import atexit
    import threading

    out = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
    read_end, write_end = os.pipe()
    sys.stderr.flush()
    os.dup2(write_end, 2)
    os.close(write_end)
    redact = Redact()

    def pump() -> None:
        with os.fdopen(read_end, "rb") as fh:
            for raw in fh:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if line.strip():
                    out.write(wrap_native(line, redact) + "\n")
        out.flush()

    thread = threading.Thread(target=pump, name="driftgate-stderr", daemon=True)
    thread.start()

    def finish() -> None:
        sys.stderr.flush()
        os.dup2(out.fileno(), 2)  # the pipe's last writer (this process) closes: the pump ends
        thread.join(timeout=5)

    atexit.register(finish)


def is_json(env=os.environ) -> bool:
    """Whether ``DRIFTGATE_LOG_FORMAT`` asks for JSON lines (never raises)."""
    return (env.get(ENV) or "").strip().lower() == "json"


def chosen(fmt: Optional[str] = None) -> str:
    """The format asked for: ``fmt``, else ``DRIFTGATE_LOG_FORMAT``, else text."""
    fmt = (fmt or os.environ.get(ENV) or "text").lower()
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: use one of {', '.join(FORMATS)} (--log-format or ${ENV})")
    return fmt


def handler(fmt: Optional[str] = None, stream=None) -> logging.Handler:
    """A stderr handler in the chosen format, with the context and redaction."""
    h = logging.StreamHandler(stream or sys.stderr)
    h.setFormatter(JsonFormatter() if chosen(fmt) == "json" else TextFormatter())
    h.addFilter(_Context())
    h.addFilter(Redact())
    return h


def configure(fmt: Optional[str] = None, stream=None, level: int = logging.INFO) -> logging.Handler:
    """Sends driftgate's and the libraries' log records to one stderr handler.
    In JSON mode also Python warnings and absl (TFX) records, and silences
    TensorFlow's C++ log lines (they bypass Python logging and are not JSON)."""
    fmt = chosen(fmt)
    os.environ[ENV] = fmt  # child processes (Beam workers, subcommands) log alike
    h = handler(fmt, stream)
    root = logging.getLogger()
    for old in [x for x in root.handlers if getattr(x, "_driftgate", False)]:
        root.removeHandler(old)
    h._driftgate = True  # type: ignore[attr-defined]
    root.addHandler(h)
    logging.getLogger(LOGGER).setLevel(level)
    if fmt == "json":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        logging.captureWarnings(True)
        try:
            from absl import logging as absl_logging

            absl_logging.get_absl_handler().setLevel(logging.CRITICAL + 1)  # absl records reach ours instead
        except ImportError:
            pass
    return h
