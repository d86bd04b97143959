"""One client WebSocket: authentication, limits, media into the mesh, the session's events back out.

The order of checks is the security model (DESIGN.md section 7): origin (before accept, in app.py),
then authentication within a deadline before any media is looked at, then per-type size and rate
limits, then content checks. Every refused message gets an `error` event saying why; only abuse
(oversized, flooding, unauthenticated media) closes the socket. Other sockets never notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import ConnectionClosedError, OutboundBufferLimitError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from gateway import events, protocol
from gateway.accounts.service import Identity
from gateway.media import check_pcm16, decode_base64, decode_data_url, inspect_jpeg
from gateway.protocol import (
    CLOSE_AUTH,
    CLOSE_NORMAL,
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    CLOSE_TOO_MANY_SOCKETS,
    CLOSE_TRY_LATER,
    ProtocolError,
)
from gateway.ratelimit import TokenBucket
from gateway.vad import Segmenter, SegmenterConfig, SegmentEvent
from mrrrme import keys, subjects
from mrrrme.contracts import Control, Frame, Preferences, SessionEnded, Transcript, Turn, Utterance, encode, new_id
from mrrrme.interrupts import Interrupts
from mrrrme.runtime import publish_durable, sync_with_server
from mrrrme.runtime.tracing import TraceContext, make_headers
from mrrrme.store import records

if TYPE_CHECKING:
    from gateway.state import GatewayState

log = logging.getLogger("gateway.session")

BARGE_IN_GRACE_S = 0.5
"""Speech this soon after the last reply audio should have finished still counts as talking over it."""
TICK_S = 0.04
"""How often the session asks its segmenter whether a turn ended between audio chunks (one chunk is 40 ms)."""
CLOSE_FLUSH_S = 1.0
"""How long a closing socket may spend sending the notices that explain the close."""


class CloseSocket(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class Limits:
    video: TokenBucket
    audio: TokenBucket
    control: TokenBucket
    notices: TokenBucket = field(default_factory=lambda: TokenBucket(5.0, 20.0))
    """Error notices: every honest mistake is answered, a flood of them is not answered by a flood."""


class ClientSession:
    def __init__(self, ws: WebSocket, state: GatewayState, cookie_token: str = "") -> None:
        self.ws = ws
        self.state = state
        self.settings = state.settings
        self.session_id = new_id()
        self.identity: Identity | None = None
        self._cookie_token = cookie_token
        self._token = ""
        self.consent: dict[str, bool] = {"camera": False, "microphone": False}
        """Nothing from a device is processed until its consent is on record (TARGETS.md P5)."""
        self.preferences = Preferences()
        # Bounded by count and by bytes in `_enqueue` (TARGETS W8): a client that stops reading costs at
        # most `outbound_queue` events / `outbound_queue_bytes` here plus the transport's own buffer.
        self._outbound: asyncio.Queue[str] = asyncio.Queue()
        self._outbound_bytes = 0
        self._tasks: set[asyncio.Task[None]] = set()
        """Background work of this socket (closing, greeting): kept so that failures are seen and logged."""
        self._sender: asyncio.Task[None] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._registered = False
        """Counted in `state.sessions` and the connections gauge: undone exactly once, in `_cleanup`."""
        self._started = False
        """The conversation row exists: its end must be recorded (SessionEnded)."""
        self._refused_unanswered = 0
        """Refused messages whose notice the notice limit swallowed since the last notice went out."""
        self._last_refusal: tuple[str, str] | None = None
        self._refusal_timer: asyncio.TimerHandle | None = None
        self._subscriptions: list[Subscription] = []
        self._frame_seq = 0
        self._closing: CloseSocket | None = None
        s = self.settings
        self._limits = Limits(
            video=TokenBucket(s.video_fps_limit, s.video_fps_limit),
            audio=TokenBucket(s.audio_chunks_per_s_limit, s.audio_chunks_per_s_limit),
            control=TokenBucket(s.control_per_s_limit, s.control_per_s_limit * 2),
        )
        self._segmenter = Segmenter(state.vad, SegmenterConfig.from_settings(s), turn=state.turn)
        self._trace = TraceContext.new()
        # Barge-in: until when the client is (by our count) playing reply audio, and of which turn.
        self._speaking_until = 0.0
        self._speaking_turn: str | None = None
        self._interrupted = Interrupts(64)

    # --- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        self._sender = asyncio.create_task(self._send_loop(), name=f"ws-send-{self.session_id[:8]}")
        watcher = asyncio.create_task(self._watch_login(), name=f"ws-login-{self.session_id[:8]}")
        ticker = asyncio.create_task(self._tick_segmenter(), name=f"ws-turn-{self.session_id[:8]}")
        try:
            await self._receive_loop()
        except CloseSocket as close:
            self._closing = close
        except WebSocketDisconnect:
            pass
        finally:
            # Nothing raised by a helper task (a send to a client that is gone, a failed close) may skip
            # the clean-up below: a skipped clean-up leaks the session, its subscriptions and its summary.
            try:
                await _stop(watcher, ticker)
                if self._close_task is not None:
                    await asyncio.wait([self._close_task])  # closing already (logout, slow reader): let it end
                elif self._closing is not None:
                    await self._close(self._closing)
                await _stop(self._sender, *self._tasks)
            finally:
                await self._cleanup()

    async def _tick_segmenter(self) -> None:
        """The end of a turn does not wait for the next audio chunk: the turn model's answer is acted on
        as soon as it is there, and a client that stops streaming after its last words still gets its
        utterance once the silence limit has passed."""
        while True:
            await asyncio.sleep(TICK_S)
            segments = self._segmenter.tick()
            if segments:
                await self._on_segments(segments)

    async def _watch_login(self) -> None:
        """Re-check the login while the socket is open: it ends with logout, expiry or the account."""
        while True:
            await asyncio.sleep(self.settings.token_recheck_s)
            if self.identity is not None and await self.state.accounts.verify(self._token) is None:
                self._notice_now("login_ended", "your login ended: log in again")
                self.close_soon(CLOSE_AUTH, "login ended")
                return

    async def _receive_loop(self) -> None:
        opened = time.monotonic()
        while True:
            if self.identity is None:
                timeout = self.settings.auth_deadline_s - (time.monotonic() - opened)
                if timeout <= 0:
                    raise CloseSocket(CLOSE_AUTH, "authentication deadline passed")
            else:
                timeout = self.settings.idle_timeout_s
            try:
                message = await asyncio.wait_for(self.ws.receive(), timeout)
            except TimeoutError:
                if self.identity is None:
                    self._notice_now("auth_timeout", "no auth message within the deadline")
                    raise CloseSocket(CLOSE_AUTH, "authentication deadline passed") from None
                raise CloseSocket(CLOSE_NORMAL, "idle timeout") from None
            if message["type"] == "websocket.disconnect":
                return
            if self._closing is not None:
                raise self._closing
            if message.get("text") is not None:
                await self._on_text(message["text"])
            elif message.get("bytes") is not None:
                await self._on_binary(message["bytes"])

    async def _close(self, close: CloseSocket) -> None:
        """Send what explains the close, then the close frame; never waits long on a client that is gone."""
        if self.ws.application_state != WebSocketState.CONNECTED:
            return  # closed already (by another task, or the client left)
        self.state.metrics.closes.labels(str(close.code)).inc()
        # The sender may be blocked on a client that stopped reading: stop it, flush here with a deadline.
        if self._sender is not None and self._sender is not asyncio.current_task():
            await _stop(self._sender)
        with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
            async with asyncio.timeout(CLOSE_FLUSH_S):
                while not self._outbound.empty() and self.ws.application_state == WebSocketState.CONNECTED:
                    await self.ws.send_text(self._outbound.get_nowait())
        if self.ws.application_state == WebSocketState.CONNECTED:
            # The server's WebSocket protocol (gateway/server.py) writes a close frame without waiting for a
            # reader that is not there, and drops the connection if the close is not answered in time.
            with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
                await asyncio.wait_for(self.ws.close(close.code, close.reason), CLOSE_FLUSH_S)

    async def _cleanup(self) -> None:
        if self._refusal_timer is not None:
            self._refusal_timer.cancel()
        for sub in self._subscriptions:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subscriptions.clear()
        if self._registered:
            self._registered = False
            self.state.sessions.pop(self.session_id, None)
            self.state.metrics.connections.dec()
        if self._started:
            self._started = False
            with contextlib.suppress(Exception):
                await self._publish(
                    subjects.control(self.session_id), Control(session_id=self.session_id, action="end")
                )
            # Durable, retried with the same message id: the memory service writes this session's summary
            # even if it is down right now, and a retry after a lost ack is de-duplicated.
            msg_id = f"{self.session_id}:end"
            try:
                await publish_durable(
                    self.state.js,
                    subjects.session_ended(self.session_id),
                    encode(SessionEnded(session_id=self.session_id)),
                    make_headers(self.session_id, msg_id, self._trace.child()),
                )
            except Exception as exc:
                log.warning("session %s: end not recorded: %s", self.session_id[:8], _describe(exc))

    def close_soon(self, code: int, reason: str) -> None:
        """Ask the socket to close from another task (logout, shutdown, a client too slow to read)."""
        if self._closing is not None:
            return
        self._closing = CloseSocket(code, reason)
        self._close_task = self._spawn(self._close(self._closing), "close")

    def _spawn(self, work: Coroutine[Any, Any, None], what: str) -> asyncio.Task[None] | None:
        """Run `work` beside the receive loop, keeping a reference and logging a failure once."""
        try:
            task = asyncio.get_running_loop().create_task(work, name=f"ws-{what}-{self.session_id[:8]}")
        except RuntimeError:  # no running loop: the server is gone, nothing left to do
            work.close()
            return None
        self._tasks.add(task)
        task.add_done_callback(self._background_done)
        return task

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("session %s: %s failed: %s", self.session_id[:8], task.get_name(), _describe(exc))

    # --- outbound -------------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        while True:
            text = await self._outbound.get()
            self._outbound_bytes -= len(text)
            await self.ws.send_text(text)

    def send(self, kind: str, **fields: Any) -> None:
        self._enqueue(kind, protocol.server_message(kind, **fields).decode())

    def _enqueue(self, kind: str, text: str) -> None:
        if self._closing is not None:
            return  # nothing more goes out after the reason for the close
        full = self._outbound.qsize() >= self.settings.outbound_queue
        if full or self._outbound_bytes + len(text) > self.settings.outbound_queue_bytes:
            self.state.metrics.dropped.labels("slow_client").inc()
            if kind in events.CRITICAL:
                # The client is not reading: better a clear close than silently losing a reply. Closing
                # also stops the mesh working for a reader that is not there (TARGETS W8).
                self.close_soon(CLOSE_TRY_LATER, "client too slow: outbound queue full")
            return
        self._outbound.put_nowait(text)
        self._outbound_bytes += len(text)
        self.state.metrics.events.labels(kind).inc()

    def _notice_now(self, code: str, message: str) -> None:
        """An error notice that always goes out; it carries the count of refusals the limit swallowed."""
        unanswered, self._refused_unanswered = self._refused_unanswered, 0
        self.send("error", code=code, message=message, source="gateway", refused_since=unanswered)

    def _notice(self, code: str, message: str) -> None:
        """An error notice about a refused message, itself rate-limited: a flood of refusals is not
        answered by a flood, but each one is counted, and the next notice says how many there were
        (`refused_since`). If no next one comes, a timer sends it when the limit allows."""
        if self._limits.notices.allow():
            self._notice_now(code, message)
            return
        self._refused_unanswered += 1
        self._last_refusal = (code, message)
        if self._refusal_timer is None:
            delay = self._limits.notices.wait_s()
            self._refusal_timer = asyncio.get_running_loop().call_later(delay, self._answer_refusals)

    def _answer_refusals(self) -> None:
        self._refusal_timer = None
        if self._refused_unanswered == 0 or self._last_refusal is None:
            return
        if not self._limits.notices.allow():
            delay = self._limits.notices.wait_s()
            self._refusal_timer = asyncio.get_running_loop().call_later(delay, self._answer_refusals)
            return
        # The notice for the last refused message, counting the others since the previous notice.
        self._refused_unanswered -= 1
        self._notice_now(*self._last_refusal)

    async def _on_event(self, msg: Msg) -> None:
        kind = subjects.kind(msg.subject)
        try:
            payload = events.to_client(kind, msg.data)
        except (ValueError, msgspec.ValidationError) as exc:
            log.warning("session %s: unreadable %s event: %s", self.session_id[:8], kind, exc)
            return
        if payload["type"] == "llm_response":
            if payload["turn_id"] in self._interrupted:
                return  # synthesized before the interrupt reached tts: never play it
            now = time.monotonic()
            self._speaking_until = max(now, self._speaking_until) + float(payload["duration"])
            self._speaking_turn = str(payload["turn_id"])
        self._enqueue(str(payload["type"]), msgspec.json.encode(payload).decode())

    # --- inbound --------------------------------------------------------------------------------

    async def _on_text(self, text: str) -> None:
        limit = self.settings.max_frame_bytes * 4 // 3 + 1024  # a base64 frame in JSON
        if len(text) > limit:
            self._notice_now("too_big", f"message of {len(text)} bytes exceeds {limit}")
            raise CloseSocket(CLOSE_TOO_BIG, "message too big")
        try:
            message = protocol.parse_client_message(text)
        except ProtocolError as exc:
            if self.identity is None:
                self._notice_now(exc.code, exc.message)
                raise CloseSocket(CLOSE_AUTH, "authenticate first") from None
            self.state.metrics.messages.labels("invalid", exc.code).inc()
            self._notice(exc.code, exc.message)
            return
        kind = message.__struct_config__.tag
        if (
            not isinstance(message, protocol.VideoFrame | protocol.AudioChunk)
            and len(text) > self.settings.max_control_bytes
        ):
            self._notice_now("too_big", f"{kind} message exceeds {self.settings.max_control_bytes} bytes")
            raise CloseSocket(CLOSE_TOO_BIG, "message too big")
        if self.identity is None:
            if isinstance(message, protocol.Auth):
                await self._authenticate(message.token)
                return
            if isinstance(message, protocol.Ping):
                self.send("pong")
                return
            self._notice_now("auth_required", f"send an auth message before {kind}")
            raise CloseSocket(CLOSE_AUTH, "authenticate first")
        try:
            await self._dispatch(message)
        except ProtocolError as exc:
            self.state.metrics.messages.labels(str(kind), exc.code).inc()
            if exc.close_code is not None:
                self._notice_now(exc.code, exc.message)
                raise CloseSocket(exc.close_code, exc.message) from None
            self._notice(exc.code, exc.message)

    async def _on_binary(self, data: bytes) -> None:
        if self.identity is None:
            self._notice_now("auth_required", "send an auth message before media")
            raise CloseSocket(CLOSE_AUTH, "authenticate first")
        try:
            kind, seq, payload = protocol.unpack_binary(data)
            if kind == "video_frame":
                await self._on_frame(payload, seq)
            else:
                await self._on_audio(payload)
        except ProtocolError as exc:
            self.state.metrics.messages.labels("binary", exc.code).inc()
            if exc.close_code is not None:
                self._notice_now(exc.code, exc.message)
                raise CloseSocket(exc.close_code, exc.message) from None
            self._notice(exc.code, exc.message)

    async def _dispatch(self, message: protocol.ClientMessage) -> None:
        if isinstance(message, protocol.VideoFrame):
            self._check_rate("video_frame", self._limits.video)
            if len(message.frame) > self.settings.max_frame_bytes * 4 // 3 + 64:
                raise ProtocolError("too_big", "video frame too big", CLOSE_TOO_BIG)
            await self._on_frame(decode_data_url(message.frame), None, rate_checked=True)
        elif isinstance(message, protocol.AudioChunk):
            self._check_rate("audio_chunk", self._limits.audio)
            if len(message.audio) > self.settings.max_audio_chunk_bytes * 4 // 3 + 4:
                raise ProtocolError("too_big", "audio chunk too big", CLOSE_TOO_BIG)
            await self._on_audio(decode_base64(message.audio, "audio"), rate_checked=True)
        else:
            self._check_rate("control", self._limits.control)
            await self._on_control(message)

    def _check_rate(self, kind: str, bucket: TokenBucket) -> None:
        if bucket.allow():
            return
        self.state.metrics.dropped.labels("rate_limited").inc()
        if bucket.flooding:
            raise ProtocolError("rate_limited", f"{kind} flood: connection closed", CLOSE_POLICY)
        raise ProtocolError("rate_limited", f"too many {kind} messages: limit {bucket.rate:g}/s; extra ones dropped")

    async def _authenticate(self, token: str) -> None:
        token = token or self._cookie_token  # a browser sends its HttpOnly login cookie with the handshake
        identity = await self.state.accounts.verify(token)
        if identity is None:
            self._notice_now("invalid_token", "invalid or expired token")
            raise CloseSocket(CLOSE_AUTH, "invalid token")
        cap = self.settings.max_sockets_per_user
        open_ = sum(1 for s in self.state.sessions.values() if s.identity and s.identity.user_id == identity.user_id)
        if open_ >= cap:
            self.state.metrics.rejected_handshakes.labels("sockets_per_user").inc()
            self._notice_now("too_many_sockets", f"this account already has {open_} sockets open (at most {cap})")
            raise CloseSocket(CLOSE_TOO_MANY_SOCKETS, "too many sockets for this account")
        # Counted before the first await below, so that two sockets authenticating at once cannot both
        # pass the cap; `_cleanup` undoes it whatever happens next.
        self.identity = identity
        self._token = token
        self.state.sessions[self.session_id] = self
        self.state.metrics.connections.inc()
        self._registered = True
        now = dt.datetime.now(dt.UTC)
        async with self.state.db.session() as db:
            self.consent = await records.current_consent(db, identity.user_id)
            summary = await records.latest_summary(db, identity.user_id)
            await records.start_conversation(db, self.session_id, identity.user_id, now)
        self._started = True
        if summary:
            # For dialogue's prompts, as data: short-term state keyed by session like everything in Redis.
            await self.state.redis.set(keys.session_summary(self.session_id), summary, ex=24 * 3600)
        for subject in subjects.session_subjects(self.session_id):
            self._subscriptions.append(await self.state.nc.subscribe(subject, cb=self._on_event))
        await sync_with_server(self.state.nc)  # registered at the server before the client hears `ready`
        s = self.settings
        self.send(
            "ready",
            session_id=self.session_id,
            username=identity.username,
            consent=self.consent,
            limits={
                "max_frame_bytes": s.max_frame_bytes,
                "max_audio_chunk_bytes": s.max_audio_chunk_bytes,
                "max_control_bytes": s.max_control_bytes,
                "video_fps": s.video_fps_limit,
                "audio_chunks_per_s": s.audio_chunks_per_s_limit,
                "idle_timeout_s": s.idle_timeout_s,
            },
        )

    # --- media ----------------------------------------------------------------------------------

    def apply_consent(self, camera: bool, microphone: bool) -> None:
        withdrawn_mic = self.consent["microphone"] and not microphone
        self.consent = {"camera": camera, "microphone": microphone}
        if withdrawn_mic:
            self._segmenter.reset()  # speech heard before the withdrawal is not sent on afterwards
        self.send("consent", camera=camera, microphone=microphone)

    def _consented(self, device: str, kind: str) -> bool:
        if self.consent[device]:
            return True
        self.state.metrics.dropped.labels("no_consent").inc()
        self._notice("consent_required", f"{kind} dropped: no {device} consent on record (PUT /api/consent)")
        return False

    async def _on_frame(self, jpeg: bytes, seq: int | None, rate_checked: bool = False) -> None:
        if not rate_checked:
            self._check_rate("video_frame", self._limits.video)
        if not self._consented("camera", "video frame"):
            return
        if len(jpeg) > self.settings.max_frame_bytes:
            raise ProtocolError("too_big", f"frame exceeds {self.settings.max_frame_bytes} bytes", CLOSE_TOO_BIG)
        width, height = inspect_jpeg(jpeg, self.settings.max_frame_pixels)
        self._frame_seq = seq if seq is not None else self._frame_seq + 1
        frame = Frame(session_id=self.session_id, seq=self._frame_seq, jpeg=jpeg, width=width, height=height)
        await self._publish_media(subjects.frame(self.session_id), frame)
        self.state.metrics.messages.labels("video_frame", "ok").inc()

    async def _on_audio(self, pcm: bytes, rate_checked: bool = False) -> None:
        if not rate_checked:
            self._check_rate("audio_chunk", self._limits.audio)
        if len(pcm) > self.settings.max_audio_chunk_bytes:
            raise ProtocolError(
                "too_big", f"audio chunk exceeds {self.settings.max_audio_chunk_bytes} bytes", CLOSE_TOO_BIG
            )
        check_pcm16(pcm)
        if not self._consented("microphone", "audio"):
            return
        started = time.perf_counter()
        segments = self._segmenter.feed(pcm)
        self.state.metrics.vad_seconds.observe(time.perf_counter() - started)
        self.state.metrics.messages.labels("audio_chunk", "ok").inc()
        await self._on_segments(segments)

    async def _on_segments(self, segments: list[SegmentEvent]) -> None:
        for segment in segments:
            if segment.kind == "speech_start":
                await self._barge_in()
            if segment.kind == "utterance":
                utterance = Utterance(
                    session_id=self.session_id,
                    utterance_id=new_id(),
                    pcm=segment.pcm,
                    started_at=segment.started_at,
                    ended_at=segment.ended_at,
                    language=self.preferences.language,
                )
                await self._publish_media(subjects.utterance(self.session_id), utterance)
                self.state.metrics.utterances.inc()

    async def _barge_in(self) -> None:
        """The user started speaking over a reply: stop the client now and the rest of the turn upstream."""
        if self._speaking_turn is None or time.monotonic() > self._speaking_until + BARGE_IN_GRACE_S:
            return
        turn_id, self._speaking_turn, self._speaking_until = self._speaking_turn, None, 0.0
        self._interrupted.add(turn_id)
        self.send("interrupt", turn_id=turn_id)
        await self._publish(
            subjects.control(self.session_id), Control(session_id=self.session_id, action="interrupt", turn_id=turn_id)
        )

    async def _on_control(self, message: protocol.ClientMessage) -> None:
        if isinstance(message, protocol.Ping):
            self.send("pong")
        elif isinstance(message, protocol.Auth):
            self._notice("already_authenticated", "this socket is already authenticated")
        elif isinstance(message, protocol.SpeechEnd):
            await self._on_segments(self._segmenter.flush())
            if message.text is not None and message.text.strip():
                text = message.text.strip()
                if len(text) > 2000:
                    raise ProtocolError("text_too_long", "typed text is limited to 2000 characters")
                transcript = Transcript(
                    session_id=self.session_id,
                    utterance_id=new_id(),
                    text=text,
                    source="typed",
                    language=self.preferences.language,  # what the person said they write in
                )
                await self._publish(subjects.transcript(self.session_id), transcript)
        elif isinstance(message, protocol.PreferencesUpdate):
            await self._update_preferences(message)
        elif isinstance(message, protocol.RequestGreeting):
            await self._request_greeting()

    async def _update_preferences(self, message: protocol.PreferencesUpdate) -> None:
        changes = {
            k: v for k in ("voice", "language", "personality", "style") if (v := getattr(message, k)) is not None
        }
        try:
            self.preferences = msgspec.convert({**msgspec.structs.asdict(self.preferences), **changes}, Preferences)
        except msgspec.ValidationError as exc:
            raise ProtocolError("invalid_message", f"preferences: {exc}") from None
        await self._publish(
            subjects.control(self.session_id),
            Control(session_id=self.session_id, action="preferences", preferences=self.preferences),
        )
        self.send("preferences", **msgspec.structs.asdict(self.preferences))

    async def _request_greeting(self) -> None:
        # Beside the receive loop: while JetStream retries, audio and frames keep flowing.
        turn = Turn(session_id=self.session_id, turn_id=new_id(), kind="greeting", preferences=self.preferences)
        self._spawn(self._queue_greeting(turn), "greeting")

    async def _queue_greeting(self, turn: Turn) -> None:
        headers = make_headers(self.session_id, turn.turn_id, self._trace.child())
        try:
            # Retried with the same message id (the turn id): a retry after a lost ack is de-duplicated.
            await publish_durable(self.state.js, subjects.turn(self.session_id), encode(turn), headers)
        except Exception as exc:
            log.warning("session %s: greeting not queued: %s", self.session_id[:8], _describe(exc))
            self._notice_now("service_unavailable", "the greeting could not be queued right now: ask again later")
            return
        if not await self.state.service_ready("dialogue"):
            self._notice_now(
                "service_unavailable",
                "the dialogue service is not running: the greeting waits until it starts",
            )

    async def _publish(self, subject: str, message: msgspec.Struct) -> None:
        headers = make_headers(self.session_id, new_id(), self._trace.child())
        await self.state.nc.publish(subject, encode(message), headers=headers)

    async def _publish_media(self, subject: str, message: msgspec.Struct) -> None:
        """Perishable media: if NATS is away and the client buffer is full, drop it and count it."""
        try:
            await self._publish(subject, message)
        except (OutboundBufferLimitError, ConnectionClosedError):
            self.state.metrics.dropped.labels("nats_unavailable").inc()


async def _stop(*tasks: asyncio.Task[None] | None) -> None:
    """Cancel and wait for tasks; what they raised (a client gone mid-send, say) is theirs, not ours."""
    pending = [task for task in tasks if task is not None and task is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    results = await asyncio.gather(*pending, return_exceptions=True)
    for task, result in zip(pending, results, strict=True):
        if isinstance(result, Exception) and not isinstance(result, WebSocketDisconnect | OSError):
            log.warning("%s ended with %s", task.get_name(), _describe(result))


def _describe(exc: BaseException) -> str:
    """One line for a log: the type and the message, never a traceback (nor a payload)."""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
