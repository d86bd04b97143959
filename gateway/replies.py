"""One socket's replies, end to end: reply audio from JetStream shown once and in order, typed turns re-sent
until they are answered.

- **Reply audio** comes from the `MRRRME_REPLY_AUDIO` work queue through a durable consumer of this session
  only (filter `mrrrme.reply.audio.<sid>`, name `gw-<sid>`). A sentence is acknowledged once it was handed to
  the socket's outbound queue, so one that the broker or tts lost on the way is delivered again, and one that
  comes twice (tts killed after publishing, a turn replayed by dialogue) is recognised by (turn, sentence
  index) and dropped. Sentences of a turn go out in index order: one that arrives early (its predecessor is
  being redelivered after a worker died) waits up to `HOLD_S` for the gap to fill, then goes anyway.
- **Typed turns**: the transcript of typed text travels on core NATS (fusion joins it with its emotions), so
  a fusion or broker restart can lose it. Until the first sentence of its reply arrives it is published
  again with the same utterance id (`RESEND_AFTER_S`); fusion fuses an utterance once, JetStream keeps one
  turn per id, and the echo of a transcript already shown is not shown again (`admit`).

When the socket closes, the consumer is deleted and what it had not delivered is purged, with the session's
sentences tts has not spoken yet: nothing of a closed session waits in the streams (and whatever a killed
gateway leaves expires with the streams' max age).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from gateway import server_events
from mrrrme import subjects
from mrrrme.contracts import ReplyAudio, Transcript, decode

log = logging.getLogger("gateway.replies")

HOLD_S = 15.0
"""How long a sentence that came before its predecessor waits for it (longer than tts's ack wait plus a restart)."""
RESEND_AFTER_S = (3.0, 3.0, 4.0, 5.0, 10.0, 15.0, 20.0, 30.0, 30.0)
"""Seconds between re-sends of a typed turn's transcript while no reply has come (about 2 minutes in all):
often at first (a restarted fusion is back in seconds), then rarely."""
ACK_WAIT_S = 60.0
"""The consumer redelivers a sentence not acknowledged this long (the gateway's outbound queue took too long)."""
INACTIVE_S = 300.0
"""A consumer of a session whose gateway died is deleted by the server after this long."""
REMEMBERED_TURNS = 256


class _Turn:
    __slots__ = ("held", "next_index", "waiting_since")

    def __init__(self) -> None:
        self.next_index = 0
        self.held: dict[int, Msg] = {}
        self.waiting_since = 0.0


class SessionReplies:
    """The reply path of one session; `deliver` is the session's handler for a mesh event (`_on_event`)."""

    def __init__(
        self,
        js: JetStreamContext,
        session_id: str,
        deliver: Callable[[Msg], Awaitable[None]],
        publish: Callable[[str, msgspec.Struct], Awaitable[None]],
    ) -> None:
        self.js = js
        self.session_id = session_id
        self.subject = subjects.reply_audio(session_id)
        self.durable = f"gw-{session_id}"
        self._deliver = deliver
        self._publish = publish
        self._turns: OrderedDict[str, _Turn] = OrderedDict()
        self._shown_transcripts: OrderedDict[str, bool] = OrderedDict()
        self._unanswered: dict[str, tuple[Transcript, float, int]] = {}
        self._task: asyncio.Task[None] | None = None
        self._opened = False
        self._psub: JetStreamContext.PullSubscription | None = None
        self._away_since: float | None = None
        self.duplicates = 0
        """Sentences that came again and were not shown again (for tests and the log)."""

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        self._opened = True
        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT_S,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=self.subject,
            inactive_threshold=INACTIVE_S,
            max_deliver=-1,
        )
        psub = await self.js.pull_subscribe(
            self.subject, durable=self.durable, stream=subjects.REPLY_AUDIO_STREAM, config=config
        )
        self._psub = psub
        self._task = asyncio.create_task(self._run(psub), name=f"ws-replies-{self.session_id[:8]}")

    async def close(self) -> None:
        """Stop taking replies, delete the consumer and purge what it had not delivered."""
        if not self._opened:
            return
        self._opened = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._psub is not None:
            with contextlib.suppress(Exception):
                await self._psub.unsubscribe()
            self._psub = None
        self._unanswered.clear()
        with contextlib.suppress(NotFoundError, Exception):
            await self.js.delete_consumer(subjects.REPLY_AUDIO_STREAM, self.durable)
        with contextlib.suppress(NotFoundError, Exception):
            await self.js.purge_stream(subjects.REPLY_AUDIO_STREAM, subject=self.subject)
        # Sentences of this session not yet spoken: no one is left to hear them, so tts need not speak them.
        with contextlib.suppress(NotFoundError, Exception):
            await self.js.purge_stream(subjects.REPLY_STREAM, subject=subjects.reply_text(self.session_id))

    # --- typed turns ----------------------------------------------------------------------------

    def expect(self, transcript: Transcript) -> None:
        """A typed turn was published: re-send it until its reply comes."""
        self._shown_transcripts.setdefault(transcript.utterance_id, False)
        self._unanswered[transcript.utterance_id] = (transcript, time.monotonic() + RESEND_AFTER_S[0], 0)

    def admit(self, event: server_events.Event) -> bool:
        """False for an event already shown: the echo of a re-sent transcript."""
        if not isinstance(event, server_events.Transcript):
            return True
        if self._shown_transcripts.get(event.utterance_id):
            return False
        self._shown_transcripts[event.utterance_id] = True
        while len(self._shown_transcripts) > REMEMBERED_TURNS:
            self._shown_transcripts.popitem(last=False)
        return True

    async def _resend_due(self) -> None:
        now = time.monotonic()
        for uid, (transcript, due, attempt) in list(self._unanswered.items()):
            if now < due:
                continue
            if attempt + 1 >= len(RESEND_AFTER_S):
                self._unanswered.pop(uid, None)
                log.warning("session %s: a typed turn got no reply after %d re-sends", self.session_id[:8], attempt)
                continue
            self._unanswered[uid] = (transcript, now + RESEND_AFTER_S[attempt + 1], attempt + 1)
            with contextlib.suppress(Exception):  # the broker is away: the next round tries again
                await self._publish(subjects.transcript(self.session_id), transcript)

    # --- reply audio ----------------------------------------------------------------------------

    async def _run(self, psub: JetStreamContext.PullSubscription) -> None:
        while True:
            await self._resend_due()
            await self._release_overdue()
            try:
                msgs = await psub.fetch(1, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                self._back()
                continue
            except nats.errors.ConnectionClosedError:
                return
            except Exception as exc:  # the broker restarting: keep polling, the client reconnects
                if self._away_since is None:
                    self._away_since = time.monotonic()
                    log.warning("session %s: reply stream unreachable (%s); retrying", self.session_id[:8],
                                type(exc).__name__)  # fmt: skip
                await asyncio.sleep(0.5)
                continue
            self._back()
            for msg in msgs:
                await self._take(msg)

    def _back(self) -> None:
        if self._away_since is not None:
            log.warning("session %s: reply stream back after %.1f s", self.session_id[:8],
                        time.monotonic() - self._away_since)  # fmt: skip
            self._away_since = None

    async def _take(self, msg: Msg) -> None:
        try:
            audio = decode(msg.data, ReplyAudio)
        except Exception as exc:
            log.warning("session %s: unreadable reply audio: %s", self.session_id[:8], type(exc).__name__)
            await self._ack(msg)
            return
        self._unanswered.pop(audio.turn_id, None)
        turn = self._turns.get(audio.turn_id)
        if turn is None:
            turn = self._turns[audio.turn_id] = _Turn()
            while len(self._turns) > REMEMBERED_TURNS:
                self._turns.popitem(last=False)
        if audio.index < turn.next_index:
            self.duplicates += 1
            await self._ack(msg)
            return
        if audio.index > turn.next_index:
            if audio.index in turn.held:
                await self._ack(turn.held[audio.index])  # the same sentence twice: keep one
                self.duplicates += 1
            turn.held[audio.index] = msg
            turn.waiting_since = turn.waiting_since or time.monotonic()
            return
        await self._show(turn, msg)
        await self._show_held(turn)

    async def _show(self, turn: _Turn, msg: Msg) -> None:
        turn.next_index += 1
        try:
            await self._deliver(msg)
        except Exception as exc:  # the socket's own handler: one line, and the feed goes on
            log.warning("session %s: reply not forwarded: %s", self.session_id[:8], type(exc).__name__)
        await self._ack(msg)

    async def _show_held(self, turn: _Turn) -> None:
        while turn.next_index in turn.held:
            await self._show(turn, turn.held.pop(turn.next_index))
        turn.waiting_since = time.monotonic() if turn.held else 0.0

    async def _release_overdue(self) -> None:
        """A predecessor that has not come within `HOLD_S` is given up: the sentences after it go."""
        now = time.monotonic()
        for turn in self._turns.values():
            if turn.held and now - turn.waiting_since > HOLD_S:
                turn.next_index = min(turn.held)
                await self._show_held(turn)

    @staticmethod
    async def _ack(msg: Msg) -> None:
        with contextlib.suppress(Exception):  # not acked: redelivered, and recognised then
            await msg.ack()
