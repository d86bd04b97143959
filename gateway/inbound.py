"""The inbound guard of one socket: every client message is read, bounded, parsed and let through or
refused here, in the order of the security model (DESIGN.md section 7).

Authentication within a deadline before any media is looked at, then per-type size and rate limits,
then content checks (those of the media pipeline included: they raise `ProtocolError` too). Every
refused message gets an `error` notice saying why; only abuse (oversized, flooding, unauthenticated
media) closes the socket, by raising `CloseSocket` out of `receive`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from starlette.websockets import WebSocket

from gateway import protocol
from gateway.media import decode_base64, decode_data_url
from gateway.metrics import GatewayMetrics
from gateway.outbound import Outbound
from gateway.protocol import CLOSE_AUTH, CLOSE_NORMAL, CLOSE_POLICY, CLOSE_TOO_BIG, ProtocolError
from gateway.ratelimit import TokenBucket
from gateway.server_events import Pong
from gateway.settings import GatewaySettings


class CloseSocket(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Handler(Protocol):
    """Where the guard hands what it lets through (gateway/session.py's ClientSession)."""

    @property
    def authenticated(self) -> bool: ...

    @property
    def closing(self) -> CloseSocket | None: ...

    async def authenticate(self, token: str) -> None: ...

    async def on_control(self, message: protocol.ClientMessage) -> None: ...


@dataclass
class Rates:
    video: TokenBucket
    audio: TokenBucket
    control: TokenBucket

    @classmethod
    def from_settings(cls, s: GatewaySettings) -> Rates:
        return cls(
            video=TokenBucket(s.video_fps_limit, s.video_fps_limit),
            audio=TokenBucket(s.audio_chunks_per_s_limit, s.audio_chunks_per_s_limit * s.audio_burst_s),
            control=TokenBucket(s.control_per_s_limit, s.control_per_s_limit * 2),
        )


class InboundGuard:
    def __init__(
        self,
        ws: WebSocket,
        settings: GatewaySettings,
        metrics: GatewayMetrics,
        outbound: Outbound,
        handler: Handler,
        on_frame: Callable[[bytes, int | None], Awaitable[None]],
        on_audio: Callable[[bytes], Awaitable[None]],
    ) -> None:
        self._ws = ws
        self._settings = settings
        self._metrics = metrics
        self._out = outbound
        self._handler = handler
        self._on_frame = on_frame
        self._on_audio = on_audio
        self._rates = Rates.from_settings(settings)

    async def receive(self) -> None:
        """Read messages until the client leaves; raises `CloseSocket` when the socket is to be closed."""
        opened = time.monotonic()
        while True:
            if not self._handler.authenticated:
                timeout = self._settings.auth_deadline_s - (time.monotonic() - opened)
                if timeout <= 0:
                    raise CloseSocket(CLOSE_AUTH, "authentication deadline passed")
            else:
                timeout = self._settings.idle_timeout_s
            try:
                message = await asyncio.wait_for(self._ws.receive(), timeout)
            except TimeoutError:
                if not self._handler.authenticated:
                    self._out.notice_now("auth_timeout", "no auth message within the deadline")
                    raise CloseSocket(CLOSE_AUTH, "authentication deadline passed") from None
                raise CloseSocket(CLOSE_NORMAL, "idle timeout") from None
            if message["type"] == "websocket.disconnect":
                return
            if (closing := self._handler.closing) is not None:
                raise closing
            if message.get("text") is not None:
                await self._on_text(message["text"])
            elif message.get("bytes") is not None:
                await self._on_binary(message["bytes"])

    def _refuse(self, kind: str, exc: ProtocolError) -> None:
        """Answer a refused message; abuse (an error with a close code) closes the socket."""
        self._metrics.messages.labels(kind, exc.code).inc()
        if exc.close_code is not None:
            self._out.notice_now(exc.code, exc.message)
            raise CloseSocket(exc.close_code, exc.message) from None
        self._out.notice(exc.code, exc.message)

    async def _on_text(self, text: str) -> None:
        limit = self._settings.max_frame_bytes * 4 // 3 + 1024  # a base64 frame in JSON
        if len(text) > limit:
            self._out.notice_now("too_big", f"message of {len(text)} bytes exceeds {limit}")
            raise CloseSocket(CLOSE_TOO_BIG, "message too big")
        try:
            message = protocol.parse_client_message(text)
        except ProtocolError as exc:
            if not self._handler.authenticated:
                self._out.notice_now(exc.code, exc.message)
                raise CloseSocket(CLOSE_AUTH, "authenticate first") from None
            self._refuse("invalid", exc)
            return
        kind = str(message.__struct_config__.tag)
        max_control = self._settings.max_control_bytes
        if not isinstance(message, protocol.VideoFrame | protocol.AudioChunk) and len(text) > max_control:
            self._out.notice_now("too_big", f"{kind} message exceeds {max_control} bytes")
            raise CloseSocket(CLOSE_TOO_BIG, "message too big")
        if not self._handler.authenticated:
            if isinstance(message, protocol.Auth):
                await self._handler.authenticate(message.token)
                return
            if isinstance(message, protocol.Ping):
                self._out.send(Pong())
                return
            self._out.notice_now("auth_required", f"send an auth message before {kind}")
            raise CloseSocket(CLOSE_AUTH, "authenticate first")
        try:
            await self._dispatch(message)
        except ProtocolError as exc:
            self._refuse(kind, exc)

    async def _on_binary(self, data: bytes) -> None:
        if not self._handler.authenticated:
            self._out.notice_now("auth_required", "send an auth message before media")
            raise CloseSocket(CLOSE_AUTH, "authenticate first")
        try:
            kind, seq, payload = protocol.unpack_binary(data)
            if kind == "video_frame":
                self._check_rate("video_frame", self._rates.video)
                await self._on_frame(payload, seq)
            else:
                self._check_rate("audio_chunk", self._rates.audio)
                await self._on_audio(payload)
        except ProtocolError as exc:
            self._refuse("binary", exc)

    async def _dispatch(self, message: protocol.ClientMessage) -> None:
        # The JSON forms' lengths are bounded before their base64 is decoded.
        if isinstance(message, protocol.VideoFrame):
            self._check_rate("video_frame", self._rates.video)
            if len(message.frame) > self._settings.max_frame_bytes * 4 // 3 + 64:
                raise ProtocolError("too_big", "video frame too big", CLOSE_TOO_BIG)
            await self._on_frame(decode_data_url(message.frame), None)
        elif isinstance(message, protocol.AudioChunk):
            self._check_rate("audio_chunk", self._rates.audio)
            if len(message.audio) > self._settings.max_audio_chunk_bytes * 4 // 3 + 4:
                raise ProtocolError("too_big", "audio chunk too big", CLOSE_TOO_BIG)
            await self._on_audio(decode_base64(message.audio, "audio"))
        else:
            self._check_rate("control", self._rates.control)
            await self._handler.on_control(message)

    def _check_rate(self, kind: str, bucket: TokenBucket) -> None:
        if bucket.allow():
            return
        self._metrics.dropped.labels("rate_limited").inc()
        if bucket.flooding:
            raise ProtocolError("rate_limited", f"{kind} flood: connection closed", CLOSE_POLICY)
        raise ProtocolError("rate_limited", f"too many {kind} messages: limit {bucket.rate:g}/s; extra ones dropped")
