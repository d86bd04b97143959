"""Logging set-up shared by every process. Never log payloads: no frames, audio or user text."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

TRACE_ID: ContextVar[str] = ContextVar("mrrrme_trace_id", default="-")
"""The trace id of the unit being handled in this task: every log line carries it, so one turn can be
followed through the logs of every service (`grep <trace id>`)."""
SPAN_ID: ContextVar[str] = ContextVar("mrrrme_span_id", default="-")
"""The span of that unit's stage (mrrrme.runtime.tracing.span): the log line's place in the trace."""

LogFormat = Literal["text", "json"]


@contextmanager
def traced(trace_id: str) -> Iterator[None]:
    """Log lines written inside carry `trace_id`."""
    token = TRACE_ID.set(trace_id)
    try:
        yield
    finally:
        TRACE_ID.reset(token)


class _TraceFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = TRACE_ID.get()
        record.span_id = SPAN_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors (Loki, Elasticsearch, Cloud Logging): the same fields
    as the text format, the trace and span ids as their own keys (the OpenTelemetry log field names)."""

    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": getattr(record, "trace_id", TRACE_ID.get()),
            "span_id": getattr(record, "span_id", SPAN_ID.get()),
        }
        if self.service:
            entry["service"] = self.service
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


PAYLOAD_LOGGERS = {
    "aiosqlite": logging.INFO,  # DEBUG: every statement with its parameters (messages, summaries)
    "sqlalchemy.engine": logging.WARNING,  # INFO: statements and parameters
    "websockets": logging.INFO,  # DEBUG: every frame (tokens, typed text, transcripts)
    "piper": logging.INFO,  # DEBUG: the text being spoken
    "groq": logging.INFO,  # DEBUG: request bodies (the prompt, the person's words)
    "openai": logging.INFO,
    "httpcore": logging.INFO,  # DEBUG: request and response traces
}
"""Libraries that put payloads in their debug lines, and the lowest level each may log at (TARGETS.md P2)."""


def quiet_payload_loggers() -> None:
    """Keep the payload loggers at or above their floor, whatever the global level (MRRRME_LOG_LEVEL=DEBUG
    debugs our code without writing people's words, tokens or SQL parameters into a log)."""
    for name, floor in PAYLOAD_LOGGERS.items():
        logger = logging.getLogger(name)
        logger.setLevel(max(floor, logger.getEffectiveLevel()))


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(trace_id)s]: %(message)s"


def configure_logging(level: str = "INFO", log_format: LogFormat = "text", service: str = "") -> None:
    """Every line on stderr carries the trace id of the unit it was written for (`-` outside any unit);
    `json`: one JSON object a line (MRRRME_LOG_FORMAT=json)."""
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format=TEXT_FORMAT, force=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_TraceFilter())
        if log_format == "json":
            handler.setFormatter(JsonFormatter(service))
    # A server configured before (uvicorn's own default config, in a process that ran one) gave its loggers
    # handlers of their own that would bypass this format: every line goes through the root's.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    quiet_payload_loggers()
    # nats-py logs every reconnect attempt at ERROR with a traceback; our callbacks say it in one line.
    logging.getLogger("nats.aio.client").setLevel(logging.CRITICAL)
