"""One client WebSocket: the coordinator of its parts, its authentication and its life from open to close.

The parts, each with one job: the inbound guard (gateway/inbound.py: reading, limits, parsing, refusals
answered), the media pipeline (gateway/pipeline.py: consented frames and audio, the segmenter and its
turn ticker), the outbound queue (gateway/outbound.py: the send loop, notices, slow readers closed with
1013), barge-in (gateway/barge_in.py) and the session's publishes (gateway/publisher.py). What is left
here: authenticating and registering the socket, re-checking its login, forwarding the session's mesh
events, the control messages (typed text, preferences, greetings) and an orderly end, whatever ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

import msgspec
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from starlette.websockets import WebSocket, WebSocketDisconnect

from gateway import events, protocol, seed
from gateway.accounts.service import Identity
from gateway.barge_in import BargeIn
from gateway.inbound import CloseSocket, InboundGuard
from gateway.outbound import Outbound
from gateway.pipeline import MediaPipeline
from gateway.protocol import CLOSE_AUTH, CLOSE_TOO_MANY_SOCKETS, ProtocolError
from gateway.publisher import SessionPublisher
from gateway.replies import SessionReplies
from gateway.server_events import ConsentNow, Devices, Limits, LlmResponse, Pong, PreferencesNow, Ready
from gateway.speculation import EarlyRecognition
from gateway.state import GatewayState
from gateway.tasks import Background, describe, stop
from gateway.vad import Segmenter, SegmenterConfig
from mrrrme import keys, subjects
from mrrrme.contracts import Control, Preferences, SessionEnded, Transcript, Turn, new_id
from mrrrme.runtime import sync_with_server
from mrrrme.runtime.tracing import TRACEPARENT, TraceContext, span
from mrrrme.store import records

log = logging.getLogger("gateway.session")


class ClientSession:
    def __init__(self, ws: WebSocket, state: GatewayState, cookie_token: str = "") -> None:
        self.ws = ws
        self.state = state
        self.settings = s = state.settings
        self.session_id = new_id()
        self.identity: Identity | None = None
        self._cookie_token = cookie_token
        self._token = ""
        self.preferences = Preferences()
        self._background = Background(self.session_id)
        self._close_task: asyncio.Task[None] | None = None
        self._registered = False
        """Counted in `state.sessions` and the connections gauge: undone exactly once, in `_cleanup`."""
        self._started = False
        """The conversation row exists: its end must be recorded (SessionEnded)."""
        self._subscriptions: list[Subscription] = []
        self._closing: CloseSocket | None = None
        name = self.session_id[:8]
        self.mesh = SessionPublisher(state.nc, state.js, state.metrics, self.session_id)
        self.outbound = Outbound(ws, s, state.metrics, self.close_soon, name)
        self.barge_in = BargeIn(self.session_id, self.outbound.send, self.mesh.publish)
        self.replies = SessionReplies(state.js, self.session_id, self._on_event, self.mesh.publish)
        self.media = MediaPipeline(
            self.session_id,
            s,
            state.metrics,
            Segmenter(state.vad, SegmenterConfig.from_settings(s), turn=state.turn),
            publish_media=self.mesh.publish_media,
            notice=self.outbound.notice,
            speech_started=self.barge_in.speech_started,
            language=lambda: self.preferences.language,
            early=EarlyRecognition(
                self.session_id,
                self.mesh.request,
                lambda outcome: state.metrics.early_transcripts.labels(outcome).inc(),
                s.early_asr_timeout_s,
            )
            if s.speculative_asr
            else None,
        )
        self.inbound = InboundGuard(ws, s, state.metrics, self.outbound, self, self.media.on_frame, self.media.on_audio)

    @property
    def consent(self) -> dict[str, bool]:
        """Nothing from a device is processed until its consent is on record (TARGETS.md P5)."""
        return self.media.consent

    @property
    def authenticated(self) -> bool:
        return self.identity is not None

    @property
    def closing(self) -> CloseSocket | None:
        return self._closing

    # --- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        self.outbound.start()
        name = self.session_id[:8]
        watcher = asyncio.create_task(self._watch_login(), name=f"ws-login-{name}")
        ticker = asyncio.create_task(self.media.tick(), name=f"ws-turn-{name}")
        try:
            await self.inbound.receive()
        except CloseSocket as close:
            self._close_with(close)
        except WebSocketDisconnect:
            pass
        finally:
            # Nothing raised by a helper task (a send to a client that is gone, a failed close) may skip
            # the clean-up below: a skipped clean-up leaks the session, its subscriptions and its summary.
            try:
                await stop(watcher, ticker)
                if self._close_task is not None:
                    await asyncio.wait([self._close_task])  # closing already (logout, slow reader): let it end
                elif self._closing is not None:
                    await self.outbound.close(self._closing.code, self._closing.reason)
                await stop(self.outbound.sender, *self._background.tasks)
            finally:
                await self._cleanup()

    def _close_with(self, close: CloseSocket) -> None:
        self._closing = close
        self.outbound.seal()

    def close_soon(self, code: int, reason: str) -> None:
        """Ask the socket to close from another task (logout, shutdown, a client too slow to read)."""
        if self._closing is not None:
            return
        self._close_with(CloseSocket(code, reason))
        self._close_task = self._background.spawn(self.outbound.close(code, reason), "close")

    async def _watch_login(self) -> None:
        """Re-check the login while the socket is open: it ends with logout, expiry or the account."""
        while True:
            await asyncio.sleep(self.settings.token_recheck_s)
            if self.identity is not None and await self.state.accounts.verify(self._token) is None:
                self.outbound.notice_now("login_ended", "your login ended: log in again")
                self.close_soon(CLOSE_AUTH, "login ended")
                return

    async def _cleanup(self) -> None:
        self.outbound.drop_pending_notice()
        for sub in self._subscriptions:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subscriptions.clear()
        await self.replies.close()
        await self.media.close()
        self.state.reply_audio.drop_session(self.session_id)
        self.media.recording.reset()  # a WebM/Ogg decoder's state goes with the socket
        if self._registered:
            self._registered = False
            self.state.sessions.pop(self.session_id, None)
            self.state.metrics.connections.dec()
        if self._started:
            self._started = False
            with contextlib.suppress(Exception):
                await self.mesh.publish(
                    subjects.control(self.session_id), Control(session_id=self.session_id, action="end")
                )
            # Durable, retried with the same message id: the memory service writes this session's summary
            # even if it is down right now, and a retry after a lost ack is de-duplicated.
            try:
                await self.mesh.publish_durable(
                    subjects.session_ended(self.session_id),
                    SessionEnded(session_id=self.session_id),
                    msg_id=f"{self.session_id}:end",
                )
            except Exception as exc:
                log.warning("session %s: end not recorded: %s", self.session_id[:8], describe(exc))

    # --- authentication -------------------------------------------------------------------------

    async def authenticate(self, token: str) -> None:
        token = token or self._cookie_token  # a browser sends its HttpOnly login cookie with the handshake
        identity = await self.state.accounts.verify(token)
        if identity is None:
            self.outbound.notice_now("invalid_token", "invalid or expired token")
            raise CloseSocket(CLOSE_AUTH, "invalid token")
        cap = self.settings.max_sockets_per_user
        open_ = sum(1 for s in self.state.sessions.values() if s.identity and s.identity.user_id == identity.user_id)
        if open_ >= cap:
            self.state.metrics.rejected_handshakes.labels("sockets_per_user").inc()
            self.outbound.notice_now(
                "too_many_sockets", f"this account already has {open_} sockets open (at most {cap})"
            )
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
            consent = await records.current_consent(db, identity.user_id)
            summary = await records.latest_summary(db, identity.user_id)
            await records.start_conversation(db, self.session_id, identity.user_id, now)
        self.media.set_consent(camera=consent["camera"], microphone=consent["microphone"])
        self._started = True
        if summary:
            # For dialogue's prompts, as data: short-term state keyed by session like everything in Redis.
            await self.state.redis.set(keys.session_summary(self.session_id), summary, ex=24 * 3600)
        for subject in subjects.session_subjects(self.session_id):
            self._subscriptions.append(await self.state.nc.subscribe(subject, cb=self._on_event))
        await self.replies.start()  # reply audio: durable, each sentence once (gateway/replies.py)
        await sync_with_server(self.state.nc)  # registered at the server before the client hears `ready`
        s = self.settings
        self.outbound.send(
            Ready(
                session_id=self.session_id,
                username=identity.username,
                consent=Devices(camera=self.consent["camera"], microphone=self.consent["microphone"]),
                limits=Limits(
                    max_frame_bytes=s.max_frame_bytes,
                    max_audio_chunk_bytes=s.max_audio_chunk_bytes,
                    max_control_bytes=s.max_control_bytes,
                    video_fps=s.video_fps_limit,
                    audio_chunks_per_s=s.audio_chunks_per_s_limit,
                    idle_timeout_s=s.idle_timeout_s,
                ),
            )
        )

    def apply_consent(self, camera: bool, microphone: bool) -> None:
        self.media.set_consent(camera, microphone)
        self.outbound.send(ConsentNow(camera=camera, microphone=microphone))

    # --- the mesh's events for this session -----------------------------------------------------

    async def _on_event(self, msg: Msg) -> None:
        kind = subjects.kind(msg.subject)
        # The last stage of the unit's trace: the event reaches this socket's outbound queue.
        parent = TraceContext.parse((msg.headers or {}).get(TRACEPARENT))
        with span("gateway", f"process {kind}", parent, "consumer", {"mrrrme.kind": kind}):
            await self._forward(kind, msg)

    async def _forward(self, kind: str, msg: Msg) -> None:
        try:
            event = events.to_client(kind, msg.data)
        except (ValueError, msgspec.ValidationError) as exc:
            log.warning("session %s: unreadable %s event: %s", self.session_id[:8], kind, exc)
            return
        if isinstance(event, LlmResponse) and not self.barge_in.forward(event):
            return
        if isinstance(event, LlmResponse):
            seed.extend(event, self.state.reply_audio, self.session_id)  # the seed client's visemes, audio_url
        if not self.replies.admit(event):
            return  # the echo of a typed turn re-sent
        self.outbound.send(event)

    # --- control messages -----------------------------------------------------------------------

    async def on_control(self, message: protocol.ClientMessage) -> None:
        if isinstance(message, protocol.Ping):
            self.outbound.send(Pong())
        elif isinstance(message, protocol.Auth):
            self.outbound.notice("already_authenticated", "this socket is already authenticated")
        elif isinstance(message, protocol.SpeechEnd):
            await self.media.end_speech()
            if message.text is not None and message.text.strip():
                await self._typed(message.text.strip())
        elif isinstance(message, protocol.PreferencesUpdate):
            await self._update_preferences(message)
        elif isinstance(message, protocol.RequestGreeting):
            self._request_greeting()

    async def _typed(self, text: str) -> None:
        """Typed text (the text-only mode) goes to the mesh as a transcript."""
        if len(text) > 2000:
            raise ProtocolError("text_too_long", "typed text is limited to 2000 characters")
        transcript = Transcript(
            session_id=self.session_id,
            utterance_id=new_id(),
            text=text,
            source="typed",
            language=self.preferences.language,  # what the person said they write in
        )
        # The root of the typed turn's trace: every span of its reply, in every service, descends from it.
        with span("gateway", "receive speech_end", None, "server") as received:
            await self.mesh.publish(subjects.transcript(self.session_id), transcript, received.trace)
        self.replies.expect(transcript)  # re-sent until its reply comes

    async def _update_preferences(self, message: protocol.PreferencesUpdate) -> None:
        changes = {
            k: v for k in ("voice", "language", "personality", "style") if (v := getattr(message, k)) is not None
        }
        try:
            self.preferences = msgspec.convert({**msgspec.structs.asdict(self.preferences), **changes}, Preferences)
        except msgspec.ValidationError as exc:
            raise ProtocolError("invalid_message", f"preferences: {exc}") from None
        await self.mesh.publish(
            subjects.control(self.session_id),
            Control(session_id=self.session_id, action="preferences", preferences=self.preferences),
        )
        p = self.preferences
        self.outbound.send(PreferencesNow(voice=p.voice, language=p.language, personality=p.personality, style=p.style))

    def _request_greeting(self) -> None:
        # Beside the receive loop: while JetStream retries, audio and frames keep flowing.
        turn = Turn(session_id=self.session_id, turn_id=new_id(), kind="greeting", preferences=self.preferences)
        self._background.spawn(self._queue_greeting(turn), "greeting")

    async def _queue_greeting(self, turn: Turn) -> None:
        try:
            # Retried with the same message id (the turn id): a retry after a lost ack is de-duplicated.
            await self.mesh.publish_durable(subjects.turn(self.session_id), turn, msg_id=turn.turn_id)
        except Exception as exc:
            log.warning("session %s: greeting not queued: %s", self.session_id[:8], describe(exc))
            self.outbound.notice_now(
                "service_unavailable", "the greeting could not be queued right now: ask again later"
            )
            return
        if not await self.state.service_ready("dialogue"):
            self.outbound.notice_now(
                "service_unavailable",
                "the dialogue service is not running: the greeting waits until it starts",
            )
