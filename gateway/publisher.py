"""One socket's publishes into the mesh, each with its session id, a message id and its trace context.

Each unit the socket sends (a frame, an utterance, typed text, a greeting) starts its own trace, unless
the caller passes the span it came from (the typed text's `receive` span): one turn is one trace, from
the gateway through every service and back, rather than one trace for a whole session. Each publish is
a producer span; its context is the `traceparent` the message carries.

Media is perishable: when NATS is away and the client's outbound buffer is full it is dropped and
counted, never retried (a frame a second late is worthless). What must arrive (a greeting turn, the
session's end) goes to JetStream with the runtime's retrying `publish_durable`, under a message id that
makes a retry after a lost ack a duplicate the stream drops.
"""

from __future__ import annotations

import msgspec
from nats.aio.client import Client as NATS
from nats.errors import ConnectionClosedError, OutboundBufferLimitError
from nats.js import JetStreamContext

from gateway.metrics import GatewayMetrics
from mrrrme import subjects
from mrrrme.contracts import encode, new_id
from mrrrme.runtime import publish_durable
from mrrrme.runtime.tracing import TraceContext, make_headers, span


class SessionPublisher:
    def __init__(self, nc: NATS, js: JetStreamContext, metrics: GatewayMetrics, session_id: str) -> None:
        self._nc = nc
        self._js = js
        self._metrics = metrics
        self._session_id = session_id

    async def publish(self, subject: str, message: msgspec.Struct, parent: TraceContext | None = None) -> None:
        kind = subjects.kind(subject)
        with span("gateway", f"publish {kind}", parent, "producer", {"mrrrme.kind": kind}) as stage:
            headers = make_headers(self._session_id, new_id(), stage.trace)
            await self._nc.publish(subject, encode(message), headers=headers)

    async def request(self, subject: str, message: msgspec.Struct, timeout: float) -> bytes:
        """Request-reply into the mesh (asr's early utterances): the reply's body."""
        kind = subjects.kind(subject)
        with span("gateway", f"request {kind}", None, "client", {"mrrrme.kind": kind}) as stage:
            headers = make_headers(self._session_id, new_id(), stage.trace)
            reply = await self._nc.request(subject, encode(message), timeout=timeout, headers=headers)
            return reply.data

    async def publish_media(self, subject: str, message: msgspec.Struct) -> None:
        """Perishable media: if NATS is away and the client buffer is full, drop it and count it."""
        try:
            await self.publish(subject, message)
        except (OutboundBufferLimitError, ConnectionClosedError):
            self._metrics.dropped.labels("nats_unavailable").inc()

    async def publish_durable(
        self, subject: str, message: msgspec.Struct, msg_id: str, parent: TraceContext | None = None
    ) -> None:
        """To JetStream, retried with the same message id until the stream acks it (or the retries end)."""
        kind = subjects.kind(subject)
        with span("gateway", f"publish {kind}", parent, "producer", {"mrrrme.kind": kind}) as stage:
            headers = make_headers(self._session_id, msg_id, stage.trace)
            await publish_durable(self._js, subject, encode(message), headers)
