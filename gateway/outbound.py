"""What one socket sends: a bounded queue and its send loop, notices of refusals, the close.

Bounded by count and by bytes (TARGETS W8): a client that stops reading costs at most
`outbound_queue` events / `outbound_queue_bytes` here plus the transport's own buffer. An event that may
be lost (an emotion update) is dropped when the queue is full; one that may not (`CRITICAL`) closes the
socket with 1013 instead: better a clear close than silently losing a reply, and closing also stops the
mesh working for a reader that is not there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from gateway import server_events
from gateway.metrics import GatewayMetrics
from gateway.protocol import CLOSE_TRY_LATER
from gateway.ratelimit import TokenBucket
from gateway.server_events import Error, Event, Interrupt, LlmResponse, Transcript
from gateway.settings import GatewaySettings
from gateway.tasks import stop

CRITICAL = (LlmResponse, Error, Interrupt, Transcript)
"""Never dropped for a slow client: if one cannot be queued the socket is closed (1013) instead."""
CLOSE_FLUSH_S = 1.0
"""How long a closing socket may spend sending the notices that explain the close."""


class Outbound:
    def __init__(
        self,
        ws: WebSocket,
        settings: GatewaySettings,
        metrics: GatewayMetrics,
        close_soon: Callable[[int, str], None],
        name: str,
    ) -> None:
        self._ws = ws
        self._settings = settings
        self._metrics = metrics
        self._close_soon = close_soon
        self._name = name
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._bytes = 0
        self._sender: asyncio.Task[None] | None = None
        self._sealed = False
        self._notices = TokenBucket(5.0, 20.0)
        """Error notices: every honest mistake is answered, a flood of them is not answered by a flood."""
        self._refused_unanswered = 0
        """Refused messages whose notice the notice limit swallowed since the last notice went out."""
        self._last_refusal: tuple[str, str] | None = None
        self._refusal_timer: asyncio.TimerHandle | None = None

    # --- the queue ------------------------------------------------------------------------------

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send_loop(), name=f"ws-send-{self._name}")

    async def _send_loop(self) -> None:
        while True:
            text = await self._queue.get()
            self._bytes -= len(text)
            await self._ws.send_text(text)

    def seal(self) -> None:
        """The socket is closing: nothing more goes out after the reason for the close."""
        self._sealed = True

    def send(self, event: Event) -> None:
        if self._sealed:
            return
        kind, text = server_events.kind(event), server_events.encode(event)
        full = self._queue.qsize() >= self._settings.outbound_queue
        if full or self._bytes + len(text) > self._settings.outbound_queue_bytes:
            self._metrics.dropped.labels("slow_client").inc()
            if isinstance(event, CRITICAL):
                self._close_soon(CLOSE_TRY_LATER, "client too slow: outbound queue full")
            return
        self._queue.put_nowait(text)
        self._bytes += len(text)
        self._metrics.events.labels(kind).inc()

    @property
    def sender(self) -> asyncio.Task[None] | None:
        """The send loop's task, for the socket's clean-up to stop with the others."""
        return self._sender

    async def close(self, code: int, reason: str) -> None:
        """Send what explains the close, then the close frame; never waits long on a client that is gone."""
        ws = self._ws
        if ws.application_state != WebSocketState.CONNECTED:
            return  # closed already (by another task, or the client left)
        self._metrics.closes.labels(str(code)).inc()
        # The sender may be blocked on a client that stopped reading: stop it, flush here with a deadline.
        await stop(self._sender)
        with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
            async with asyncio.timeout(CLOSE_FLUSH_S):
                while not self._queue.empty() and ws.application_state == WebSocketState.CONNECTED:
                    await ws.send_text(self._queue.get_nowait())
        if ws.application_state == WebSocketState.CONNECTED:
            # The server's WebSocket protocol (gateway/server.py) writes a close frame without waiting for a
            # reader that is not there, and drops the connection if the close is not answered in time.
            with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
                await asyncio.wait_for(ws.close(code, reason), CLOSE_FLUSH_S)

    # --- notices --------------------------------------------------------------------------------

    def notice_now(self, code: str, message: str) -> None:
        """An error notice that always goes out; it carries the count of refusals the limit swallowed."""
        unanswered, self._refused_unanswered = self._refused_unanswered, 0
        self.send(Error(code=code, message=message, source="gateway", refused_since=unanswered))

    def notice(self, code: str, message: str) -> None:
        """An error notice about a refused message, itself rate-limited: a flood of refusals is not
        answered by a flood, but each one is counted, and the next notice says how many there were
        (`refused_since`). If no next one comes, a timer sends it when the limit allows."""
        if self._notices.allow():
            self.notice_now(code, message)
            return
        self._refused_unanswered += 1
        self._last_refusal = (code, message)
        if self._refusal_timer is None:
            delay = self._notices.wait_s()
            self._refusal_timer = asyncio.get_running_loop().call_later(delay, self._answer_refusals)

    def _answer_refusals(self) -> None:
        self._refusal_timer = None
        if self._refused_unanswered == 0 or self._last_refusal is None:
            return
        if not self._notices.allow():
            delay = self._notices.wait_s()
            self._refusal_timer = asyncio.get_running_loop().call_later(delay, self._answer_refusals)
            return
        # The notice for the last refused message, counting the others since the previous notice.
        self._refused_unanswered -= 1
        self.notice_now(*self._last_refusal)

    def drop_pending_notice(self) -> None:
        """The socket is gone: a notice waiting for the limit has nobody to go to."""
        if self._refusal_timer is not None:
            self._refusal_timer.cancel()
            self._refusal_timer = None
