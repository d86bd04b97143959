"""Logging set-up shared by every process. Never log payloads: no frames, audio or user text."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

TRACE_ID: ContextVar[str] = ContextVar("mrrrme_trace_id", default="-")
"""The trace id of the unit being handled in this task: every log line carries it, so one turn can be
followed through the logs of every service (`grep <trace id>`)."""


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
        return True


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


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s [%(trace_id)s]: %(message)s",
        force=True,
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_TraceFilter())
    quiet_payload_loggers()
    # nats-py logs every reconnect attempt at ERROR with a traceback; our callbacks say it in one line.
    logging.getLogger("nats.aio.client").setLevel(logging.CRITICAL)
