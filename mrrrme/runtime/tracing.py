"""Message metadata in NATS headers: message id, session id and W3C trace context.

A unit keeps its trace id across every hop (frame -> face emotion -> fusion -> ...), each hop gets a
new span id, so one user turn can be followed through the logs of every service.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

MSG_ID = "Nats-Msg-Id"
"""NATS' own header: JetStream de-duplicates on it within the stream's duplicate window."""
SESSION = "Mrrrme-Session"
TRACEPARENT = "traceparent"

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True, slots=True)
class TraceContext:
    trace_id: str
    span_id: str

    @classmethod
    def new(cls) -> TraceContext:
        return cls(secrets.token_hex(16), secrets.token_hex(8))

    @classmethod
    def parse(cls, header: str | None) -> TraceContext | None:
        match = _TRACEPARENT.match(header or "")
        if not match or match.group(1) == "0" * 32:
            return None
        return cls(match.group(1), match.group(2))

    def child(self) -> TraceContext:
        return TraceContext(self.trace_id, secrets.token_hex(8))

    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-01"


def make_headers(session_id: str, msg_id: str, trace: TraceContext) -> dict[str, str]:
    return {MSG_ID: msg_id, SESSION: session_id, TRACEPARENT: trace.header()}
