"""Logging set-up shared by every process. Never log payloads: no frames, audio or user text."""

from __future__ import annotations

import logging
import sys

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
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        force=True,
    )
    quiet_payload_loggers()
    # nats-py logs every reconnect attempt at ERROR with a traceback; our callbacks say it in one line.
    logging.getLogger("nats.aio.client").setLevel(logging.CRITICAL)
