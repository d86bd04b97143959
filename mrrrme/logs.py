"""Logging set-up shared by every process. Never log payloads: no frames, audio or user text."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        force=True,
    )
    # nats-py logs every reconnect attempt at ERROR with a traceback; our callbacks say it in one line.
    logging.getLogger("nats.aio.client").setLevel(logging.CRITICAL)
