"""The gateway's reply path (gateway/replies.py): each sentence once and in order, typed turns re-sent."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from gateway import replies as replies_module
from gateway import server_events
from gateway.replies import SessionReplies
from mrrrme import subjects
from mrrrme.contracts import ReplyAudio, Transcript, decode, encode, new_id
from mrrrme.runtime.tracing import MSG_ID
from mrrrme.streams import ensure_streams


def audio(sid: str, turn: str, index: int, final: bool = False) -> ReplyAudio:
    return ReplyAudio(
        session_id=sid, turn_id=turn, index=index, text=f"s{index}", pcm=bytes(320), sample_rate=16000, visemes=[],
        final=final,
    )  # fmt: skip


class Shown:
    def __init__(self) -> None:
        self.items: list[tuple[str, int]] = []
        self.published: list[tuple[str, msgspec.Struct]] = []

    async def deliver(self, msg: Msg) -> None:
        reply = decode(msg.data, ReplyAudio)
        self.items.append((reply.turn_id, reply.index))

    async def publish(self, subject: str, message: msgspec.Struct) -> None:
        self.published.append((subject, message))


async def until(condition: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def test_sentences_are_shown_once_and_in_order_whatever_the_stream_brings(nc: NATS) -> None:
    js = nc.jetstream()
    await ensure_streams(js)
    sid, turn = new_id(), new_id()
    shown = Shown()
    feed = SessionReplies(js, sid, shown.deliver, shown.publish)
    await feed.start()
    try:
        # Index 1 before 0 (its tts died and 0 is redelivered later), 0 twice (a replay), 1 again.
        for index in (1, 0, 0, 1, 2):
            await nc.publish(subjects.reply_audio(sid), encode(audio(sid, turn, index, final=index == 2)))
        await until(lambda: len(shown.items) == 3)
        await asyncio.sleep(0.5)
        assert shown.items == [(turn, 0), (turn, 1), (turn, 2)]
        assert feed.duplicates == 2
    finally:
        await feed.close()
    # Closed: the consumer is gone and nothing of the session is left in the stream.
    info = await js.stream_info(subjects.REPLY_AUDIO_STREAM, subjects_filter=subjects.reply_audio(sid))
    assert not (info.state.subjects or {}).get(subjects.reply_audio(sid))


async def test_a_sentence_whose_predecessor_never_comes_is_shown_after_the_hold(
    nc: NATS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replies_module, "HOLD_S", 0.5)
    js = nc.jetstream()
    await ensure_streams(js)
    sid, turn = new_id(), new_id()
    shown = Shown()
    feed = SessionReplies(js, sid, shown.deliver, shown.publish)
    await feed.start()
    try:
        await js.publish(subjects.reply_audio(sid), encode(audio(sid, turn, 1, final=True)), headers={MSG_ID: "x"})
        await until(lambda: shown.items == [(turn, 1)], timeout=10)
    finally:
        await feed.close()


async def test_a_typed_turn_is_re_sent_until_its_reply_comes_and_its_echo_shown_once(
    nc: NATS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replies_module, "RESEND_AFTER_S", (0.2, 0.2, 0.2, 0.2, 0.2, 60.0))
    js = nc.jetstream()
    await ensure_streams(js)
    sid = new_id()
    shown = Shown()
    feed = SessionReplies(js, sid, shown.deliver, shown.publish)
    await feed.start()
    try:
        typed = Transcript(session_id=sid, utterance_id=new_id(), text="hello", source="typed")
        feed.expect(typed)
        await until(lambda: len(shown.published) >= 2, timeout=10)  # no reply yet: re-sent
        assert all(message == typed for _, message in shown.published)
        echo = server_events.Transcript(text="hello", language="en", utterance_id=typed.utterance_id,
                                        source="typed", words=[], ts=0.0)  # fmt: skip
        assert feed.admit(echo) and not feed.admit(echo)  # the echo of a re-send is not shown again
        await nc.publish(subjects.reply_audio(sid), encode(audio(sid, typed.utterance_id, 0, final=True)))
        await until(lambda: shown.items == [(typed.utterance_id, 0)])
        sent = len(shown.published)
        await asyncio.sleep(1.5)
        assert len(shown.published) == sent  # answered: no more re-sends
    finally:
        await feed.close()
