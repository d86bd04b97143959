"""Serve the gateway with the HTTP and WebSocket limits of DESIGN.md section 7 and TARGETS.md W6-W10.

uvicorn's own protocols are subclassed, not patched, for three things they do not do:
- HTTP (`HardenedH11Protocol`): a request line over 8 KiB, more than 128 headers, one header over
  8 KiB or a head over 64 KiB is answered 431 on every path, before the app runs (h11 alone parses
  anything that arrives in one read, and answers 400 to what it refuses); a connection must send a
  whole request head within `request_head_timeout_s` (uvicorn starts no timer until a first response,
  so 200 half-open connections would sit there for ever).
- WebSocket (`HardenedWebSocketProtocol`): a text frame that is not UTF-8 closes with 1007 and one
  debug line (uvicorn logs a traceback at ERROR for each); a close to a client that stopped reading is
  written at once and the connection dropped if the close is not answered in time (uvicorn waits for
  buffer room that never comes, so the slow reader was never closed).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from gateway.app import create_app
from gateway.protocol import CLOSE_NOT_UTF8
from gateway.settings import GatewaySettings
from mrrrme.logs import configure_logging
from mrrrme.runtime.process import single_threaded_blas
from mrrrme.runtime.tracing import configure_tracing, shutdown_tracing

log = logging.getLogger("gateway.server")

CLIENT_NOISE = frozenset({"Invalid HTTP request received.", "Invalid UTF-8 sequence received from client."})
"""uvicorn's lines about a client's bad bytes: the client got its answer (400/431, close 1007)."""


class ClientNoiseFilter(logging.Filter):
    """Keeps uvicorn's per-request complaints about client input at debug level (TARGETS W9: a hostile
    client must not be able to write the server's log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in CLIENT_NOISE and record.levelno > logging.DEBUG:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


@dataclass(frozen=True)
class HttpLimits:
    max_request_line: int
    max_header_bytes: int
    max_headers: int
    max_head_bytes: int
    head_timeout_s: float

    @classmethod
    def of(cls, settings: GatewaySettings) -> HttpLimits:
        return cls(
            max_request_line=settings.max_request_line_bytes,
            max_header_bytes=settings.max_header_bytes,
            max_headers=settings.max_header_count,
            max_head_bytes=settings.max_request_head_bytes,
            head_timeout_s=settings.request_head_timeout_s,
        )

    def problem(self, request: h11.Request) -> str | None:
        """Why this request head is refused with 431, or None."""
        line = len(request.method) + len(request.target) + 10  # "GET <target> HTTP/1.1"
        if line > self.max_request_line:
            return f"request line over {self.max_request_line} bytes"
        if len(request.headers) > self.max_headers:
            return f"more than {self.max_headers} headers"
        total = line
        for name, value in request.headers:
            size = len(name) + len(value) + 4  # "name: value\r\n"
            if size > self.max_header_bytes:
                return f"a header over {self.max_header_bytes} bytes"
            total += size
        if total > self.max_head_bytes:
            # h11 enforces this only on a head still incomplete; one that arrived in one read is counted here.
            return f"request head over {self.max_head_bytes} bytes"
        return None


class _LimitedConnection(h11.Connection):
    """h11 with the head limits: a refusal is raised like h11's own, with 431 as its status hint."""

    def __init__(self, limits: HttpLimits) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=limits.max_head_bytes)
        self.limits = limits
        self.refusal: str | None = None

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint == 431:
                self.refusal = f"request head over {self.limits.max_head_bytes} bytes"
            raise
        if isinstance(event, h11.Request) and (problem := self.limits.problem(event)) is not None:
            self.refusal = problem
            raise h11.RemoteProtocolError(problem, 431)
        return event


class HardenedH11Protocol(H11Protocol):
    limits: HttpLimits  # set on the subclass `http_protocol` makes

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = _LimitedConnection(self.limits)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_head()

    def send_400_response(self, msg: str) -> None:
        refusal = getattr(self.conn, "refusal", None)
        if refusal is None:
            super().send_400_response(msg)
            return
        body = f"Request header fields too large: {refusal}.\n".encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
        for event in (
            h11.Response(status_code=431, headers=headers, reason=b"Request Header Fields Too Large"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()

    def _watch_head(self) -> None:
        """While the connection waits for a request head, the head must be complete within the limit."""
        waiting = (
            self.conn.their_state is h11.IDLE
            and not self.transport.is_closing()
            and self.transport.get_protocol() is self  # not upgraded to a WebSocket
        )
        if not waiting:
            self._cancel_head_timer()
        elif self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.head_timeout_s, self._head_late)

    def _head_late(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.debug("closing a connection that sent no complete request head in %.0f s", self.limits.head_timeout_s)
            self.transport.close()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None


def http_protocol(limits: HttpLimits) -> type[HardenedH11Protocol]:
    return type("GatewayH11Protocol", (HardenedH11Protocol,), {"limits": limits})


class HardenedWebSocketProtocol(WebSocketsSansIOProtocol):
    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type != "text" or self.close_sent:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        try:
            text = data.decode()
        except UnicodeDecodeError:
            # The peer broke the protocol (RFC 6455 section 8.1): 1007 tells it so; nothing to log but a line.
            log.debug("a text frame that is not UTF-8: closing with 1007")
            self.conn.send_close(CLOSE_NOT_UTF8, "text frames must be UTF-8")
            self.handle_parser_exception()
            return
        self.queue.put_nowait({"type": "websocket.receive", "text": text})
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    async def send(self, message: Any) -> None:
        closing = message["type"] == "websocket.close" and self.handshake_complete and not self.close_sent
        if closing and not self.writable.is_set():
            # The peer stopped reading and the buffer is full: waiting for room would wait for ever. The
            # close frame goes behind what is buffered, and the timer below drops the connection.
            self.writable.set()
        await super().send(message)
        if closing and self.close_timer is not None:
            # transport.close() waits for the buffer to drain, which a peer that does not read never lets
            # happen: an unanswered close drops the connection instead.
            self.close_timer.cancel()
            self.close_timer = self.loop.call_later(self.close_timeout, self.transport.abort)


def server_config(settings: GatewaySettings) -> uvicorn.Config:
    """The uvicorn configuration, shared by `python -m gateway` and the tests."""
    noise = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, ClientNoiseFilter) for f in noise.filters):
        noise.addFilter(ClientNoiseFilter())
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        http=http_protocol(HttpLimits.of(settings)),
        ws=HardenedWebSocketProtocol,
        ws_max_size=settings.max_ws_message_bytes,  # larger messages: close 1009 at the protocol level
        ws_per_message_deflate=False,  # compression off: no zip bombs, no CRIME-style leaks
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        h11_max_incomplete_event_size=settings.max_request_head_bytes,
        timeout_keep_alive=settings.keep_alive_timeout_s,
        limit_concurrency=settings.max_connections,
        # X-Forwarded-Proto/-For are believed only from these (none by default): the scheme decides the
        # login cookie's Secure flag and the address the per-address limits.
        proxy_headers=True,
        forwarded_allow_ips=list(settings.trusted_proxies),
        server_header=False,
        # uvicorn's own logging config would give its loggers handlers of their own, bypassing ours: their
        # lines would lack the trace id field and ignore MRRRME_LOG_FORMAT=json.
        log_config=None,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=5,
    )


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.log_level, settings.log_format, service="gateway")
    configure_tracing("gateway", settings.otlp_endpoint)
    single_threaded_blas()  # Smart Turn's features: see mrrrme/runtime/process.py
    try:
        uvicorn.Server(server_config(settings)).run()
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
